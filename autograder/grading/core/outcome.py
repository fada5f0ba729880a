"""What every driver does with a finished submission: the internal-error result and the stamps before saving.

The batch pipeline, the Dask cluster's instructor side and the HTTP service all save results made here,
so none of them imports another to get them (pipeline and cluster used to import each other for this).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from autograder.grading.core.judging import rows_for
from autograder.grading.core.model import Result, Submission, Verdict
from autograder.message import say


def internal_error(sub: Submission, assignment: Any, message: str, worker: str | None = None) -> Result:
    """A result for a submission the grader itself failed on: an error row per question saying why."""
    reason = Verdict("error", say("internal.error", error=message))
    return Result(sub.student_id, assignment.id, assignment.notebook, sub.origin, sub.late, None, (), {}, 0.0,
                  rows_for(sub.student_id, assignment, {q.grade_id: reason for q in assignment.questions}),
                  worker=worker)


def handed_in(sub: Submission, result: Result) -> bool:
    """Whether the student handed anything in (the report lists the others apart)."""
    return not sub.empty or any(row.status != "missing" for row in result.rows)


def stamped(result: Result, sub: Submission, key_id: str, sandbox_name: str) -> Result:
    """`result` with the run's key id, its sandbox (unless it names one) and whether anything was handed in."""
    return dataclasses.replace(result, key_id=key_id, sandbox=result.sandbox or sandbox_name,
                               submitted=handed_in(sub, result))
