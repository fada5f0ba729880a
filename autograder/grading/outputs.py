"""Everything written after a batch: grades.csv, per-student feedback, Gradescope files, the cohort report."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading import pages, records, report, sections
from autograder.grading.model import SANDBOXED, Result, RunSummary

#: Captured output shown on a feedback page: (key in result["output"], heading).
OUTPUT_BLOCKS = (("cell_errors", "Errors while running your cells"), ("stdout", "Printed output"),
                 ("stderr", "Warnings and errors printed"), ("truncated", "Output cut"))


def feedback_path(assignment: Assignment, student_id: str) -> PurePosixPath:
    """Where a student's feedback page lives, relative to OUT (nbgrader's feedback layout)."""
    return PurePosixPath("feedback", student_id, assignment.id, f"{Path(assignment.notebook).stem}.html")


def feedback_rows(result: Result, assignment: Assignment, book: str) -> list[dict[str, Any]]:
    """The page's rows: failures first (then partial credit, then passes), each with its book section's link."""
    functions = {q.grade_id: q.functions for q in assignment.questions}
    order = {"passed": 2, "partial": 1}
    rows = sorted(result.rows, key=lambda r: order.get(r.status, 0))  # stable: question order within a kind
    out = []
    for row in rows:
        section = sections.section_for(functions.get(row.grade_id, ()))
        out.append({"row": row, "failing": row.status not in order, "topic": section.topic if section else "",
                    "link": sections.link(section, book) if section and book else ""})
    return out


def feedback_html(result: Result, assignment: Assignment, sandbox_name: str, book: str = "") -> str:
    """One student's feedback page: failures first, each question linked to its book section at `book`, notes,
    a short case label (not the seed), and captured output (once)."""
    output = result.output
    blocks = [(title, str(output[key])) for key, title in OUTPUT_BLOCKS if output.get(key)]
    rows = feedback_rows(result, assignment, book)
    return pages.render("feedback.html.j2", assignment=assignment.id, student=result.student_id,
                        sandboxed=sandbox_name == SANDBOXED, sandbox=sandbox_name, total=result.total,
                        max_score=assignment.max_score, late=result.late, case=pages.case_label(result.seed),
                        rows=rows, failing=[r["row"].grade_id for r in rows if r["row"].status != "passed"],
                        notes=list(result.notes), blocks=blocks)


def _gradescope(result: Result) -> dict[str, Any]:
    """Gradescope's results.json for one student (one test per graded cell)."""
    tests = [{"name": r.grade_id, "score": r.score, "max_score": r.max_score, "status":
              "passed" if r.status == "passed" else "failed", "output": f"{r.status}: {r.message}"}
             for r in result.rows]
    return {"score": result.total, "execution_time": result.seconds,
            "output": "; ".join(result.notes), "tests": tests, "visibility": "after_published"}


def write_all(out: Path, assignment: Assignment, results: dict[str, Result], summary: RunSummary) -> None:
    """grades.csv, feedback/, gradescope/ and report.html for all results so far (each written atomically)."""
    records.atomic_write(out / "grades.csv", records.csv_bytes(results))
    book_url = sections.book_url()
    for student_id, result in results.items():
        book = sections.book_base(out / feedback_path(assignment, student_id).parent, book_url)
        page = feedback_html(result, assignment, result.sandbox or summary.sandbox_name, book)
        records.atomic_write(out / feedback_path(assignment, student_id), page.encode())
        records.atomic_write(out / "gradescope" / student_id / "results.json",
                             json.dumps(_gradescope(result), indent=1).encode())
    records.atomic_write(out / "report.html", report.render(assignment, results, summary).encode())


def summary_line(results: dict[str, Result], summary: RunSummary, workers: int) -> str:
    """The one line printed at the end of a batch (its counts are the report's: report.cohort)."""
    count = max(summary.graded, 1)
    counts = report.cohort(results)
    return (f"graded {summary.graded} submission(s) in {summary.elapsed:.1f} s ({summary.elapsed / count:.2f} s "
            f"each, {workers} worker(s), sandbox: {summary.sandbox_name}); {summary.resumed} kept from before; "
            f"{len(counts.results)} students, {len(counts.handed_in)} submitted, mean total {counts.mean:.2f} over "
            f"them; students by outcome: {counts.outcome_text() or 'none'}; grading key fingerprint {summary.key_id}")
