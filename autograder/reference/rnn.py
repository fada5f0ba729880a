"""A vanilla tanh RNN over all time steps, and its backward pass through time by torch.autograd."""

from __future__ import annotations

import torch
from torch import Tensor

from autograder.reference._validate import as_float64, expect_dim, expect_shape
from autograder.reference.autodiff import vjp


def _inputs(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> list[Tensor]:
    """float64 copies after checking x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)."""
    x64 = as_float64("x", x)
    expect_dim("x", x64, 3, "(N, T, D)")
    n, _, d = x64.shape
    h064 = as_float64("h0", h0, x64.device)
    expect_dim("h0", h064, 2, "(N, H)")
    hidden = h064.shape[1]
    expect_shape("h0", h064, (n, hidden))
    wx = as_float64("Wx", Wx, x64.device)
    expect_shape("Wx", wx, (d, hidden))
    wh = as_float64("Wh", Wh, x64.device)
    expect_shape("Wh", wh, (hidden, hidden))
    b64 = as_float64("b", b, x64.device)
    expect_shape("b", b64, (hidden,))
    return [x64, h064, wx, wh, b64]


def _unroll(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> Tensor:
    """Hidden states (N, T, H) with h_t = tanh(x_t Wx + h_{t-1} Wh + b)."""
    h, states = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return torch.stack(states, dim=1) if states else h0.new_zeros(x.shape[0], 0, h0.shape[1])


def rnn_forward(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor) -> Tensor:
    """All hidden states (N, T, H) of h_t = tanh(x_t Wx + h_{t-1} Wh + b)."""
    with torch.no_grad():
        return _unroll(*_inputs(x, h0, Wx, Wh, b))


def rnn_backward(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor,
                 dh: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(dx, dh0, dWx, dWh, db) = gradients of sum(H * dh) where H = rnn_forward(...), dh upstream (N, T, H)."""
    inputs = _inputs(x, h0, Wx, Wh, b)
    upstream = as_float64("dh", dh, inputs[0].device)
    expect_shape("dh", upstream, (*inputs[0].shape[:2], inputs[1].shape[1]))
    _, (dx, dh0, dwx, dwh, db) = vjp(_unroll, inputs, upstream)
    return dx, dh0, dwx, dwh, db
