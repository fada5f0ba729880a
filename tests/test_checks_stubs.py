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
    assert outcome.score == 0, f"{assignment_id}/{question.grade_id}: a stub earned {outcome.score}: {outcome.text()}"
    assert "NotImplementedError" in outcome.text()


def test_raising_whenever_error_if_nonfinite_is_set_is_wrong() -> None:
    """A clip_grad_norm that raises RuntimeError for every error_if_nonfinite=True call fails a visible case."""
    from autograder.checks import get_assignment

    def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
        if error_if_nonfinite:
            raise RuntimeError("non-finite")
        present = [g for g in grads if g is not None]
        norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in present])
        total = torch.linalg.vector_norm(norms, norm_type)
        for g in present:
            g.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
        return total

    question = get_assignment("clipping").question("clip_grad_norm_flags")
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    outcome = question.judge(cases, [question.call({"clip_grad_norm": clip_grad_norm}, c) for c in cases])
    assert outcome.status == "partial" and "finite gradients, error_if_nonfinite=True" in outcome.text()
