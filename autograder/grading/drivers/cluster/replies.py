"""What crosses the Dask boundary: a submission as plain data, and the check of each result a worker sends back.

Dask pickles task arguments and results, so both directions carry only plain data: a submission as
`model.Submission.to_plain()` (str, bytes and bool), a result as `model.Result.to_json()`. A reply is rebuilt by
`model.Result.from_json` (every field typed) and then checked against the submission it must be about
(rows matched to their questions, text capped and made safe by the records themselves, the fingerprint of
what was graded computed here) before the instructor's process saves it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from autograder.checks.spec import Assignment
from autograder.grading.core.bounds import bounded_message, bounded_notes
from autograder.grading.core.judging import one_line
from autograder.grading.core.model import Result, Submission
from autograder.grading.inbox.collect import current_fingerprint
from autograder.grading.runner.fields import BadRecord
from autograder.grading.runner.wire import Limits


class BadResult(ValueError):
    """A worker's reply is not a well-formed result for the submission it was sent."""


def accept(raw: Any, sub: Submission, assignment: Assignment, limits: Limits) -> Result:
    """The result a worker sent for `sub`, checked and capped; BadResult naming the problem."""
    try:
        result = Result.from_json(raw, "reply")
    except BadRecord as exc:
        raise BadResult(str(exc)) from None
    if result.student_id != sub.student_id or result.assignment != assignment.id:
        raise BadResult("the reply is about another student or assignment")
    if len(result.rows) != len(assignment.questions):
        raise BadResult(f"{len(assignment.questions)} rows expected")
    for index, (row, question) in enumerate(zip(result.rows, assignment.questions, strict=True)):
        if (row.student_id, row.assignment, row.notebook, row.grade_id, row.max_score) != (
                sub.student_id, assignment.id, assignment.notebook, question.grade_id, float(question.points)):
            raise BadResult(f"row {index} is not {sub.student_id}'s {question.grade_id}")
    rows = tuple(dataclasses.replace(row, message=bounded_message(row.message)) for row in result.rows)
    output = {k[:40]: v[:limits.output_bytes] for k, v in list(result.output.items())[:10]}
    return dataclasses.replace(
        result, notebook=assignment.notebook, origin=result.origin[:1000], late=sub.late,
        notes=tuple(bounded_notes(list(result.notes))), output=output,
        seconds=round(max(result.seconds, 0.0), 3),
        startup=None if result.startup is None else round(max(result.startup, 0.0), 3),
        rows=rows, worker=one_line(result.worker or "", 200), sandbox=one_line(result.sandbox or "", 100),
        key_id=None, submitted=None, source=current_fingerprint(sub))  # computed here, never taken from the worker
