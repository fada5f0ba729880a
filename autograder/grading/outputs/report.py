"""The cohort report (OUT/report.html, self-contained): score histogram, pass rate per test, most common
diagnoses by named mistake, every student linked to their feedback, slowest submissions, who did not
submit, and a loud banner when grading ran without a sandbox.

One definition of every number, shared with the console summary (`cohort`): the mean total, rates and
diagnoses count the students who submitted; those who did not are counted and listed apart; counts
read as "students" count students (each once, under the worst status of their tests), never rows.
The histogram is an inline SVG the template draws from plain numbers (`histogram`): no plotting library, so
nothing touches matplotlib's backend, and the report costs no second of importing one.
"""

from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autograder.checks import messages
from autograder.checks.spec import Assignment
from autograder.grading.core.model import SANDBOXED, Result, RunSummary
from autograder.grading.outputs import pages
from autograder.message import Message, Param, say

#: How many diagnoses the report lists.
TOP_DIAGNOSES = 15
#: A student's outcome is the first of these among their tests' statuses (the worst); then 'passed'.
OUTCOMES = ("malformed", "tampered", "forbidden", "timeout", "memory", "error", "missing", "failed", "partial")
#: Submitted nothing (roster only, or an upload without a notebook): counted and listed apart.
NOT_SUBMITTED = "not submitted"
#: The one diagnosis of an untouched exercise stub, whichever test and case met it.
NOT_ATTEMPTED = "not attempted: the function still raises NotImplementedError (the exercise's stub)"
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")
#: Messages that wrap the part a failure is grouped by (its `head`): the points summary and the diagnosis.
_WRAPPERS = ("check.summary", "check.summary_capped", "check.named", "check.named_several")


@dataclass(frozen=True)
class Diagnosis:
    """One line of 'Most common diagnoses': a named mistake (or a kind of failure) and who made it."""

    key: str
    named: bool
    count: int
    tests: tuple[str, ...]
    statuses: tuple[str, ...]
    example: str


@dataclass(frozen=True)
class Cohort:
    """Every count of a batch, defined once (the report and the console summary both read these)."""

    results: tuple[Result, ...]  # every student, sorted by id
    handed_in: tuple[Result, ...]  # students who submitted: the mean, rates and diagnoses are over these
    missing: tuple[Result, ...]  # students who submitted nothing
    mean: float  # mean total over handed_in (0 when nobody submitted)
    outcomes: dict[str, int]  # students per outcome (see `outcome`), NOT_SUBMITTED included, each counted once

    def outcome_text(self) -> str:
        """'passed 3, failed 1, not submitted 1' in OUTCOMES order (worst first), passed and not submitted last."""
        order = [*OUTCOMES, "passed", NOT_SUBMITTED]
        return ", ".join(f"{name} {self.outcomes[name]}" for name in order if self.outcomes.get(name))


def submitted(result: Result) -> bool:
    """Did the student hand anything in? (Roster-only students have a 'missing' row per test and no notebook.)"""
    if result.submitted is not None:
        return result.submitted
    rows = result.rows
    return not (rows and all(r.status == "missing" for r in rows) and len({r.message for r in rows}) == 1
                and not result.output and not result.cell_errors)


def outcome(result: Result) -> str:
    """A student's one status: NOT_SUBMITTED, else the worst of their tests' statuses (OUTCOMES), else 'passed'."""
    if not submitted(result):
        return NOT_SUBMITTED
    statuses = {row.status for row in result.rows}
    return next((name for name in OUTCOMES if name in statuses), "passed" if statuses <= {"passed"} else
                sorted(statuses - {"passed"})[0])


def cohort(results: dict[str, Result]) -> Cohort:
    """The batch's counts: who submitted, the mean total over them, students per outcome."""
    ordered = tuple(results[s] for s in sorted(results))
    handed_in = tuple(r for r in ordered if submitted(r))
    totals = [r.total for r in handed_in]
    return Cohort(ordered, handed_in, tuple(r for r in ordered if not submitted(r)),
                  sum(totals) / len(totals) if totals else 0.0, dict(collections.Counter(map(outcome, ordered))))


def _unlocated(message: Message) -> Message:
    """`message` without where in the student's code it happened (cell, line, quoted code differ per student):
    a code `x.at` becomes `x`, its `where` dropped, all the way down."""
    def one(value: Param) -> Param:
        if isinstance(value, Message):
            return _unlocated(value)
        return tuple(one(v) for v in value) if isinstance(value, tuple) else value
    code = message.code.removesuffix(".at")
    return say(code, **{k: one(v) for k, v in message.params if not (k == "where" and code != message.code)})


def _core(message: Message) -> Message:
    """The part of a failed row's message it is grouped by: no summary, diagnosis, test name, case or location."""
    while message.code in _WRAPPERS and isinstance(message.get("head"), Message):
        message = message.args["head"]  # type: ignore[assignment]
    for code, part in (("check.case", "problem"), ("check.error", "error")):
        inner = message.get(part)
        if message.code == code and isinstance(inner, Message):
            message = inner
    return _unlocated(message)


def _stub(message: Message) -> bool:
    """Did the student's function raise NotImplementedError (the exercise's untouched stub)?"""
    return any(m.code.startswith("raised.stub") or (m.code.startswith("raised") and m.get("type") ==
                                                     "NotImplementedError") for m in message.walk())


def _normalized(status: str, message: Message) -> str:
    """A failed row's message as grouped, in English: its status, then its core (`_core`)."""
    return f"{status}: {messages.text(_core(message))}".strip()


def diagnosis_key(status: str, message: Message, mistakes: tuple[str, ...]) -> tuple[str, bool]:
    """What a failed row is grouped by: its named mistake(s), 'not attempted', else its message with numbers as '#'."""
    if mistakes:
        return " / ".join(messages.names(mistakes)), True
    if _stub(message):
        return NOT_ATTEMPTED, False
    return _NUMBER.sub("#", _normalized(status, message)), False


def _shown(texts: list[str]) -> str:
    """The text of a group of messages alike but for numbers: a number all share is kept, others read '…'."""
    pieces = _NUMBER.split(texts[0])
    numbers = [_NUMBER.findall(text) for text in texts]
    if any(len(found) != len(numbers[0]) for found in numbers):
        return _NUMBER.sub("…", texts[0])
    kept = [column[0] if len(set(column)) == 1 else "…" for column in zip(*numbers, strict=True)]
    return "".join(piece + (kept[i] if i < len(kept) else "") for i, piece in enumerate(pieces))


def common_diagnoses(results: list[Result] | tuple[Result, ...], limit: int = TOP_DIAGNOSES) -> list[Diagnosis]:
    """Failed rows of students who submitted, grouped by diagnosis; counted once per student, most common first."""
    students: dict[tuple[str, bool], set[str]] = collections.defaultdict(set)
    tests: dict[tuple[str, bool], set[str]] = collections.defaultdict(set)
    statuses: dict[tuple[str, bool], set[str]] = collections.defaultdict(set)
    texts: dict[tuple[str, bool], list[str]] = collections.defaultdict(list)
    example: dict[tuple[str, bool], str] = {}
    for result in results:
        for row in result.rows:
            if row.status == "passed":
                continue
            key = diagnosis_key(row.status, row.message, row.mistakes)
            students[key].add(result.student_id)
            tests[key].add(row.grade_id)
            statuses[key].add(row.status)
            texts[key].append(_normalized(row.status, row.message))
            example.setdefault(key, messages.text(row.message))
    ranked = sorted(students, key=lambda k: (-len(students[k]), not k[1], k[0]))[:limit]
    return [Diagnosis(key=k[0] if k[1] or k[0] == NOT_ATTEMPTED else _shown(texts[k]), named=k[1],
                      count=len(students[k]), tests=tuple(sorted(tests[k])), statuses=tuple(sorted(statuses[k])),
                      example=example[k]) for k in ranked]


@dataclass(frozen=True)
class Histogram:
    """The total-score histogram as the template draws it: bins of equal width over [0, max_score] (the last one
    closed), students per bin, and the y-axis ticks (whole students)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    ticks: tuple[int, ...]

    @property
    def top(self) -> int:
        """The y-axis' upper end (a tick)."""
        return self.ticks[-1]


def histogram(totals: list[float], max_score: float) -> Histogram:
    """Students per total-score bin: 5 to 20 bins of equal width over [0, max_score] (a total on a bin's left edge
    counts in that bin, the maximum in the last), and 2 to 6 y ticks at whole numbers of students."""
    bins, top = min(20, max(5, int(max_score * 2) or 5)), max_score or 1.0
    counts = [0] * bins
    for total in totals:
        if 0.0 <= total <= top:
            counts[min(bins - 1, int(total / top * bins))] += 1
    most = max(counts, default=0)
    raw = max(1.0, most / 5)
    step = next(m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)
                if m * 10 ** math.floor(math.log10(raw)) >= raw)
    step = max(1, int(step))
    ticks = tuple(range(0, max(step, math.ceil(most / step) * step) + 1, step))
    return Histogram(tuple(top * i / bins for i in range(bins + 1)), tuple(counts), ticks)


def _link(assignment: Assignment, student_id: str) -> str:
    """Relative URL of a student's feedback page from report.html."""
    stem = Path(assignment.notebook).stem
    return "/".join(quote(part, safe="") for part in ("feedback", student_id, assignment.id, f"{stem}.html"))


#: Statuses that flag a student in the report's table (besides 'late'): a TA looks at these by hand.
FLAGGED = ("forbidden", "tampered", "timeout", "memory", "malformed")


def flags(result: Result) -> list[str]:
    """What a TA should look at: 'late', then the FLAGGED statuses among the student's tests."""
    statuses = {row.status for row in result.rows}
    return (["late"] if result.late else []) + [name for name in FLAGGED if name in statuses]


def student_line(assignment: Assignment, result: Result) -> dict[str, Any]:
    """One student's line in the report."""
    rows = result.rows
    return {"id": result.student_id, "link": _link(assignment, result.student_id),
            "total": result.total, "passed": sum(r.status == "passed" for r in rows), "tests": len(rows),
            "all_passed": bool(rows) and all(r.status == "passed" for r in rows), "late": result.late,
            "outcome": outcome(result), "flags": flags(result), "seconds": result.seconds,
            "startup": result.startup or 0.0,  # waiting for a worker to start: not the submission's own time
            "worker": result.worker or ""}  # the Dask worker that graded it (--scheduler runs)


def render(assignment: Assignment, results: dict[str, Result], summary: RunSummary) -> str:
    """The report page as one HTML string."""
    counts = cohort(results)
    rows = [row for r in counts.handed_in for row in r.rows]
    per_test = []
    for q in assignment.questions:
        mine = [row for row in rows if row.grade_id == q.grade_id]
        passed = sum(row.status == "passed" for row in mine)
        per_test.append({"grade_id": q.grade_id, "passed": passed, "count": len(mine), "points": q.points,
                         "rate": f"{100 * passed / len(mine):.0f}%" if mine else "–",
                         "mean": sum(row.score for row in mine) / len(mine) if mine else 0.0})
    students = [student_line(assignment, r) for r in counts.handed_in]
    totals = [r.total for r in counts.handed_in]
    return pages.render(
        "report.html.j2", assignment=assignment.id, students=len(counts.results), submitted=counts.handed_in,
        mean=counts.mean, max_score=assignment.max_score, graded=summary.graded, elapsed=summary.elapsed,
        key_id=summary.key_id, outcomes=counts.outcome_text(),
        unsafe=sorted({str(r.sandbox) for r in counts.results if r.sandbox != SANDBOXED}),
        histogram=histogram(totals, assignment.max_score) if totals else None,
        per_test=per_test, diagnoses=common_diagnoses(counts.handed_in), roster=students,
        flagged=sum(bool(s["flags"]) for s in students), slow=sorted(students, key=lambda s: -s["seconds"])[:10],
        missing=[{"id": r.student_id, "link": _link(assignment, r.student_id)} for r in counts.missing],
        has_roster=summary.roster)
