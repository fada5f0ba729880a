"""Hand-written `backprop` students, one per named mistake, graded through the checks' contract."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch

from tests.test_mistake_names import Variant, assert_named, grade


def linear_forward(x, W, b):
    return x @ W + b, (x, W)


def linear_backward_db_mean(dout, cache):
    """Bug: db averaged over the batch."""
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.mean(dim=0)


def relu_forward(x):
    return torch.clamp(x, min=0), x


def relu_backward_at_zero(dout, cache):
    """Bug: the gradient passes where x >= 0."""
    return dout * (cache >= 0)


def activation(name, bug=None):
    """(forward, backward) of tanh or sigmoid with a bug switch."""
    def forward(x):
        if bug == "exp":  # the textbook formula with exp of the raw input: inf / inf at |x| ~ 1e3
            out = (x.exp() - (-x).exp()) / (x.exp() + (-x).exp()) if name == "tanh" else x.exp() / (1 + x.exp())
        else:
            out = torch.tanh(x) if name == "tanh" else torch.sigmoid(x)
        return out, (x if bug == "preactivation" else out)

    def backward(dout, cache):
        if name == "tanh":
            return dout * (1 - cache) if bug == "one_minus" else dout * (1 - cache ** 2)
        return dout * cache if bug == "s_only" else dout * cache * (1 - cache)
    return {f"{name}_forward": forward, f"{name}_backward": backward}


def cross_entropy(logits, y, bug=None):
    """Mean softmax cross-entropy with a bug switch."""
    n, c = logits.shape
    z = logits if bug == "unstable" else logits - logits.max(dim=1, keepdim=True).values
    log_p = z - torch.log(z.exp().sum(dim=1, keepdim=True))  # not log(softmax): that is -inf where it underflows
    p = log_p.exp()
    onehot = torch.zeros_like(p)
    onehot[torch.arange(n), y] = 1
    picked = -log_p[torch.arange(n), y]
    if bug == "sum":
        return picked.sum(), p - onehot
    if bug == "all_entries":
        return picked.sum() / (n * c), (p - onehot) / (n * c)
    return picked.mean(), (p - onehot) if bug == "grad_not_averaged" else (p - onehot) / n


def mse(pred, target, bug=None):
    """Mean squared error with a bug switch."""
    r = pred - target
    if bug == "batch_only":
        return (r ** 2).sum() / r.shape[0], 2 * r / r.shape[0]
    if bug == "sum":
        return (r ** 2).sum(), 2 * r
    d = {"no_two": r / r.numel(), "sign": 2 * (target - pred) / r.numel()}.get(bug or "", 2 * r / r.numel())
    return (r ** 2).mean(), d


def mlp(params, x, y, activation="relu", bug=None):
    """A loop over layers, forward then backward, with a bug switch."""
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    layers = len(params) // 2
    h, stack = x, []
    for k in range(1, layers + 1):
        a = h @ params[f"W{k}"] + params[f"b{k}"]
        out = a if k == layers and bug != "act_last" else act(a)
        stack.append((h, a, out))
        h = out
    loss, d = cross_entropy(h, y)
    grads = {}
    for k in range(layers, 0, -1):
        h_in, a, out = stack[k - 1]
        if k < layers or bug == "act_last":
            s = a if bug == "preactivation" else out
            d = d * {"relu": (a > 0).to(a.dtype), "tanh": 1 - s ** 2, "sigmoid": s * (1 - s)}[activation]
        grads[f"W{k}"], grads[f"b{k}"] = h_in.T @ d, d.sum(dim=0)
        d = d @ params[f"W{k}"].T
    return loss, grads


def rnn_forward(x, h0, Wx, Wh, b):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    out = torch.stack(hs, dim=1)
    return out, (x, h0, Wx, Wh, out)


def rnn_backward(dh, cache, bug=None):
    """Backpropagation through time with a bug switch."""
    x, h0, Wx, Wh, hs = cache
    dx = torch.zeros_like(x)
    dWx, dWh, db = torch.zeros_like(Wx), torch.zeros_like(Wh), torch.zeros_like(Wh[0])
    carry = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da = (dh[:, t] + (0 if bug == "no_carry" else carry)) * (1 - hs[:, t] ** 2)
        h_prev = hs[:, t - 1] if t > 0 else h0
        dx[:, t] = da @ Wx.T
        if bug == "overwrite":  # "=" where "+=" belongs
            dWx, dWh, db = x[:, t].T @ da, h_prev.T @ da, da.sum(dim=0)
        else:
            dWx, dWh, db = dWx + x[:, t].T @ da, dWh + h_prev.T @ da, db + da.sum(dim=0)
        carry = da @ Wh.T
    return dx, carry, dWx, dWh, db


def _one(function: str, fn: Callable[..., Any], bug: str) -> dict[str, Callable[..., Any]]:
    return {function: functools.partial(fn, bug=bug)}


def _rnn(bug: str) -> dict[str, Callable[..., Any]]:
    return {"rnn_forward": rnn_forward, "rnn_backward": functools.partial(rnn_backward, bug=bug)}


NAMED: list[Variant] = [
    ("linear", "db averaged over the batch", {"linear_forward": linear_forward,
                                              "linear_backward": linear_backward_db_mean}),
    ("relu", "ReLU gradient passed at x = 0", {"relu_forward": relu_forward, "relu_backward": relu_backward_at_zero}),
    ("sigmoid", "sigmoid derivative taken from the pre-activation", activation("sigmoid", "preactivation")),
    ("sigmoid", "sigmoid derivative written as s", activation("sigmoid", "s_only")),
    ("sigmoid", "sigmoid not numerically stable (exp overflows for inputs of size 1e3)", activation("sigmoid", "exp")),
    ("tanh", "tanh derivative taken from the pre-activation", activation("tanh", "preactivation")),
    ("tanh", "tanh derivative written as 1 - tanh", activation("tanh", "one_minus")),
    ("tanh", "tanh not numerically stable (exp overflows for inputs of size 1e3)", activation("tanh", "exp")),
    *[("softmax_cross_entropy", name, _one("softmax_cross_entropy", cross_entropy, bug))
      for name, bug in (("wrong mean in the loss: summed over the batch", "sum"),
                        ("wrong mean/axis in the loss: averaged over all N x C entries", "all_entries"),
                        ("cross-entropy gradient not divided by the batch size", "grad_not_averaged"),
                        ("not numerically stable (exp overflows at logits ~1e3)", "unstable"))],
    *[("mse_loss", name, _one("mse_loss", mse, bug))
      for name, bug in (("wrong mean/axis in the loss: averaged over the batch only", "batch_only"),
                        ("wrong mean in the loss: summed", "sum"), ("missing factor 2 in dpred", "no_two"),
                        ("sign of dpred flipped", "sign"))],
    ("mlp_loss_and_grads", "activation applied after the last layer",
     _one("mlp_loss_and_grads", mlp, "act_last")),
    ("mlp_loss_and_grads", "activation derivative taken from the pre-activation",
     _one("mlp_loss_and_grads", mlp, "preactivation")),
    ("rnn", "RNN weight gradients not accumulated over time", _rnn("overwrite")),
    ("rnn", "gradient from later steps not carried back", _rnn("no_carry")),
]


@pytest.mark.parametrize(("grade_id", "name", "functions"), NAMED, ids=[f"{g}:{n}" for g, n, _ in NAMED])
def test_backprop_student_gets_the_name(grade_id: str, name: str, functions: dict[str, Callable[..., Any]]) -> None:
    assert_named(grade("backprop", grade_id, functions), name)


@pytest.mark.parametrize(("grade_id", "functions"), [
    ("tanh", activation("tanh")), ("sigmoid", activation("sigmoid")),
    ("mlp_loss_and_grads", {"mlp_loss_and_grads": mlp}), ("rnn", _rnn("none")),
    ("softmax_cross_entropy", {"softmax_cross_entropy": cross_entropy}),
    ("mse_loss", {"mse_loss": mse})])
def test_the_students_without_bugs_pass(grade_id: str, functions: dict[str, Callable[..., Any]]) -> None:
    """The bug switches sit in an honest implementation: with none set, full marks."""
    outcome = grade("backprop", grade_id, functions)
    assert outcome.status == "passed", outcome.text()
