"""Everything written after a batch: grades.csv, per-student feedback, Gradescope files, the cohort report."""

from __future__ import annotations

import collections
import json
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading import pages, records, report
from autograder.grading.model import SANDBOXED, Result, RunSummary

#: Captured output shown on a feedback page: (key in result["output"], heading).
OUTPUT_BLOCKS = (("cell_errors", "Errors while running your cells"), ("stdout", "Printed output"),
                 ("stderr", "Warnings and errors printed"), ("truncated", "Output cut"))


def feedback_path(assignment: Assignment, student_id: str) -> PurePosixPath:
    """Where a student's feedback page lives, relative to OUT (nbgrader's feedback layout)."""
    return PurePosixPath("feedback", student_id, assignment.id, f"{Path(assignment.notebook).stem}.html")


def feedback_html(result: Result, assignment: Assignment, sandbox_name: str) -> str:
    """One student's feedback page: a row per graded cell, notes, the seed, and captured output (once)."""
    output = result.output
    blocks = [(title, str(output[key])) for key, title in OUTPUT_BLOCKS if output.get(key)]
    return pages.render("feedback.html.j2", assignment=assignment.id, student=result.student_id,
                        sandboxed=sandbox_name == SANDBOXED, sandbox=sandbox_name, total=result.total,
                        max_score=assignment.max_score, late=result.late, seed=result.seed,
                        rows=result.rows, notes=list(result.notes), blocks=blocks)


def _gradescope(result: Result) -> dict[str, Any]:
    """Gradescope's results.json for one student (one test per graded cell)."""
    tests = [{"name": r.grade_id, "score": r.score, "max_score": r.max_score, "status":
              "passed" if r.status == "passed" else "failed", "output": f"{r.status}: {r.message}"}
             for r in result.rows]
    return {"score": result.total, "execution_time": result.seconds,
            "output": "; ".join(result.notes), "tests": tests, "visibility": "after_published"}


def _student_files(out: Path, assignment: Assignment, result: Result, sandbox_name: str) -> dict[Path, bytes]:
    """One student's files (feedback page, Gradescope file) as bytes, with their report and CSV lines tried too:
    any error rendering them is raised here, before anything is written."""
    page = feedback_html(result, assignment, result.sandbox or sandbox_name)
    report.student_line(assignment, result)
    records.csv_bytes({result.student_id: result})
    return {out / feedback_path(assignment, result.student_id): page.encode(),
            out / "gradescope" / result.student_id / "results.json":
                json.dumps(_gradescope(result), indent=1, allow_nan=False).encode()}


def write_all(out: Path, assignment: Assignment, results: dict[str, Result], summary: RunSummary) -> dict[str, Result]:
    """grades.csv, feedback/, gradescope/ and report.html for all results so far (each written atomically).

    A result that cannot be rendered costs only its student: an error row saying why (records.unusable)
    takes its place in every output, and the others are written as usual. Returns what was written.
    """
    written: dict[str, Result] = {}
    for student_id, result in sorted(results.items()):
        try:
            files = _student_files(out, assignment, result, summary.sandbox_name)
        except Exception as exc:  # noqa: BLE001 - one student's result never stops the batch's outputs
            result = records.unusable(student_id, assignment, f"it cannot be rendered: {type(exc).__name__}: "
                                      f"{exc}", result.origin)
            files = _student_files(out, assignment, result, summary.sandbox_name)
        for path, data in files.items():
            records.atomic_write(path, data)
        written[student_id] = result
    records.atomic_write(out / "grades.csv", records.csv_bytes(written))
    records.atomic_write(out / "report.html", report.render(assignment, written, summary).encode())
    return written


def summary_line(results: dict[str, Result], summary: RunSummary, workers: int) -> str:
    """The one line printed at the end of a batch."""
    count = max(summary.graded, 1)
    statuses = collections.Counter(row.status for r in results.values() for row in r.rows)
    totals = [r.total for r in results.values()]
    mean = sum(totals) / len(totals) if totals else 0.0
    return (f"graded {summary.graded} submission(s) in {summary.elapsed:.1f} s ({summary.elapsed / count:.2f} s "
            f"each, {workers} worker(s), sandbox: {summary.sandbox_name}); {summary.resumed} kept from before; "
            f"{len(results)} students, mean total {mean:.2f}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
