"""Hand-written `optimizers` students (one step per call, state in a dict), one per named mistake."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch

from tests.test_mistake_names import Variant, assert_named, grade


def sgd_step(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, bug=None):
    """torch.optim.SGD, one step, with a switch for each student bug."""
    if weight_decay and bug != "decay_after_momentum":
        grad = grad + weight_decay * param
    if momentum:
        previous = state.get("buf", torch.zeros_like(grad))
        if "buf" not in state:
            first = {"dampening_first": (1 - dampening) * grad, "dampening_weight": dampening * grad}
            state["buf"] = first.get(bug, grad.clone())
        else:
            weight = dampening if bug == "dampening_weight" else 1 - dampening
            state["buf"] = momentum * state["buf"] + weight * grad
        if not nesterov:
            grad = state["buf"]
        elif bug == "nesterov_previous":
            grad = grad + momentum * previous
        elif bug == "nesterov_no_g":
            grad = momentum * state["buf"]
        else:
            grad = grad + momentum * state["buf"]
    if bug == "decay_after_momentum":  # decay added to the update after the momentum buffer
        grad = grad + weight_decay * param
    return param - lr * grad


def rmsprop_step(param, grad, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, bug=None):
    """torch.optim.RMSprop, one step, with bug switches."""
    if not state:
        state.update(square_avg=torch.zeros_like(param), grad_avg=torch.zeros_like(param),
                     buf=torch.zeros_like(param))
    if weight_decay and bug != "decay_after":
        grad = grad + weight_decay * param
    keep = 1 - alpha if bug == "alpha_swapped" else alpha
    state["square_avg"] = keep * state["square_avg"] + (1 - keep) * grad * grad
    avg = state["square_avg"]
    if centered:
        state["grad_avg"] = keep * state["grad_avg"] + (1 - keep) * grad
        if bug == "centered_plain":
            pass
        elif bug == "mean_not_squared":
            avg = avg - state["grad_avg"]
        else:
            avg = avg - state["grad_avg"] ** 2
    denom = torch.sqrt(avg + eps) if bug == "eps_inside" else torch.sqrt(avg) + eps
    update = grad / denom
    if momentum > 0:
        state["buf"] = momentum * state["buf"] + update
        update = state["buf"]
    if bug == "decay_after":
        update = update + weight_decay * param
    return param - lr * update


def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
              decoupled=False, bug=None):
    """torch.optim.Adam (decoupled=False) or AdamW, one step, written with m-hat and v-hat; bug switches."""
    beta1, beta2 = betas
    if not state:
        state.update(step=1 if bug in ("t_fixed", "t_ahead") else 0, m=torch.zeros_like(param),
                     v=torch.zeros_like(param), v_max=torch.zeros_like(param))
    if decoupled != (bug == "swap_decay"):
        param = param * (1 - (1 if bug == "decay_no_lr" else lr) * weight_decay) if bug != "decay_after" else param
    elif weight_decay:
        grad = grad + weight_decay * param
    if bug == "read_before":
        t = state["step"]
        state["step"] += 1
    elif bug != "t_fixed":
        state["step"] += 1
        t = state["step"] - 1 if bug == "t_behind" else state["step"]
    else:
        t = state["step"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    if bug == "no_correction" or (bug == "read_before" and t == 0):  # the guard against dividing by 1 - beta^0
        c1, c2 = 1.0, 1.0
    else:
        c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
    m_hat, v_hat = state["m"] / c1, state["v"] / c2
    if bug == "store_hats":
        state["m"], state["v"] = m_hat, v_hat
    if amsgrad:
        if bug in ("amsgrad_hat", "store_hats"):
            state["v_max"] = torch.maximum(state["v_max"], v_hat)
            v_hat = state["v_max"]
        else:
            state["v_max"] = torch.maximum(state["v_max"], state["v"])
            v_hat = state["v_max"] / c2
    denom = torch.sqrt(v_hat + eps) if bug == "eps_inside" else torch.sqrt(v_hat) + eps
    param = param - lr * m_hat / denom
    if bug == "decay_after":
        param = param * (1 - lr * weight_decay)
    return param


def _adamw_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                bug=None):
    """AdamW's signature (its default weight_decay is 1e-2)."""
    return adam_step(param, grad, state, lr, betas, eps, weight_decay, amsgrad, decoupled=True, bug=bug)


ADAM_BUGS = {
    "eps inside the square root": "eps_inside",
    "missing bias correction": "no_correction",
    "step counter not incremented": "t_fixed",
    "step counter off by one (t + 1)": "t_ahead",
    "step counter off by one (t - 1)": "t_behind",
    "step count read before its increment (t - 1 in the bias correction)": "read_before",
    "bias-corrected m-hat and v-hat stored in the state": "store_hats",
}
FLAGS_BUGS = {**ADAM_BUGS, "AMSGrad on the bias-corrected v-hat instead of the raw v": "amsgrad_hat"}
SGD_BUGS = {
    "dampening applied at the first step": "dampening_first",
    "L2 and decoupled weight decay swapped (decoupled used here)": "decay_after_momentum",
    "Nesterov with the previous momentum buffer": "nesterov_previous",
    "Nesterov without + g": "nesterov_no_g",
    "dampening used as the gradient's weight": "dampening_weight",
}
RMSPROP_BUGS = {
    "eps inside the square root": "eps_inside",
    "L2 and decoupled weight decay swapped (decoupled used here)": "decay_after",
    "alpha and 1 - alpha swapped": "alpha_swapped",
}
CENTERED_BUGS = {**RMSPROP_BUGS, "centered RMSprop without the squared mean": "centered_plain",
                 "centered RMSprop with the mean not squared": "mean_not_squared"}


def _variants(grade_id: str, name: str, step: Callable[..., Any], bugs: dict[str, str]) -> list[Variant]:
    return [(grade_id, mistake, {name: functools.partial(step, bug=bug)}) for mistake, bug in bugs.items()]


NAMED: list[Variant] = [
    *_variants("sgd_step_momentum", "sgd_step", sgd_step, SGD_BUGS),
    *_variants("rmsprop_step_basic", "rmsprop_step", rmsprop_step, RMSPROP_BUGS),
    *_variants("rmsprop_step_momentum_centered", "rmsprop_step", rmsprop_step, CENTERED_BUGS),
    *_variants("adam_step_basic", "adam_step", adam_step, ADAM_BUGS),
    *_variants("adam_step_flags", "adam_step", adam_step,
               {**FLAGS_BUGS, "L2 and decoupled weight decay swapped (decoupled used here)": "swap_decay"}),
    *_variants("adamw_step", "adamw_step", _adamw_step,
               {**FLAGS_BUGS, "L2 and decoupled weight decay swapped (L2 used here)": "swap_decay",
                "AdamW decay without the learning-rate factor": "decay_no_lr",
                "weight decay applied after the step": "decay_after"}),
]


@pytest.mark.parametrize(("grade_id", "name", "functions"), NAMED, ids=[f"{g}:{n}" for g, n, _ in NAMED])
def test_optimizer_student_gets_the_name(grade_id: str, name: str, functions: dict[str, Callable[..., Any]]) -> None:
    assert_named(grade("optimizers", grade_id, functions), name)


@pytest.mark.parametrize(("grade_id", "name", "step"), [
    ("sgd_step_momentum", "sgd_step", sgd_step), ("rmsprop_step_momentum_centered", "rmsprop_step", rmsprop_step),
    ("adam_step_flags", "adam_step", adam_step), ("adamw_step", "adamw_step", _adamw_step)])
def test_the_students_without_bugs_pass(grade_id: str, name: str, step: Callable[..., Any]) -> None:
    """The bug switches sit in an honest implementation: with none set, full marks."""
    outcome = grade("optimizers", grade_id, {name: step})
    assert outcome.status == "passed", outcome.text()


def test_a_float32_case_through_an_ill_conditioned_mistake_keeps_the_name() -> None:
    """Seed 11's float32 case: centered RMSprop with alpha swapped computes v - g_avg^2 with heavy cancellation,
    so the student's float32 trajectory is 1.4e-4 (relative) from the float64 mistake: still that mistake."""
    step = {"rmsprop_step": functools.partial(rmsprop_step, bug="alpha_swapped")}
    assert_named(grade("optimizers", "rmsprop_step_momentum_centered", step, seed=11), "alpha and 1 - alpha swapped")
