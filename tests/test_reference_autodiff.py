"""MLP, losses and vjp against closed forms and central finite differences."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import reference as R
from tests.reference_helpers import FAST, numerical_grad, rand

ACTS = {"relu": lambda z: z.clamp(min=0), "tanh": torch.tanh, "sigmoid": lambda z: 1 / (1 + torch.exp(-z))}


def mlp_loss(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, act: str) -> float:
    """Independent forward: logsumexp(z_i) - z_i[y_i], averaged."""
    h, n_layers = x, len(params) // 2
    for l in range(1, n_layers + 1):
        h = h @ params[f"W{l}"] + params[f"b{l}"]
        h = ACTS[act](h) if l < n_layers else h
    return (torch.logsumexp(h, 1) - h[torch.arange(len(y)), y]).mean().item()


@FAST
@given(seed=st.integers(0, 2**16), act=st.sampled_from(sorted(ACTS)),
       widths=st.lists(st.integers(1, 4), min_size=2, max_size=4), n=st.integers(1, 4))
def test_mlp_matches_finite_differences(seed: int, act: str, widths: list[int], n: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for l, (i, o) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
        params[f"W{l}"], params[f"b{l}"] = rand(i, o, gen=gen), rand(o, gen=gen)
    x, y = rand(n, widths[0], gen=gen), torch.randint(widths[-1], (n,), generator=gen)
    loss, grads = R.mlp_loss_and_grads(params, x, y, act)
    assert loss.shape == () and loss.item() == pytest.approx(mlp_loss(params, x, y, act), rel=1e-12)
    assert list(grads) == list(params)
    for k, p in params.items():
        expected = numerical_grad(lambda: mlp_loss(params, x, y, act), p)
        torch.testing.assert_close(grads[k], expected, rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_closed_form() -> None:
    gen = torch.Generator().manual_seed(1)
    z, y = rand(5, 3, gen=gen, scale=4.0), torch.tensor([0, 2, 1, 2, 0])
    loss, dz = R.softmax_cross_entropy(z, y)
    p = torch.exp(z) / torch.exp(z).sum(1, keepdim=True)
    onehot = torch.zeros_like(z)
    onehot[torch.arange(5), y] = 1
    assert loss.item() == pytest.approx(-torch.log(p[torch.arange(5), y]).mean().item(), rel=1e-12)
    torch.testing.assert_close(dz, (p - onehot) / 5, rtol=1e-12, atol=1e-14)


def test_mse_closed_form() -> None:
    gen = torch.Generator().manual_seed(2)
    pred, target = rand(3, 4, gen=gen), rand(3, 4, gen=gen)
    loss, dpred = R.mse_loss(pred, target)
    assert loss.item() == pytest.approx(((pred - target) ** 2).sum().item() / 12, rel=1e-12)
    torch.testing.assert_close(dpred, 2 * (pred - target) / 12, rtol=1e-12, atol=0)


def test_vjp_with_upstream_scalar_and_unused_input() -> None:
    gen = torch.Generator().manual_seed(3)
    a, b, u = rand(2, 3, gen=gen), rand(2, 3, gen=gen), rand(2, 3, gen=gen)
    out, (da, db) = R.vjp(lambda s, t: torch.sin(s) * t, [a, b], u)
    torch.testing.assert_close(out, torch.sin(a) * b)
    torch.testing.assert_close(da, torch.cos(a) * b * u)
    torch.testing.assert_close(db, torch.sin(a) * u)
    out, (da, db) = R.vjp(lambda s, t: (s**3).sum(), [a, b])
    assert out.shape == () and torch.equal(db, torch.zeros_like(b))
    torch.testing.assert_close(da, 3 * a**2)
    _, (dconst,) = R.vjp(lambda s: torch.ones(()), [a])  # output ignores its input
    assert torch.equal(dconst, torch.zeros_like(a))
