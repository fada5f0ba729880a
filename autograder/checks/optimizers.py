"""The `optimizers` assignment: one step of SGD, RMSprop, Adam and AdamW, graded against torch.optim.

A case is a whole trajectory (param0, one gradient per step, hyper-parameters); the student's step
function is called once per step with a state dict it owns, and the parameters after every step are
compared with torch.optim in float64, so t = 1, t > 1 and "first bad step" all show.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch

from autograder import reference
from autograder.checks.builder import CheckSpec, Mistake, build, case_label, on_device, student, tensor_out
from autograder.checks.compare import Tolerance
from autograder.checks.guard import watch
from autograder.checks.mistakes import optimizers as wrong
from autograder.checks.spec import Assignment, Case, Functions, Output
from autograder.message import Message, say

#: Mistake switch name -> (what the student did, what torch does instead).
HINTS = {
    "eps_inside_sqrt": ("eps inside the square root",
                        "torch adds eps after the square root: denom = sqrt(v) + eps (in Adam, sqrt(v_hat) + eps)"),
    "no_bias_correction": ("missing bias correction",
                           "torch divides m by 1 - beta1^t and v by 1 - beta2^t"),
    "step_not_incremented": ("step counter not incremented",
                             "keep t in state and add 1 before the bias correction at every call"),
    "step_off_by_one_ahead": ("step counter off by one (t + 1)",
                              "the first call uses t = 1: increment t, then bias-correct"),
    "step_off_by_one_behind": ("step counter off by one (t - 1)",
                               "increment t before the bias correction, so the first call uses t = 1"),
    "amsgrad_on_v_hat": ("AMSGrad on the bias-corrected v-hat instead of the raw v",
                         "torch keeps max(v_max, v) of the raw v, then divides by 1 - beta2^t"),
    "decoupled_weight_decay": ("L2 and decoupled weight decay swapped (decoupled used here)",
                               "this optimizer adds weight_decay * param to the gradient (L2), before the momentum "
                               "buffer and the adaptive denominator see it; adding it to the update after them "
                               "is decoupled decay"),
    "l2_weight_decay": ("L2 and decoupled weight decay swapped (L2 used here)",
                        "AdamW multiplies param by 1 - lr * weight_decay instead of adding to the gradient"),
    "dampening_first_step": ("dampening applied at the first step",
                             "torch's first momentum buffer is the raw gradient; dampening starts at step 2"),
    "step_read_before_increment": ("step count read before its increment (t - 1 in the bias correction)",
                                   "add 1 to state['step'] first, then read t for 1 - beta^t"),
    "bias_corrected_moments_stored": ("bias-corrected m-hat and v-hat stored in the state",
                                      "keep the raw m and v in the state; m-hat and v-hat are only for this step"),
    "nesterov_previous_buffer": ("Nesterov with the previous momentum buffer",
                                 "update the buffer first, then use g + momentum * (the NEW buffer)"),
    "nesterov_without_grad": ("Nesterov without + g",
                              "the Nesterov update is g + momentum * buffer, not momentum * buffer"),
    "dampening_as_weight": ("dampening used as the gradient's weight",
                            "the gradient enters the buffer with weight (1 - dampening), and not at all at step 1"),
    "alpha_swapped": ("alpha and 1 - alpha swapped",
                      "v = alpha * v + (1 - alpha) * g^2: alpha weights the OLD average"),
    "centered_without_squared_mean": ("centered RMSprop without the squared mean",
                                      "centered subtracts the squared running mean of g: sqrt(v - g_avg^2)"),
    "centered_mean_not_squared": ("centered RMSprop with the mean not squared",
                                  "subtract g_avg^2 (squared), not g_avg: sqrt(v - g_avg^2)"),
    "decay_without_lr": ("AdamW decay without the learning-rate factor",
                         "AdamW multiplies param by 1 - lr * weight_decay, not by 1 - weight_decay"),
    "decay_after_step": ("weight decay applied after the step",
                         "AdamW shrinks the parameter BEFORE the Adam update: param * (1 - lr * wd), then subtract"),
}
KERNELS: dict[str, Callable[..., torch.Tensor]] = {
    "sgd": wrong.sgd, "rmsprop": wrong.rmsprop, "adam": wrong.adam, "adamw": wrong.adamw}
MISTAKES = {"sgd": wrong.SGD_MISTAKES, "rmsprop": wrong.RMSPROP_MISTAKES, "adam": wrong.ADAM_MISTAKES,
            "adamw": wrong.ADAMW_MISTAKES}
FORBIDDEN = ("torch.optim", "torch.autograd", "Tensor.backward")
_SCALES = (1.0, 3.0, 0.1, 0.1, 2.0, 0.01, 1.0, 0.05)  # rising then falling: AMSGrad's max matters


def _hyper(case: Case) -> dict[str, Any]:
    """Hyper-parameters with betas as a tuple (JSON may have turned it into a list)."""
    hyper = dict(case["hyper"])
    if "betas" in hyper:
        hyper["betas"] = tuple(float(b) for b in hyper["betas"])
    return hyper


def _settings(hyper: dict[str, Any]) -> Message | str:
    """'lr=0.1, momentum=0.9' for a label, or 'defaults'."""
    return ", ".join(f"{k}={v}" for k, v in hyper.items()) or say("label.defaults")


def _label(hyper: dict[str, Any], steps: int, scale: float) -> dict[str, Any]:
    """'lr=0.1, 5 steps', 't=1 only' for one step, with the gradients' scale unless it is 1."""
    length = say("label.t1") if steps == 1 else say("label.steps", n=steps)
    if scale == 1.0:
        return case_label("label.optim", settings=_settings(hyper), length=length)
    return case_label("label.optim.scaled", settings=_settings(hyper), length=length, scale=f"{scale:.0e}")


def _case(gen: torch.Generator, label: Any, hyper: dict[str, Any], steps: int, scale: float,
          shape: tuple[int, ...] = (3, 4), dtype: str = "float64") -> Case:
    """One trajectory case: param0 ~ N(0, 1); grads[k] ~ N(0, 1) * scale * a rising-then-falling factor."""
    param0 = torch.randn(shape, generator=gen, dtype=torch.float64)
    factors = torch.tensor([_SCALES[k % len(_SCALES)] for k in range(steps)], dtype=torch.float64)
    grads = torch.randn((steps, *shape), generator=gen, dtype=torch.float64)
    grads = grads * factors.view(-1, *[1] * len(shape)) * scale
    return {"label": label, "param0": param0, "grads": grads, "hyper": hyper, "dtype": dtype}


def _run(name: str) -> Callable[[Functions, Case], Output]:
    """Call the student's <name>_step once per gradient with one state dict; collect the parameters."""
    def run(functions: Functions, case: Case) -> Output:
        """The trajectory of the student function."""
        fn = student(functions, f"{name}_step")
        param = watch("param", on_device(case["param0"], case), may_return=True)
        grads = on_device(case["grads"], case)
        state: dict[str, Any] = {}
        path = []
        for k in range(grads.shape[0]):
            new = fn(param, watch("grad", grads[k].clone()), state, **_hyper(case))
            path.append(tensor_out(say("what.step", function=f"{name}_step", step=k + 1), new, tuple(param.shape),
                                   param))
            param = new
        return {"params": torch.stack(path)}
    return run


def _expect(name: str) -> Callable[[Case], Output]:
    """torch.optim's trajectory for the case, in float64."""
    return lambda case: {"params": reference.optimizer_trajectory(name, case["param0"], list(case["grads"]),
                                                                   **_hyper(case))}


def _mistake(name: str, key: str) -> Mistake:
    """The Mistake for one switch of the hand-written kernel."""
    def kernel(case: Case) -> Output:
        """The mistaken kernel's trajectory."""
        return {"params": KERNELS[name](case["param0"], list(case["grads"]), **_hyper(case), mistake=key)}
    return Mistake(key, HINTS[key][0], HINTS[key][1], kernel)


def _tolerance(case: Case) -> Tolerance:
    """Tight in float64; float32 students are compared at float32 accuracy."""
    return Tolerance(1e-8, 1e-11) if case.get("dtype", "float64") == "float64" else Tolerance(1e-4, 1e-5)


def _question(name: str, grade_id: str, points: float, visible: list[tuple[dict[str, Any], int, float]],
              flags: dict[str, tuple[Any, ...]], base: dict[str, Any], description: str,
              mistakes: tuple[str, ...] | None = None) -> CheckSpec:
    """A question on <name>_step: fixed visible cases, hidden cases over every combination of `flags`,
    and the known mistakes its cases can reveal (default: all of the optimizer's)."""
    def make_visible() -> list[Case]:
        """The fixed visible cases (same inputs for everybody)."""
        gen = torch.Generator().manual_seed(1234)
        return [_case(gen, _label(hyper, steps, scale), hyper, steps, scale) for hyper, steps, scale in visible]

    def make_hidden(gen: torch.Generator) -> list[Case]:
        """One case per flag combination with random scale and length, plus a float32 case."""
        cases, combos = [], []
        for combo in itertools.product(*flags.values()):
            hyper = {**base, **dict(zip(flags, combo, strict=True))}
            hyper = {k: v for k, v in hyper.items() if v is not None}  # None = leave torch's default
            if hyper.get("nesterov") and hyper.get("dampening", 0):
                continue  # torch refuses Nesterov with dampening
            combos.append(hyper)
            scale = float(10 ** (torch.rand((), generator=gen) * 9 - 8))  # 1e-8 .. 10
            steps = int(torch.randint(1, 12, (), generator=gen))
            cases.append(_case(gen, _label(hyper, steps, scale), hyper, steps, scale))
        hyper = combos[-1]
        cases.append(_case(gen, case_label("label.float32", settings=_settings(hyper)), hyper, 6, 1.0, (5,),
                           "float32"))
        return cases

    return CheckSpec(grade_id=grade_id, points=points, functions=(f"{name}_step",), visible=make_visible,
                     hidden=make_hidden, run=_run(name), expect=_expect(name),
                     mistakes=tuple(_mistake(name, key) for key in (MISTAKES[name] if mistakes is None else mistakes)),
                     tolerance=_tolerance,
                     step_keys=frozenset({"params"}), description=description)


SPECS = (
    _question("sgd", "sgd_step_basic", 1, [
        ({"lr": 0.1}, 5, 1.0),
        ({"lr": 0.05, "weight_decay": 0.1}, 6, 1.0),
    ], {"weight_decay": (None, 0.3)}, {"lr": 0.07}, "plain SGD with L2 weight decay",
        ()),  # without momentum, L2 and decoupled decay coincide: nothing to diagnose
    _question("sgd", "sgd_step_momentum", 2, [
        ({"lr": 0.1, "momentum": 0.9}, 1, 1.0),
        ({"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, 6, 1.0),
        ({"lr": 0.1, "momentum": 0.9, "nesterov": True}, 6, 1.0),
        ({"lr": 0.1, "momentum": 0.8, "weight_decay": 0.2}, 6, 1.0),
    ], {"dampening": (None, 0.3), "weight_decay": (None, 0.1), "nesterov": (None, True)},
        {"lr": 0.05, "momentum": 0.7}, "SGD with momentum, dampening and Nesterov"),
    _question("rmsprop", "rmsprop_step_basic", 2, [
        ({}, 5, 1e-8),
        ({"lr": 0.01, "alpha": 0.9}, 8, 1.0),
        ({"lr": 0.01, "weight_decay": 0.1}, 6, 1.0),
    ], {"alpha": (None, 0.8), "weight_decay": (None, 0.2)}, {"lr": 0.01}, "RMSprop without momentum",
        ("eps_inside_sqrt", "decoupled_weight_decay", "alpha_swapped")),
    _question("rmsprop", "rmsprop_step_momentum_centered", 2, [
        ({"lr": 0.01, "momentum": 0.9}, 6, 1.0),
        ({"lr": 0.01, "centered": True}, 6, 1.0),
        ({"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}, 6, 1e-8),
    ], {"momentum": (None, 0.9), "centered": (None, True), "weight_decay": (None, 0.1)}, {"lr": 0.01},
        "RMSprop with momentum and centering"),
    _question("adam", "adam_step_basic", 3, [
        ({"lr": 0.1}, 1, 1.0),
        ({"lr": 0.1}, 8, 1.0),
        ({}, 6, 1e-8),
        ({"lr": 0.05, "betas": (0.8, 0.9)}, 8, 1.0),
    ], {"betas": (None, (0.5, 0.9))}, {"lr": 0.05}, "Adam: moments, bias correction, eps",
        ("eps_inside_sqrt", "no_bias_correction", "step_not_incremented", "step_off_by_one_ahead",
         "step_off_by_one_behind", "step_read_before_increment", "bias_corrected_moments_stored")),
    _question("adam", "adam_step_flags", 2, [
        ({"lr": 0.1, "weight_decay": 0.1}, 6, 1.0),
        ({"lr": 0.1, "amsgrad": True}, 8, 1.0),
        ({"lr": 0.1, "amsgrad": True, "weight_decay": 0.05}, 8, 1.0),
    ], {"weight_decay": (None, 0.2), "amsgrad": (None, True)}, {"lr": 0.05}, "Adam with L2 weight decay, AMSGrad"),
    _question("adamw", "adamw_step", 3, [
        ({}, 6, 1.0),
        ({"lr": 0.1, "weight_decay": 0.1}, 8, 1.0),
        ({"lr": 0.1, "amsgrad": True}, 8, 1.0),
        ({"lr": 0.1}, 1, 1e-8),
    ], {"weight_decay": (None, 0.3), "amsgrad": (None, True)}, {"lr": 0.05},
        "AdamW: decoupled weight decay"),
)

ASSIGNMENT = Assignment(id="optimizers", notebook="optimizers.ipynb", questions=tuple(build(s) for s in SPECS),
                        manual=(), forbidden=FORBIDDEN)
