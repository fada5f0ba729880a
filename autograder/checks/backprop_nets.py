"""Questions of the `backprop` assignment on whole networks: an MLP's loss and grads, a tanh RNN over time."""

from __future__ import annotations

from typing import Any

import torch

from autograder import reference
from autograder.checks.backprop_layers import randn, spec
from autograder.checks.builder import Mistake, Unusable, case_label, on_device, output_of, student, tensor_out, unpack
from autograder.checks.compare import describe
from autograder.checks.mistakes import backprop as wrong
from autograder.checks.spec import Case, Functions, Output
from autograder.message import say


def _mlp_case(gen: torch.Generator, label: Any, widths: list[int], activation: str | None, n: int = 5) -> Case:
    """One MLP case: params with He-like scale x 1.5, inputs and labels; activation omitted = default."""
    params = {}
    for k in range(1, len(widths)):
        params[f"W{k}"] = randn(gen, widths[k - 1], widths[k], scale=widths[k - 1] ** -0.5 * 1.5)
        params[f"b{k}"] = randn(gen, widths[k], scale=0.1)
    case = {"label": label, "params": params, "x": randn(gen, n, widths[0]),
            "y": torch.randint(0, widths[-1], (n,), generator=gen)}
    return case | ({"activation": activation} if activation else {})


def _mlp_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Visible: one case per activation; hidden adds the default, one layer, other shapes and float32."""
    cases = [_mlp_case(gen, _layers(3, "relu"), [4, 6, 5, 3], "relu"),
             _mlp_case(gen, _layers(2, "tanh"), [3, 5, 4], "tanh"),
             _mlp_case(gen, _layers(3, "sigmoid"), [4, 5, 5, 3], "sigmoid")]
    if hidden:
        cases += [_mlp_case(gen, case_label("label.layers_default", n=4, activation="relu"), [5, 4, 4, 4, 2], None),
                  _mlp_case(gen, case_label("label.one_layer"), [3, 4], "tanh"),
                  _mlp_case(gen, _layers(3, "tanh"), [2, 7, 3, 4], "tanh", 8),
                  _mlp_case(gen, _layers(2, "sigmoid"), [6, 3, 5], "sigmoid", 3)]
        cases.append({**cases[0], "label": case_label("label.with", settings="float32",
                                                      rest=say("label.layers", n=3, activation="relu")),
                      "dtype": "float32"})
    return cases


def _layers(n: int, activation: str) -> dict[str, Any]:
    """'3 layers, relu'."""
    return case_label("label.layers", n=n, activation=activation)


def _run_mlp(functions: Functions, case: Case) -> Output:
    """loss, grads = mlp_loss_and_grads(params, x, y[, activation]); every gradient checked and copied."""
    params = {k: on_device(v, case, f"params[{k!r}]") for k, v in case["params"].items()}
    x, y = on_device(case["x"], case, "x"), on_device(case["y"], case, "y")
    kwargs = {"activation": case["activation"]} if "activation" in case else {}
    loss, grads = unpack("mlp_loss_and_grads", student(functions, "mlp_loss_and_grads")(params, x, y, **kwargs), 2)
    if not isinstance(grads, dict):
        raise Unusable(say("unusable.grads_not_dict", function="mlp_loss_and_grads", keys=str(sorted(params)),
                           got=describe(grads)))
    out = {"loss": tensor_out(output_of("mlp_loss_and_grads", "loss"), loss, (), x)}
    for key, p in params.items():
        if key not in grads:
            raise Unusable(say("unusable.grads_key", function="mlp_loss_and_grads", key=repr(key),
                               keys=str(sorted(map(str, grads))[:8])))
        out[key] = tensor_out(f"grads[{key!r}]", grads[key], tuple(p.shape), p)
    return out


def _expect_mlp(case: Case) -> Output:
    """torch.autograd's loss and gradients."""
    loss, grads = reference.mlp_loss_and_grads(case["params"], case["x"], case["y"], case.get("activation", "relu"))
    return {"loss": loss, **grads}


def _mlp_mistake(name: str, hint: str, key: str) -> Mistake:
    """A mistake of the hand-written MLP kernel, by its switch name (its id)."""
    return Mistake(key, name, hint, lambda c: wrong.mlp(c["params"], c["x"], c["y"], c.get("activation", "relu"), key))


MLP = spec("mlp_loss_and_grads", 3, ("mlp_loss_and_grads",), _mlp_cases, _run_mlp, _expect_mlp, (
    _mlp_mistake("activation applied after the last layer", "the last layer's output goes straight into softmax",
                 "activation_after_last"),
    _mlp_mistake("activation derivative taken from the pre-activation",
                 "sigmoid' = s (1 - s) and tanh' = 1 - tanh^2 use the activation's OUTPUT",
                 "derivative_from_preactivation")), "MLP loss and gradients by backprop")


_RNN_KEYS = ("x", "h0", "Wx", "Wh", "b", "dh")


def _rnn_case(gen: torch.Generator, label: Any, n: int, t: int, d: int, h: int, wh_scale: float) -> Case:
    """One RNN case; wh_scale sets the size of Wh relative to 1/sqrt(H)."""
    return {"label": label, "x": randn(gen, n, t, d), "h0": randn(gen, n, h, scale=0.5),
            "Wx": randn(gen, d, h, scale=d ** -0.5), "Wh": randn(gen, h, h, scale=wh_scale * h ** -0.5),
            "b": randn(gen, h, scale=0.1), "dh": randn(gen, n, t, h)}


def _rnn_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Visible: T = 1 and T = 5; hidden adds large and small Wh and float32."""
    cases = [_rnn_case(gen, "T=1", 3, 1, 4, 5, 1.0), _rnn_case(gen, "T=5", 3, 5, 4, 5, 1.0)]
    if hidden:
        cases += [_rnn_case(gen, case_label("label.rnn.large", steps="T=8"), 2, 8, 3, 6, 2.0),
                  _rnn_case(gen, case_label("label.rnn.small", steps="T=6"), 4, 6, 2, 3, 0.3)]
        cases.append({**cases[1], "label": "float32, T=5", "dtype": "float32"})
    return cases


def _run_rnn(functions: Functions, case: Case) -> Output:
    """h, cache = rnn_forward(...); (dx, dh0, dWx, dWh, db) = rnn_backward(dh, cache)."""
    x, h0, Wx, Wh, b, dh = (on_device(case[k], case, k) for k in _RNN_KEYS)
    hs, cache = unpack("rnn_forward", student(functions, "rnn_forward")(x, h0, Wx, Wh, b), 2)
    grads = unpack("rnn_backward", student(functions, "rnn_backward")(dh, cache), 5)
    out: dict[str, Any] = {"h": tensor_out(output_of("rnn_forward", "h"), hs, tuple(dh.shape), x)}
    for name, value, like in zip(("dx", "dh0", "dWx", "dWh", "db"), grads, (x, h0, Wx, Wh, b), strict=True):
        out[name] = tensor_out(output_of("rnn_backward", name), value, tuple(like.shape), like)
    return out


def _expect_rnn(case: Case) -> Output:
    """torch.autograd's states and gradients through time."""
    inputs = [case[k] for k in _RNN_KEYS]
    dx, dh0, dWx, dWh, db = reference.rnn_backward(*inputs)
    return {"h": reference.rnn_forward(*inputs[:5]), "dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db}


RNN = spec("rnn", 3, ("rnn_forward", "rnn_backward"), _rnn_cases, _run_rnn, _expect_rnn, (
    Mistake("rnn_weights_not_accumulated", "RNN weight gradients not accumulated over time",
            "the same Wx, Wh, b are used at every step: dWx, dWh, db must SUM (+=) the contributions of all steps",
            lambda c: wrong.rnn_weights_not_accumulated(*(c[k] for k in _RNN_KEYS))),
    Mistake("rnn_no_carry", "gradient from later steps not carried back",
            "at step t add the gradient flowing into h_t from step t + 1 (carry = da_{t+1} Wh^T) to dh[:, t]",
            lambda c: wrong.rnn_no_carry(*(c[k] for k in _RNN_KEYS)))),
    "tanh RNN forward and backpropagation through time")
