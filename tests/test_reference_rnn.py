"""The tanh RNN's forward pass and BPTT against a hand loop and finite differences."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import reference as R
from tests.reference_helpers import F64, FAST, Tensor, numerical_grad, rand


def rnn_states(x: Tensor, h0: Tensor, wx: Tensor, wh: Tensor, b: Tensor) -> Tensor:
    """Independent forward via einsum, time step by time step."""
    h, out = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(torch.einsum("nd,dh->nh", x[:, t], wx) + torch.einsum("nk,kh->nh", h, wh) + b)
        out.append(h)
    return torch.stack(out, 1)


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(1, 3),
       hidden=st.integers(1, 3))
def test_rnn_forward_and_bptt(seed: int, n: int, t: int, d: int, hidden: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    args = (rand(n, t, d, gen=gen), rand(n, hidden, gen=gen), rand(d, hidden, gen=gen),
            rand(hidden, hidden, gen=gen), rand(hidden, gen=gen))
    dh = rand(n, t, hidden, gen=gen)
    torch.testing.assert_close(R.rnn_forward(*args), rnn_states(*args), rtol=1e-12, atol=1e-14)
    grads = R.rnn_backward(*args, dh)
    for arg, grad in zip(args, grads, strict=True):
        expected = numerical_grad(lambda: (rnn_states(*args) * dh).sum().item(), arg)
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_rnn_with_no_time_steps() -> None:
    x, h0 = torch.zeros(2, 0, 3, dtype=F64), torch.ones(2, 4, dtype=F64)
    args = (x, h0, torch.ones(3, 4), torch.ones(4, 4), torch.ones(4))
    assert R.rnn_forward(*args).shape == (2, 0, 4)
    grads = R.rnn_backward(*args, torch.zeros(2, 0, 4))
    assert [tuple(g.shape) for g in grads] == [(2, 0, 3), (2, 4), (3, 4), (4, 4), (4,)]
    assert all(torch.count_nonzero(g) == 0 for g in grads)
