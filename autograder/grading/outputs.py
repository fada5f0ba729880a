"""Everything written after a batch: grades.csv, per-student feedback, Gradescope files, the cohort report."""

from __future__ import annotations

import collections
import json
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading import pages, records, report

#: Captured output shown on a feedback page: (key in result["output"], heading).
OUTPUT_BLOCKS = (("cell_errors", "Errors while running your cells"), ("stdout", "Printed output"),
                 ("stderr", "Warnings and errors printed"), ("truncated", "Output cut"))


def feedback_path(assignment: Assignment, student_id: str) -> PurePosixPath:
    """Where a student's feedback page lives, relative to OUT (nbgrader's feedback layout)."""
    return PurePosixPath("feedback", student_id, assignment.id, f"{Path(assignment.notebook).stem}.html")


def feedback_html(result: dict[str, Any], assignment: Assignment, sandbox_name: str) -> str:
    """One student's feedback page: a row per graded cell, notes, the seed, and captured output (once)."""
    output = result.get("output") or {}
    blocks = [(title, str(output[key])) for key, title in OUTPUT_BLOCKS if output.get(key)]
    return pages.render("feedback.html.j2", assignment=assignment.id, student=result["student_id"],
                        sandboxed=sandbox_name == "bubblewrap", sandbox=sandbox_name, total=records.total(result),
                        max_score=assignment.max_score, late=bool(result.get("late")), seed=result.get("seed"),
                        rows=result["rows"], notes=list(result.get("notes") or []), blocks=blocks)


def _gradescope(result: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json for one student (one test per graded cell)."""
    tests = [{"name": r.grade_id, "score": r.score, "max_score": r.max_score, "status":
              "passed" if r.status == "passed" else "failed", "output": f"{r.status}: {r.message}"}
             for r in result["rows"]]
    return {"score": records.total(result), "execution_time": result.get("seconds", 0.0),
            "output": "; ".join(result.get("notes", [])), "tests": tests, "visibility": "after_published"}


def write_all(out: Path, assignment: Assignment, results: dict[str, dict[str, Any]], ctx: dict[str, Any]) -> None:
    """grades.csv, feedback/, gradescope/ and report.html for all results so far (each written atomically)."""
    records.atomic_write(out / "grades.csv", records.csv_bytes(results))
    for student_id, result in results.items():
        page = feedback_html(result, assignment, result.get("sandbox", ctx["sandbox_name"]))
        records.atomic_write(out / feedback_path(assignment, student_id), page.encode())
        records.atomic_write(out / "gradescope" / student_id / "results.json",
                             json.dumps(_gradescope(result), indent=1).encode())
    records.atomic_write(out / "report.html", report.render(assignment, results, ctx).encode())


def summary_line(results: dict[str, dict[str, Any]], ctx: dict[str, Any], workers: int) -> str:
    """The one line printed at the end of a batch."""
    count = max(ctx["graded"], 1)
    statuses = collections.Counter(row.status for r in results.values() for row in r["rows"])
    totals = [records.total(r) for r in results.values()]
    mean = sum(totals) / len(totals) if totals else 0.0
    return (f"graded {ctx['graded']} submission(s) in {ctx['elapsed']:.1f} s ({ctx['elapsed'] / count:.2f} s each, "
            f"{workers} worker(s), sandbox: {ctx['sandbox_name']}); {ctx['resumed']} kept from before; "
            f"{len(results)} students, mean total {mean:.2f}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
