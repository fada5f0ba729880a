"""The cohort report (OUT/report.html, self-contained): score histogram, pass rate per test,
most common diagnoses, slowest submissions, and a loud banner when grading ran without a sandbox."""

from __future__ import annotations

import base64
import collections
import html
import io
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading import records

CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.passed{background:#eaf7ea}"
       ".warn{background:#fdd;border:3px solid #c00;padding:1em;font-weight:bold}pre{background:#f6f6f6;"
       "padding:.5em;white-space:pre-wrap}")


def _histogram_png(totals: list[float], max_score: float) -> str:
    """A base64 PNG histogram of total scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(totals, bins=min(20, max(5, int(max_score * 2) or 5)), range=(0, max_score or 1), color="#4a7")
    ax.set_xlabel("total score")
    ax.set_ylabel("students")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    """An HTML table with escaped cells."""
    esc = html.escape
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + f"</tr>{body}</table>"


def render(assignment: Assignment, results: dict[str, dict[str, Any]], ctx: dict[str, Any]) -> str:
    """The report page as one HTML string."""
    esc = html.escape
    rows = [row for r in results.values() for row in r["rows"]]
    totals = [records.total(r) for r in results.values()]
    per_test = []
    for q in assignment.questions:
        mine = [row for row in rows if row.grade_id == q.grade_id]
        passed = sum(row.status == "passed" for row in mine)
        per_test.append((q.grade_id, f"{passed}/{len(mine)}", f"{100 * passed / max(len(mine), 1):.0f}%",
                         f"{sum(row.score for row in mine) / max(len(mine), 1):.2f} / {q.points:g}"))
    diagnoses = collections.Counter((row.grade_id, row.status, row.message) for row in rows if row.status != "passed")
    common = [(n, g, s, m) for (g, s, m), n in diagnoses.most_common(15)]
    slow = sorted(results.values(), key=lambda r: -float(r.get("seconds") or 0))[:10]
    statuses = collections.Counter(row.status for row in rows)
    unsafe = sorted({str(r.get("sandbox")) for r in results.values() if r.get("sandbox") != "bubblewrap"})
    banner = (f"<p class='warn'>WARNING: some submissions were graded WITHOUT the bubblewrap sandbox "
              f"({esc(', '.join(unsafe))}): student code could read files and use the network.</p>") if unsafe else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Report: {esc(assignment.id)}</title>"
            f"<style>{CSS}</style></head><body><h1>Grading report: {esc(assignment.id)}</h1>{banner}"
            f"<p>{len(results)} students; mean total {sum(totals) / max(len(totals), 1):.2f} of "
            f"{assignment.max_score:g}; this run graded {ctx.get('graded', 0)} in {ctx.get('elapsed', 0):.1f} s "
            f"(run seed {ctx.get('seed')}).</p><p>Statuses: {esc(', '.join(f'{k} {v}' for k, v in sorted(statuses.items())))}</p>"
            f"<h2>Total scores</h2><img alt='histogram of total scores' src='data:image/png;base64,"
            f"{_histogram_png(totals, assignment.max_score)}'>"
            f"<h2>Pass rate per test</h2>{_table(('test', 'passed', 'rate', 'mean score'), per_test)}"
            f"<h2>Most common diagnoses</h2>{_table(('students', 'test', 'status', 'message'), common)}"
            f"<h2>Slowest submissions</h2>"
            f"{_table(('student', 'seconds', 'total'), [(r['student_id'], r.get('seconds'), records.total(r)) for r in slow])}"
            f"</body></html>")
