"""An untouched release scores exactly zero on every question, visible and hidden cases alike."""

from __future__ import annotations

import pytest
import torch

from autograder.checks import ASSIGNMENTS

QUESTIONS = [(a.id, q) for a in ASSIGNMENTS.values() for q in a.questions]


def _stub(*args: object, **kwargs: object) -> object:
    """What every released function does until the student writes it."""
    raise NotImplementedError()


@pytest.mark.parametrize(("assignment_id", "question"), QUESTIONS, ids=[f"{a}-{q.grade_id}" for a, q in QUESTIONS])
def test_stubs_score_zero(assignment_id: str, question) -> None:
    """Every case fails for a NotImplementedError stub, so no partial credit leaks to empty work."""
    functions = {name: _stub for name in question.functions}
    cases = question.make_cases(torch.Generator().manual_seed(1234), True)
    outcome = question.judge(cases, [question.call(functions, case) for case in cases])
    assert outcome.score == 0, f"{assignment_id}/{question.grade_id}: a stub earned {outcome.score}: {outcome.message}"
    assert "NotImplementedError" in outcome.message
