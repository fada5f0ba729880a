"""Every reference kernel: never mutates inputs, returns float64, and names the argument on bad input."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from autograder import reference as R
from tests.reference_helpers import F64, rand


def every_kernel(dtype: torch.dtype) -> list[tuple[str, Callable[[], object], list[torch.Tensor]]]:
    """One call of each kernel on fresh inputs of `dtype`, with the tensors it must leave untouched."""
    gen = torch.Generator().manual_seed(4)

    def r(*shape: int) -> torch.Tensor:
        return rand(*shape, gen=gen).to(dtype)
    params = {"W1": r(3, 4), "b1": r(4), "W2": r(4, 2), "b2": r(2)}
    x, y, z = r(5, 3), torch.tensor([0, 1, 1, 0, 1]), r(5, 2)
    rnn = [r(2, 3, 3), r(2, 4), r(3, 4), r(4, 4), r(4)]
    dh, p0, grads = r(2, 3, 4), r(3), [r(3), r(3)]
    return [
        ("mlp", lambda: R.mlp_loss_and_grads(params, x, y, "tanh"), [*params.values(), x, y]),
        ("xent", lambda: R.softmax_cross_entropy(z, y), [z, y]),
        ("mse", lambda: R.mse_loss(z, z.flip(0)), [z]),
        ("vjp", lambda: R.vjp(torch.exp, [z], z), [z]),
        ("rnn_forward", lambda: R.rnn_forward(*rnn), rnn),
        ("rnn_backward", lambda: R.rnn_backward(*rnn, dh), [*rnn, dh]),
        ("optimizer", lambda: R.optimizer_trajectory("adam", p0, grads, lr=0.1, weight_decay=0.1), [p0, *grads]),
        ("grad_norm", lambda: R.grad_norm(grads), grads),
        ("clip_norm", lambda: R.clip_grad_norm(grads, 0.1), grads),
        ("clip_value", lambda: R.clip_grad_value(grads, 0.1), grads),
    ]


def output_tensors(result: object) -> list[torch.Tensor]:
    """Every tensor inside a kernel's (nested) result."""
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (list, tuple)):
        return [t for item in result for t in output_tensors(item)]
    return []


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernels_never_mutate_and_return_float64(dtype: torch.dtype) -> None:
    for name, call, inputs in every_kernel(dtype):
        before = [t.clone() for t in inputs]
        outputs = output_tensors(call())
        assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(inputs, before, strict=True)), name
        assert outputs and all(o.dtype == F64 and o.device == inputs[0].device for o in outputs), name
        assert not any(o.requires_grad for o in outputs), name
        ids = {id(t) for t in inputs}
        assert all(id(o) not in ids for o in outputs), f"{name} returned one of its inputs"


# ---------------------------------------------------------------- bad input: ValueError naming the argument

_f, _i = torch.ones(2, 3), torch.ones(2, 3, dtype=torch.int64)
_P = {"W1": torch.ones(3, 4), "b1": torch.ones(4), "W2": torch.ones(4, 2), "b2": torch.ones(2)}
_Y = torch.tensor([0, 1])
_RNN = [torch.ones(2, 3, 5), torch.ones(2, 4), torch.ones(5, 4), torch.ones(4, 4), torch.ones(4)]


def _rnn_with(i: int, bad: object) -> list[object]:
    """The valid RNN arguments with argument i replaced by `bad`."""
    return [bad if k == i else t for k, t in enumerate(_RNN)]


BAD_CALLS: list[tuple[str, Callable[[], object]]] = [
    ("activation must be one of 'relu', 'tanh', 'sigmoid', got 'gelu'",
     lambda: R.mlp_loss_and_grads(_P, _f, _Y, "gelu")),
    ("params must have keys",
     lambda: R.mlp_loss_and_grads({"W1": _P["W1"], "b1": _P["b1"], "W3": _P["W2"], "b3": _P["b2"]}, _f, _Y)),
    ("params must be a non-empty dict", lambda: R.mlp_loss_and_grads({}, _f, _Y)),
    ("params['W2'] must have shape (4, out)", lambda: R.mlp_loss_and_grads({**_P, "W2": torch.ones(3, 2)}, _f, _Y)),
    ("params['b1'] must have shape (4,)", lambda: R.mlp_loss_and_grads({**_P, "b1": torch.ones(3)}, _f, _Y)),
    ("params['W1'] must be a floating-point tensor",
     lambda: R.mlp_loss_and_grads({**_P, "W1": torch.ones(3, 4, dtype=torch.int64)}, _f, _Y)),
    ("x must be a floating-point tensor", lambda: R.mlp_loss_and_grads(_P, _i, _Y)),
    ("x must be 2-D", lambda: R.mlp_loss_and_grads(_P, torch.ones(3), _Y)),
    ("x must have at least one row", lambda: R.mlp_loss_and_grads(_P, torch.ones(0, 3), _Y[:0])),
    ("y must be an int64 tensor", lambda: R.mlp_loss_and_grads(_P, _f, _Y.float())),
    ("y must be an int64 tensor", lambda: R.mlp_loss_and_grads(_P, _f, _Y.int())),
    ("y must have shape (2,)", lambda: R.mlp_loss_and_grads(_P, _f, torch.tensor([0, 1, 1]))),
    ("y must hold labels in [0, 2)", lambda: R.mlp_loss_and_grads(_P, _f, torch.tensor([0, 2]))),
    ("logits must be a floating-point tensor", lambda: R.softmax_cross_entropy(_i, _Y)),
    ("logits must be 2-D", lambda: R.softmax_cross_entropy(torch.ones(3), _Y)),
    ("y must be an int64 tensor", lambda: R.softmax_cross_entropy(_f, torch.tensor([True, False]))),
    ("target must have shape (2, 3)", lambda: R.mse_loss(_f, torch.ones(3, 2))),
    ("pred must be a floating-point tensor", lambda: R.mse_loss(_f.bool(), _f)),
    ("fn must be callable", lambda: R.vjp("exp", [_f])),
    ("inputs must be a list or tuple", lambda: R.vjp(torch.exp, _f)),
    ("inputs[1] must be a floating-point tensor", lambda: R.vjp(torch.mul, [_f, _i])),
    ("upstream must be given", lambda: R.vjp(torch.exp, [_f])),
    ("upstream must have shape (2, 3)", lambda: R.vjp(torch.exp, [_f], torch.ones(3))),
    ("fn must return a floating-point tensor", lambda: R.vjp(lambda t: t.tolist(), [_f])),
    ("x must be 3-D", lambda: R.rnn_forward(*_rnn_with(0, torch.ones(2, 5)))),
    ("x must be a floating-point tensor", lambda: R.rnn_forward(*_rnn_with(0, torch.ones(2, 3, 5, dtype=torch.int32)))),
    ("h0 must have shape (2, 4)", lambda: R.rnn_forward(*_rnn_with(1, torch.ones(3, 4)))),
    ("Wx must have shape (5, 4)", lambda: R.rnn_forward(*_rnn_with(2, torch.ones(4, 4)))),
    ("Wh must have shape (4, 4)", lambda: R.rnn_forward(*_rnn_with(3, torch.ones(4, 5)))),
    ("b must have shape (4,)", lambda: R.rnn_backward(*_rnn_with(4, torch.ones(1, 4)), torch.ones(2, 3, 4))),
    ("dh must have shape (2, 3, 4)", lambda: R.rnn_backward(*_RNN, torch.ones(2, 4))),
    ("h0 must be on cpu", lambda: R.rnn_forward(*_rnn_with(1, torch.ones(2, 4, device="meta")))),
    ("name must be one of 'sgd', 'rmsprop', 'adam', 'adamw', got 'lamb'",
     lambda: R.optimizer_trajectory("lamb", _f, [_f])),
    ("hyper-parameter 'beta1' is not one adam accepts", lambda: R.optimizer_trajectory("adam", _f, [_f], beta1=0.9)),
    ("hyper-parameter 'betas' is not one sgd accepts",
     lambda: R.optimizer_trajectory("sgd", _f, [_f], betas=(0.9, 0.9))),
    ("param0 must be a floating-point tensor", lambda: R.optimizer_trajectory("sgd", _i, [_f])),
    ("grads[1] must have shape (2, 3)", lambda: R.optimizer_trajectory("sgd", _f, [_f, torch.ones(3)])),
    ("grads[0] must be a torch.Tensor, got NoneType", lambda: R.optimizer_trajectory("sgd", _f, [None])),
    ("grads must be a list", lambda: R.optimizer_trajectory("sgd", _f, 3)),
    ("grads must be a list or tuple", lambda: R.grad_norm(_f)),
    ("grads[1] must be a torch.Tensor, got str", lambda: R.grad_norm([_f, "g"])),
    ("grads[0] must be a floating-point tensor", lambda: R.clip_grad_value([_i], 1.0)),
    ("grads[1] must be on cpu", lambda: R.clip_grad_norm([_f, torch.ones(2, device="meta")], 1.0)),
    ("norm_type must be a positive float or float('inf'), got 0", lambda: R.grad_norm([_f], 0)),
    ("norm_type must be a positive float", lambda: R.grad_norm([_f], -2.0)),
    ("norm_type must be a positive float", lambda: R.grad_norm([_f], math.nan)),
    ("norm_type must be a positive float", lambda: R.clip_grad_norm([_f], 1.0, norm_type="two")),
    ("norm_type must be a positive float", lambda: R.clip_grad_norm([_f], 1.0, norm_type=True)),
    ("max_norm must be a real number >= 0, got -1.0", lambda: R.clip_grad_norm([_f], -1.0)),
    ("max_norm must be a real number >= 0", lambda: R.clip_grad_norm([_f], math.nan)),
    ("max_norm must be a real number >= 0", lambda: R.clip_grad_norm([_f], torch.tensor(1.0))),
    ("error_if_nonfinite must be True or False", lambda: R.clip_grad_norm([_f], 1.0, error_if_nonfinite="yes")),
    ("clip_value must be a real number >= 0", lambda: R.clip_grad_value([_f], -0.5)),
]


@pytest.mark.parametrize(("message", "call"), BAD_CALLS, ids=[m[:40] for m, _ in BAD_CALLS])
def test_bad_input_raises_value_error_naming_the_argument(message: str, call: Callable[[], object]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_torch_value_checks_propagate() -> None:
    with pytest.raises(ValueError, match="Nesterov"):
        R.optimizer_trajectory("sgd", _f, [_f], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        R.optimizer_trajectory("adam", _f, [_f], lr=-1.0)
    assert R.grad_norm([torch.tensor([3.0, -4.0])], "inf").item() == 4.0  # torch's spelling of inf works too
