"""Questions of the `backprop` assignment on single layers and losses (linear, activations, CE, MSE).

Every gradient is compared with torch.autograd (through autograder.reference) in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from autograder import reference
from autograder.checks.builder import CheckSpec, Mistake, case_label, on_device, output_of, student, tensor_out, unpack
from autograder.checks.compare import Tolerance
from autograder.checks.mistakes import backprop as wrong
from autograder.checks.spec import Case, Functions, Output
from autograder.message import say


def tol(case: Case) -> Tolerance:
    """float64 students at float64 accuracy, float32 students at float32 accuracy."""
    return Tolerance(1e-8, 1e-10) if case.get("dtype", "float64") == "float64" else Tolerance(1e-4, 1e-5)


def randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    """float64 N(0, scale^2) draws."""
    return torch.randn(shape, generator=gen, dtype=torch.float64) * scale


def spec(grade_id: str, points: float, functions: tuple[str, ...], make: Callable[[torch.Generator, bool], list[Case]],
          run: Callable[[Functions, Case], Output], expect: Callable[[Case], Output],
          mistakes: tuple[Mistake, ...] = (), description: str = "") -> CheckSpec:
    """A CheckSpec whose visible cases come from a fixed generator and hidden ones add fresh draws."""
    return CheckSpec(grade_id=grade_id, points=points, functions=functions,
                     visible=lambda: make(torch.Generator().manual_seed(sum(map(ord, grade_id))), False),
                     hidden=lambda gen: make(gen, True), run=run, expect=expect, mistakes=mistakes,
                     tolerance=tol, description=description)


# ---- linear ------------------------------------------------------------------------------------------

def _linear_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Shapes including N = 1; hidden adds more shapes and float32."""
    dims = [(4, 3, 5), (1, 2, 2)] + ([(6, 5, 3), (3, 4, 1)] if hidden else [])
    cases = [{"label": f"N={n}, D={d}, M={m}", "x": randn(gen, n, d), "W": randn(gen, d, m),
              "b": randn(gen, m), "dout": randn(gen, n, m)} for n, d, m in dims]
    if hidden:
        cases.append({**cases[0], "label": "float32, N=4, D=3, M=5", "dtype": "float32"})
    return cases


def _run_linear(functions: Functions, case: Case) -> Output:
    """out, cache = linear_forward(x, W, b); dx, dW, db = linear_backward(dout, cache)."""
    x, W, b, dout = (on_device(case[k], case, k) for k in ("x", "W", "b", "dout"))
    out, cache = unpack("linear_forward", student(functions, "linear_forward")(x, W, b), 2)
    grads = unpack("linear_backward", student(functions, "linear_backward")(dout, cache), 3)
    result = {"out": tensor_out(output_of("linear_forward", "out"), out, tuple(dout.shape), x)}
    for name, value, like in zip(("dx", "dW", "db"), grads, (x, W, b), strict=True):
        result[name] = tensor_out(output_of("linear_backward", name), value, tuple(like.shape), like)
    return result


def _expect_linear(case: Case) -> Output:
    """torch.autograd's output and gradients of x W + b."""
    out, (dx, dW, db) = reference.vjp(lambda x, W, b: x @ W + b, [case["x"], case["W"], case["b"]], case["dout"])
    return {"out": out, "dx": dx, "dW": dW, "db": db}


LINEAR = spec("linear", 2, ("linear_forward", "linear_backward"), _linear_cases, _run_linear, _expect_linear,
               (Mistake("linear_db_mean", "db averaged over the batch",
                        "b is added to every row, so db = dout.sum(dim=0)",
                        lambda c: {"db": wrong.linear_db_mean(c["dout"])}),),
               "out = x W + b and its backward")


# ---- elementwise activations -------------------------------------------------------------------------

def _act_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Inputs with an exact 0 and saturated values; hidden adds 3-D inputs and float32."""
    x = randn(gen, 4, 5, scale=2.0)
    x[0, :3] = torch.tensor([0.0, 3.0, -3.0], dtype=torch.float64)  # exactly 0 and saturated values
    big = randn(gen, 3, 4, scale=300.0)
    big[0, :2] = torch.tensor([1e3, -1e3], dtype=torch.float64)  # exp(1e3) overflows: formulas must not use it raw
    cases = [{"label": case_label("label.act.zero"), "x": x, "dout": randn(gen, 4, 5)},
             {"label": case_label("label.act.big"), "x": big, "dout": randn(gen, 3, 4)}]
    if hidden:
        cases += [{"label": case_label("label.inputs", shape="3x2x4"), "x": randn(gen, 3, 2, 4, scale=3.0),
                   "dout": randn(gen, 3, 2, 4)},
                  {**cases[0], "label": case_label("label.inputs", shape="float32 4x5"), "dtype": "float32"}]
    return cases


def _activation(name: str, points: float, fn: Callable[[Tensor], Tensor], mistakes: tuple[Mistake, ...]) -> CheckSpec:
    """A question on one elementwise activation pair."""
    def run(functions: Functions, case: Case) -> Output:
        """out, cache = <name>_forward(x); dx = <name>_backward(dout, cache)."""
        x, dout = on_device(case["x"], case, "x"), on_device(case["dout"], case, "dout")
        out, cache = unpack(f"{name}_forward", student(functions, f"{name}_forward")(x), 2)
        dx = student(functions, f"{name}_backward")(dout, cache)
        return {"out": tensor_out(output_of(f"{name}_forward", "out"), out, tuple(x.shape), x),
                "dx": tensor_out(output_of(f"{name}_backward", "dx"), dx, tuple(x.shape), x)}

    def expect(case: Case) -> Output:
        """torch.autograd's output and input gradient."""
        out, (dx,) = reference.vjp(fn, [case["x"]], case["dout"])
        return {"out": out, "dx": dx}

    return spec(name, points, (f"{name}_forward", f"{name}_backward"), _act_cases, run, expect, mistakes,
                 f"{name} forward and backward")


def _overflow(name: str) -> Mistake:
    """exp-based formulas overflow to inf/NaN on inputs of size 1e3."""
    return Mistake(f"{name}_overflow", f"{name} not numerically stable (exp overflows for inputs of size 1e3)",
                   f"use torch.{name}, or a formula whose exp never sees a large positive argument",
                   lambda c: wrong.activation_from_exp(name, c["x"], c["dout"]),
                   matches=lambda c, out: wrong.overflowed(c["x"], out.get("out"), out.get("dx")))


RELU = _activation("relu", 1, torch.relu, (Mistake(
    "relu_grad_at_zero", "ReLU gradient passed at x = 0", "torch passes the gradient only where x > 0",
    lambda c: {"dx": wrong.relu_grad_at_zero(c["x"], c["dout"])}),))
SIGMOID = _activation("sigmoid", 1, torch.sigmoid, (Mistake(
    "sigmoid_from_preactivation", "sigmoid derivative taken from the pre-activation",
    "use s (1 - s) with s = sigmoid(x), cached by the forward",
    lambda c: {"dx": wrong.sigmoid_from_preactivation(c["x"], c["dout"])}), Mistake(
    "sigmoid_output_only", "sigmoid derivative written as s", "sigmoid'(x) = s (1 - s), not s",
    lambda c: {"dx": wrong.sigmoid_output_only(c["x"], c["dout"])}), _overflow("sigmoid")))
TANH = _activation("tanh", 1, torch.tanh, (Mistake(
    "tanh_from_preactivation", "tanh derivative taken from the pre-activation",
    "use 1 - tanh(x)^2, with tanh(x) cached by the forward",
    lambda c: {"dx": wrong.tanh_from_preactivation(c["x"], c["dout"])}), Mistake(
    "tanh_one_minus_output", "tanh derivative written as 1 - tanh",
    "tanh'(x) = 1 - tanh(x)^2: square the cached output",
    lambda c: {"dx": wrong.tanh_one_minus_output(c["x"], c["dout"])}), _overflow("tanh")))


# ---- losses ------------------------------------------------------------------------------------------

def _ce_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Small and N = 1 batches and logits of size 1e3; hidden adds a size and float32."""
    sizes = [(5, 4), (1, 3)] + ([(7, 6)] if hidden else [])
    cases = [{"label": f"N={n}, C={c}", "logits": randn(gen, n, c, scale=2.0),
              "y": torch.randint(0, c, (n,), generator=gen)} for n, c in sizes]
    big = randn(gen, 4, 3, scale=1e3)
    cases.append({"label": case_label("label.ce.big"), "logits": big, "y": torch.randint(0, 3, (4,), generator=gen)})
    if hidden:
        cases.append({**cases[0], "label": "float32 N=5, C=4", "dtype": "float32"})
    return cases


def _run_ce(functions: Functions, case: Case) -> Output:
    """loss, dlogits = softmax_cross_entropy(logits, y)."""
    logits, y = on_device(case["logits"], case, "logits"), on_device(case["y"], case, "y")
    loss, d = unpack("softmax_cross_entropy", student(functions, "softmax_cross_entropy")(logits, y), 2)
    return {"loss": tensor_out(output_of("softmax_cross_entropy", "loss"), loss, (), logits),
            "dlogits": tensor_out(output_of("softmax_cross_entropy", "dlogits"), d, tuple(logits.shape), logits)}


def _overflowed(case: Case, out: Output) -> bool:
    """True when a case with logits ~1e3 came back with inf/NaN (the unstable exp overflowed)."""
    return float(case["logits"].abs().max()) > 100 and wrong.has_nonfinite(out.get("loss"), out.get("dlogits"))


def _ce(case: Case) -> Output:
    """torch's mean cross-entropy and its gradient."""
    loss, d = reference.softmax_cross_entropy(case["logits"], case["y"])
    return {"loss": loss, "dlogits": d}


CROSS_ENTROPY = spec("softmax_cross_entropy", 2, ("softmax_cross_entropy",), _ce_cases, _run_ce, _ce, (
    Mistake("ce_sum_over_batch", "wrong mean in the loss: summed over the batch",
            "average over the N rows: loss / N and dlogits / N",
            lambda c: wrong.ce_sum_over_batch(c["logits"], c["y"])),
    Mistake("ce_mean_over_all_entries", "wrong mean/axis in the loss: averaged over all N x C entries",
            "average over the N rows only",
            lambda c: wrong.ce_mean_over_all_entries(c["logits"], c["y"])),
    Mistake("ce_grad_not_averaged", "cross-entropy gradient not divided by the batch size",
            "the loss is a mean over N rows, so dlogits = (softmax - onehot) / N",
            lambda c: wrong.ce_grad_not_averaged(c["logits"], c["y"])),
    Mistake("ce_unstable", "not numerically stable (exp overflows at logits ~1e3)",
            "subtract each row's max before exp (log-sum-exp)", lambda c: wrong.ce_unstable(c["logits"], c["y"]),
            matches=_overflowed)),
    "mean softmax cross-entropy and its gradient")


def _mse_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """2-D and 1-D shapes; hidden adds 3-D and float32."""
    shapes = [(4, 3), (6,)] + ([(2, 3, 2)] if hidden else [])
    cases = [{"label": case_label("label.shape", shape=str(s)), "pred": randn(gen, *s), "target": randn(gen, *s)}
             for s in shapes]
    float32 = say("label.shape", shape=str(shapes[0]))
    return cases + ([{**cases[0], "label": case_label("label.with", settings="float32", rest=float32),
                      "dtype": "float32"}] if hidden else [])


def _run_mse(functions: Functions, case: Case) -> Output:
    """loss, dpred = mse_loss(pred, target)."""
    pred, target = on_device(case["pred"], case, "pred"), on_device(case["target"], case, "target")
    loss, d = unpack("mse_loss", student(functions, "mse_loss")(pred, target), 2)
    return {"loss": tensor_out(output_of("mse_loss", "loss"), loss, (), pred),
            "dpred": tensor_out(output_of("mse_loss", "dpred"), d, tuple(pred.shape), pred)}


def _mse(case: Case) -> Output:
    """torch's mean squared error and its gradient."""
    loss, d = reference.mse_loss(case["pred"], case["target"])
    return {"loss": loss, "dpred": d}


MSE = spec("mse_loss", 1, ("mse_loss",), _mse_cases, _run_mse, _mse, (
    Mistake("mse_mean_over_batch", "wrong mean/axis in the loss: averaged over the batch only",
            "average over ALL elements (numel)",
            lambda c: wrong.mse_mean_over_batch(c["pred"], c["target"])),
    Mistake("mse_sum", "wrong mean in the loss: summed", "average over all elements",
            lambda c: wrong.mse_sum(c["pred"], c["target"])),
    Mistake("mse_no_factor_two", "missing factor 2 in dpred", "d/dpred mean((pred - t)^2) = 2 (pred - t) / numel",
            lambda c: wrong.mse_no_factor_two(c["pred"], c["target"])),
    Mistake("mse_sign_flipped", "sign of dpred flipped", "d/dpred (pred - target)^2 = +2 (pred - target)",
            lambda c: wrong.mse_sign_flipped(c["pred"], c["target"]))), "mean squared error and its gradient")
