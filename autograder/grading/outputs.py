"""Everything written after a batch: grades.csv, per-student feedback, Gradescope files, the cohort report."""

from __future__ import annotations

import collections
import html
import json
from pathlib import Path
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading import records, report


def _feedback_html(result: dict[str, Any], assignment: Assignment, sandbox_name: str) -> str:
    """One student's feedback page: a row per graded cell, notes, the seed, and captured output."""
    esc = html.escape
    rows = "".join(f"<tr class='{esc(r.status)}'><td>{esc(r.grade_id)}</td><td>{r.score:g} / {r.max_score:g}</td>"
                   f"<td>{esc(r.status)}</td><td>{esc(r.message)}</td></tr>" for r in result["rows"])
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.get("notes", []))
    output = result.get("output", {})
    blocks = "".join(f"<h2>{esc(title)}</h2><pre>{esc(output[key])}</pre>"
                     for key, title in (("cell_errors", "Errors while running your cells"),
                                        ("stdout", "Printed output"), ("stderr", "Warnings and errors printed"))
                     if output.get(key))
    warning = "" if sandbox_name == "bubblewrap" else f"<p class='warn'>Graded without a sandbox ({esc(sandbox_name)}).</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(assignment.id)}: "
            f"{esc(result['student_id'])}</title><style>{report.CSS}</style></head><body>"
            f"<h1>{esc(assignment.id)} — feedback for {esc(result['student_id'])}</h1>{warning}"
            f"<p>Total: <b>{records.total(result):g} / {assignment.max_score:g}</b>"
            f"{' (late)' if result.get('late') else ''}. Hidden tests used fresh random inputs "
            f"(seed {result.get('seed')}).</p><table><tr><th>test</th><th>score</th><th>status</th>"
            f"<th>why</th></tr>{rows}</table>{'<ul>' + notes + '</ul>' if notes else ''}{blocks}</body></html>")


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
    stem = Path(assignment.notebook).stem
    for student_id, result in results.items():
        page = _feedback_html(result, assignment, result.get("sandbox", ctx["sandbox_name"]))
        records.atomic_write(out / "feedback" / student_id / assignment.id / f"{stem}.html", page.encode())
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
