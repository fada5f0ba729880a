"""The cohort report (OUT/report.html, self-contained): score histogram, pass rate per test, most common
diagnoses by named mistake, every student linked to their feedback, slowest submissions, who did not
submit, and a loud banner when grading ran without a sandbox.

Rates, means and diagnoses count only the students who submitted; the histogram is drawn on a bare
matplotlib Figure, so importing or calling this never touches pyplot or the global backend.
"""

from __future__ import annotations

import base64
import collections
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autograder.checks.spec import Assignment
from autograder.grading import pages
from autograder.grading.model import SANDBOXED, Result, RunSummary

#: How many diagnoses the report lists.
TOP_DIAGNOSES = 15
_CASE = re.compile(r"case \[[^\]]*\]:?\s*")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")


@dataclass(frozen=True)
class Diagnosis:
    """One line of 'Most common diagnoses': a named mistake (or a kind of failure) and who made it."""

    key: str
    named: bool
    count: int
    tests: tuple[str, ...]
    statuses: tuple[str, ...]
    example: str


def submitted(result: Result) -> bool:
    """Did the student hand anything in? (Roster-only students have a 'missing' row per test and no notebook.)"""
    if result.submitted is not None:
        return result.submitted
    rows = result.rows
    return not (rows and all(r.status == "missing" for r in rows) and len({r.message for r in rows}) == 1
                and not result.output)


def diagnosis_key(grade_id: str, status: str, message: str, mistake: str) -> tuple[str, bool]:
    """What a failed row is grouped by: its named mistake, else its message without test, case and numbers."""
    if mistake:
        return mistake, True
    text = message.split(". This matches a known mistake", 1)[0]
    text = text.removeprefix(f"{grade_id}: ")
    text = _CASE.sub("", text)
    text = re.sub(r"\s*\[\d+ of \d+ outputs wrong\]$", "", text)
    text = _NUMBER.sub("#", text)
    return f"{status}: {text}".strip(), False


def common_diagnoses(results: list[Result], limit: int = TOP_DIAGNOSES) -> list[Diagnosis]:
    """Failed rows of students who submitted, grouped by diagnosis; counted once per student, most common first."""
    students: dict[tuple[str, bool], set[str]] = collections.defaultdict(set)
    tests: dict[tuple[str, bool], set[str]] = collections.defaultdict(set)
    statuses: dict[tuple[str, bool], set[str]] = collections.defaultdict(set)
    example: dict[tuple[str, bool], str] = {}
    for result in results:
        for row in result.rows:
            if row.status == "passed":
                continue
            key = diagnosis_key(row.grade_id, row.status, row.message, row.mistake)
            students[key].add(result.student_id)
            tests[key].add(row.grade_id)
            statuses[key].add(row.status)
            example.setdefault(key, row.message)
    ranked = sorted(students, key=lambda k: (-len(students[k]), not k[1], k[0]))[:limit]
    return [Diagnosis(key=k[0], named=k[1], count=len(students[k]), tests=tuple(sorted(tests[k])),
                      statuses=tuple(sorted(statuses[k])), example=example[k]) for k in ranked]


def _histogram_png(totals: list[float], max_score: float) -> str:
    """A base64 PNG histogram of total scores, drawn without pyplot (no global backend switch)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.6))
    ax = fig.add_subplot()
    ax.hist(totals, bins=min(20, max(5, int(max_score * 2) or 5)), range=(0, max_score or 1), color="#4a7")
    ax.set_xlabel("total score")
    ax.set_ylabel("students")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _link(assignment: Assignment, student_id: str) -> str:
    """Relative URL of a student's feedback page from report.html."""
    stem = Path(assignment.notebook).stem
    return "/".join(quote(part, safe="") for part in ("feedback", student_id, assignment.id, f"{stem}.html"))


def student_line(assignment: Assignment, result: Result) -> dict[str, Any]:
    """One student's line in the report."""
    rows = result.rows
    return {"id": result.student_id, "link": _link(assignment, result.student_id),
            "total": result.total, "passed": sum(r.status == "passed" for r in rows), "tests": len(rows),
            "all_passed": bool(rows) and all(r.status == "passed" for r in rows), "late": result.late,
            "seconds": result.seconds,
            "worker": result.worker or ""}  # the Dask worker that graded it (--scheduler runs)


def render(assignment: Assignment, results: dict[str, Result], summary: RunSummary) -> str:
    """The report page as one HTML string."""
    ordered = [results[s] for s in sorted(results)]
    handed_in = [r for r in ordered if submitted(r)]
    missing = [r for r in ordered if not submitted(r)]
    rows = [row for r in handed_in for row in r.rows]
    totals = [r.total for r in handed_in]
    per_test = []
    for q in assignment.questions:
        mine = [row for row in rows if row.grade_id == q.grade_id]
        passed = sum(row.status == "passed" for row in mine)
        per_test.append({"grade_id": q.grade_id, "passed": passed, "count": len(mine), "points": q.points,
                         "rate": f"{100 * passed / len(mine):.0f}%" if mine else "–",
                         "mean": sum(row.score for row in mine) / len(mine) if mine else 0.0})
    statuses = collections.Counter(row.status for r in ordered for row in r.rows)
    students = [student_line(assignment, r) for r in handed_in]
    return pages.render(
        "report.html.j2", assignment=assignment.id, students=len(ordered), submitted=handed_in,
        mean=sum(totals) / len(totals) if totals else 0.0, max_score=assignment.max_score,
        graded=summary.graded, elapsed=summary.elapsed, key_id=summary.key_id,
        statuses=", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        unsafe=sorted({str(r.sandbox) for r in ordered if r.sandbox != SANDBOXED}),
        histogram=_histogram_png(totals, assignment.max_score) if totals else "",
        per_test=per_test, diagnoses=common_diagnoses(handed_in), roster=students,
        slow=sorted(students, key=lambda s: -s["seconds"])[:10],
        missing=[{"id": r.student_id, "link": _link(assignment, r.student_id)} for r in missing])
