"""Gradients by torch.autograd: a generic vector-Jacobian product, two losses and an MLP."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from autograder.reference._validate import as_float64, as_labels, expect_dim, expect_shape

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
}


def vjp(fn: Callable[..., Tensor], inputs: Sequence[Tensor],
        upstream: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """out = fn(*inputs) and d/d(inputs) of sum(out * upstream), or of out itself when it is a scalar."""
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(inputs, Tensor) or not isinstance(inputs, Sequence):
        raise ValueError(f"inputs must be a list or tuple of tensors, got {type(inputs).__name__}")
    leaves: list[Tensor] = []
    for i, t in enumerate(inputs):
        leaves.append(as_float64(f"inputs[{i}]", t, leaves[0].device if leaves else None).requires_grad_())
    out = fn(*leaves)
    if not isinstance(out, Tensor) or not out.dtype.is_floating_point:
        raise ValueError(f"fn must return a floating-point tensor, got {getattr(out, 'dtype', type(out).__name__)}")
    out = out.to(torch.float64)
    if upstream is None:
        if out.numel() != 1:
            raise ValueError(f"upstream must be given when fn returns shape {tuple(out.shape)} (not a scalar)")
        seed = torch.ones_like(out)
    else:
        seed = as_float64("upstream", upstream, out.device)
        expect_shape("upstream", seed, tuple(out.shape))
    if not leaves or not out.requires_grad:  # fn ignored its inputs: every gradient is zero
        return out.detach(), tuple(torch.zeros_like(t) for t in leaves)
    grads = torch.autograd.grad(out, leaves, seed, allow_unused=True, materialize_grads=True)
    return out.detach(), tuple(grads)


def softmax_cross_entropy(logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """loss = mean_i -log softmax(logits_i)[y_i]; dlogits = (softmax(logits) - onehot(y)) / N."""
    z = as_float64("logits", logits)
    expect_dim("logits", z, 2, "(N, C)")
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"logits must have N >= 1 rows and C >= 1 classes, got shape {tuple(z.shape)}")
    labels = as_labels("y", y, z.shape[0], z.shape[1], z.device)
    loss, (dz,) = vjp(lambda t: F.cross_entropy(t, labels), [z])
    return loss, dz


def mse_loss(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """loss = mean((pred - target)^2) over all elements; dpred = 2 (pred - target) / numel."""
    p = as_float64("pred", pred)
    t = as_float64("target", target, p.device)
    expect_shape("target", t, tuple(p.shape))
    if p.numel() == 0:
        raise ValueError("pred must have at least one element (the mean of nothing is undefined)")
    loss, (dp,) = vjp(lambda q: ((q - t) ** 2).mean(), [p])
    return loss, dp


def _layer_count(params: object) -> int:
    """L for params with exactly the keys W1, b1, ..., WL, bL."""
    if not isinstance(params, Mapping) or not params:
        raise ValueError(f"params must be a non-empty dict with keys W1, b1, ..., WL, bL, got {params!r:.80}")
    n_layers = len(params) // 2
    expected = {f"{k}{l}" for l in range(1, n_layers + 1) for k in "Wb"}
    if set(params) != expected:
        raise ValueError(f"params must have keys W1, b1, ..., WL, bL, got {sorted(map(str, params))}")
    return n_layers


def mlp_loss_and_grads(params: dict[str, Tensor], x: Tensor, y: Tensor,
                       activation: str = "relu") -> tuple[Tensor, dict[str, Tensor]]:
    """Mean softmax cross-entropy of h_L, h_l = act(h_{l-1} W_l + b_l) (no act on layer L), and its gradients."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {activation!r}")
    act = ACTIVATIONS[activation]
    n_layers = _layer_count(params)
    h0 = as_float64("x", x)
    expect_dim("x", h0, 2, "(N, in)")
    if h0.shape[0] == 0:
        raise ValueError("x must have at least one row (the mean loss over no samples is undefined)")
    names, leaves, width = [], [], h0.shape[1]
    for l in range(1, n_layers + 1):
        w = as_float64(f"params['W{l}']", params[f"W{l}"], h0.device)
        if w.dim() != 2 or w.shape[0] != width:
            raise ValueError(f"params['W{l}'] must have shape ({width}, out), got {tuple(w.shape)}")
        b = as_float64(f"params['b{l}']", params[f"b{l}"], h0.device)
        expect_shape(f"params['b{l}']", b, (w.shape[1],))
        names += [f"W{l}", f"b{l}"]
        leaves += [w, b]
        width = w.shape[1]
    labels = as_labels("y", y, h0.shape[0], width, h0.device)

    def loss_fn(*wb: Tensor) -> Tensor:
        h = h0
        for l in range(n_layers):
            h = h @ wb[2 * l] + wb[2 * l + 1]
            h = act(h) if l < n_layers - 1 else h
        return F.cross_entropy(h, labels)

    loss, grads = vjp(loss_fn, leaves)
    return loss, dict(zip(names, grads, strict=True))
