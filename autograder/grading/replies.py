"""What crosses the Dask boundary: a submission as plain data, and the check of each result a worker sends back.

Dask pickles task arguments and results, so both directions carry only dicts of str, bytes, numbers
and lists. A reply is rebuilt here from its checked fields (rows matched to the questions they must
be about, scores within range, text capped) before the instructor's process saves it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import MISSING, fields
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading.collect import Submission
from autograder.grading.judging import Row, one_line, rows_for
from autograder.grading.sanitize import Verdict
from autograder.grading.student import Limits

STATUS = re.compile(r"[a-z_]{1,20}")


class BadResult(ValueError):
    """A worker's reply is not a well-formed result for the submission it was sent."""


def _number(value: Any, what: str) -> float:
    """A finite int/float (not a bool) as float; BadResult otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadResult(f"{what} is not a finite number")
    return float(value)


def _row(raw: Any, index: int, sub: Submission, assignment: Assignment) -> Row:
    """Row `index` of a reply, checked against the question it must be about."""
    question = assignment.questions[index]
    if not isinstance(raw, dict) or not set(raw) <= {f.name for f in fields(Row)}:
        raise BadResult(f"row {index} is not a grades.csv row")
    values: dict[str, Any] = {}
    for f in fields(Row):
        if f.name not in raw and f.default is MISSING:
            raise BadResult(f"row {index} lacks {f.name}")
        value = raw.get(f.name, f.default)
        values[f.name] = _number(value, f"row {index} {f.name}") if f.type == "float" else value
        if f.type == "str" and not isinstance(value, str):
            raise BadResult(f"row {index} {f.name} is not text")
    expected = (sub.student_id, assignment.id, assignment.notebook, question.grade_id, float(question.points))
    if (values["student_id"], values["assignment"], values["notebook"], values["grade_id"],
            values["max_score"]) != expected:
        raise BadResult(f"row {index} is not {sub.student_id}'s {question.grade_id}")
    if not 0.0 <= values["score"] <= values["max_score"] or not STATUS.fullmatch(values["status"]):
        raise BadResult(f"row {index} has score {values['score']} or status {values['status'][:30]!r} out of range")
    values["message"] = one_line(values["message"])
    return Row(**values)


def _texts(raw: Any, limit: int, what: str) -> dict[str, str]:
    """A {str: str} map with every value cut to `limit` characters."""
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise BadResult(f"{what} is not a map of text")
    return {k[:40]: v[:limit] for k, v in list(raw.items())[:10]}


_KNOWN = frozenset({"student_id", "assignment", "notebook", "origin", "late", "seed", "notes", "output", "seconds",
                    "rows", "worker", "sandbox", "run_seed"})


def _small_json(value: Any) -> bool:
    """True for plain JSON data of at most 4 KB (fields this module does not know, passed through)."""
    try:
        return len(json.dumps(value, allow_nan=False)) <= 4096
    except (TypeError, ValueError):
        return False


def _text(value: Any, fallback: str, limit: int = 1000) -> str:
    """`value` when it is text (capped), else `fallback`."""
    return value[:limit] if isinstance(value, str) else fallback[:limit]


def accept(raw: Any, sub: Submission, assignment: Assignment, limits: Limits) -> dict[str, Any]:
    """The result a worker sent for `sub`, its known fields checked and capped; BadResult naming the problem."""
    if not isinstance(raw, dict):
        raise BadResult(f"a {type(raw).__name__} instead of a result")
    if raw.get("student_id") != sub.student_id or raw.get("assignment") != assignment.id:
        raise BadResult("the reply is about another student or assignment")
    if not isinstance(raw.get("rows"), list) or len(raw["rows"]) != len(assignment.questions):
        raise BadResult(f"{len(assignment.questions)} rows expected")
    notes = raw.get("notes")
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise BadResult("notes are not a list of text")
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadResult("the seed is not an integer")
    extra = {k: v for k, v in raw.items() if isinstance(k, str) and k not in _KNOWN and _small_json(v)}
    return {**extra, "student_id": sub.student_id, "assignment": assignment.id, "notebook": assignment.notebook,
            "origin": _text(raw.get("origin"), sub.origin), "late": sub.late, "seed": seed,
            "notes": [note[:2000] for note in notes[:100]],
            "output": _texts(raw.get("output"), limits.output_bytes, "output"),
            "seconds": round(max(_number(raw.get("seconds"), "seconds"), 0.0), 3),
            "rows": [_row(r, i, sub, assignment) for i, r in enumerate(raw["rows"])],
            "worker": one_line(str(raw.get("worker", "")), 200),
            "sandbox": one_line(str(raw.get("sandbox", "")), 100)}


def as_plain(sub: Submission) -> dict[str, Any]:
    """What a task carries: a submission already read (collect.loaded) as str, bytes and bool, never an object."""
    return {"student_id": sub.student_id, "origin": sub.origin, "data": sub.data, "late": sub.late,
            "problem": sub.problem, "status": sub.status}


def failed(sub: Submission, assignment: Assignment, message: str, worker: str = "") -> dict[str, Any]:
    """A result for a submission the grader could not grade: an error row per question saying why."""
    reason = Verdict("error", f"internal grader error: {message}")
    return {"student_id": sub.student_id, "assignment": assignment.id, "notebook": assignment.notebook,
            "origin": sub.origin, "late": sub.late, "seed": None, "notes": [], "output": {}, "seconds": 0.0,
            "rows": rows_for(sub.student_id, assignment, {q.grade_id: reason for q in assignment.questions}),
            "worker": worker}
