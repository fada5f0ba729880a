"""Global norms and clipping against an independent formula, at and around max_norm, with inf/nan/None."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import reference as R
from tests.reference_helpers import F64, FAST, rand


def global_norm(grads: list[torch.Tensor | None], p: float) -> torch.Tensor:
    """The p-norm of all entries of all non-None gradients, as one long vector."""
    flat = torch.cat([g.reshape(-1).to(F64) for g in grads if g is not None])
    return flat.abs().max() if math.isinf(p) else (flat.abs() ** p).sum() ** (1 / p)


@FAST
@given(seed=st.integers(0, 999), p=st.sampled_from([1.0, 2.0, 3.0, math.inf]), ratio=st.floats(0.1, 3.0),
       with_none=st.booleans())
def test_grad_norm_and_clip_grad_norm(seed: int, p: float, ratio: float, with_none: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    grads: list[torch.Tensor | None] = [rand(3, 2, gen=gen), rand(4, gen=gen, scale=5.0), rand(gen=gen)]
    if with_none:
        grads.insert(1, None)
    total = global_norm(grads, p)
    torch.testing.assert_close(R.grad_norm(grads, p), total, rtol=1e-12, atol=0)
    max_norm = ratio * total.item()
    clipped, pre = R.clip_grad_norm(grads, max_norm, norm_type=p)
    coef = min(1.0, max_norm / (total.item() + 1e-6))
    torch.testing.assert_close(pre, total, rtol=1e-12, atol=0)
    assert [c is None for c in clipped] == [g is None for g in grads]
    for c, g in zip(clipped, grads, strict=True):
        if g is not None:
            torch.testing.assert_close(c, g * coef, rtol=1e-12, atol=0)


def test_clip_at_and_around_max_norm() -> None:
    g = [torch.tensor([3.0, 4.0], dtype=F64)]  # norm exactly 5
    at, _ = R.clip_grad_norm(g, 5.0)  # torch still scales by 5 / (5 + 1e-6) at the threshold
    torch.testing.assert_close(at[0], g[0] * 5 / (5 + 1e-6), rtol=1e-14, atol=0)
    below, _ = R.clip_grad_norm(g, 5.0 + 1e-3)
    assert below[0] is not None and torch.equal(below[0], g[0])
    barely_below, _ = R.clip_grad_norm(g, 5.0 + 1e-7)  # within 1e-6 of the norm: still scaled
    torch.testing.assert_close(barely_below[0], g[0] * (5.0 + 1e-7) / (5 + 1e-6), rtol=1e-14, atol=0)
    assert torch.linalg.vector_norm(barely_below[0]).item() < 5.0
    above, total = R.clip_grad_norm(g, 5.0 - 1e-3)
    assert total.item() == 5.0
    torch.testing.assert_close(above[0], g[0] * (5.0 - 1e-3) / (5 + 1e-6), rtol=1e-14, atol=0)


def test_nonfinite_gradients() -> None:
    for bad in (math.inf, math.nan):
        grads = [torch.tensor([1.0, bad], dtype=F64), torch.tensor([2.0], dtype=F64)]
        with pytest.raises(RuntimeError):
            R.clip_grad_norm(grads, 1.0, error_if_nonfinite=True)
        clipped, total = R.clip_grad_norm(grads, 1.0)
        assert not torch.isfinite(total)
        # inf total: coefficient 1/inf = 0, so finite entries become 0 and inf * 0 = nan; nan spreads to all
        expected_finite = 0.0 if bad == math.inf else math.nan
        torch.testing.assert_close(clipped[1], torch.tensor([expected_finite], dtype=F64), equal_nan=True)
        assert clipped[0] is not None and torch.isnan(clipped[0][1])
    inf_norm = R.grad_norm([torch.tensor([1.0, -math.inf])], math.inf)
    assert inf_norm.item() == math.inf


def test_clip_grad_value_and_empty_inputs() -> None:
    g = [torch.tensor([-3.0, 0.5, 2.0]), None, torch.zeros(0)]
    clipped = R.clip_grad_value(g, 1.0)
    torch.testing.assert_close(clipped[0], torch.tensor([-1.0, 0.5, 1.0], dtype=F64))
    assert clipped[1] is None and clipped[2] is not None and clipped[2].shape == (0,)
    for grads in ([], [None, None]):
        assert R.grad_norm(grads).item() == 0.0 and R.grad_norm(grads).shape == ()
        assert R.clip_grad_norm(grads, 1.0) == (grads, torch.tensor(0.0, dtype=F64))
    assert R.grad_norm([torch.zeros(0)], math.inf).item() == 0.0
