"""Student-written variants, graded end to end: correct alternatives earn full marks, each realistic bug
loses points with a message that names (or locates) it, and a named mistake earns at most half."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from autograder.checks import get_assignment
from autograder.checks.builder import MISTAKE_CAP
from autograder.checks.spec import Outcome


def grade(assignment: str, grade_id: str, **functions: Callable[..., Any]) -> Outcome:
    """Hidden cases for seed 3, through call and judge, as the batch grader does."""
    question = get_assignment(assignment).question(grade_id)
    cases = question.make_cases(torch.Generator().manual_seed(3), True)
    return question.judge(cases, [question.call(functions, case) for case in cases])


# ---- optimizers ----------------------------------------------------------------------------------------

def sgd(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, bug=None):
    """torch.optim.SGD, with a switch for the bugs below."""
    if weight_decay != 0 and bug != "decay_after":
        grad = grad + weight_decay * param
    if momentum != 0:
        old = state.get("buf", torch.zeros_like(grad))
        keep = dampening if bug == "dampening_weight" else 1 - dampening
        first = keep * grad if bug == "dampening_weight" else grad.clone()
        state["buf"] = first if "buf" not in state else momentum * state["buf"] + keep * grad
        if nesterov:
            grad = {"nesterov_old": grad + momentum * old, "nesterov_no_g": momentum * state["buf"]}.get(
                bug or "", grad + momentum * state["buf"])
        else:
            grad = state["buf"]
    if bug == "decay_after":
        grad = grad + weight_decay * param
    return param - lr * grad


def sgd_grad_in_place(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """Bug: the caller's gradient is changed (grad += wd * param)."""
    if weight_decay != 0:
        grad += weight_decay * param
    return sgd(param, grad, state, lr, momentum, dampening, 0.0, nesterov)


def sgd_grad_through_data(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """Bug: the caller's gradient is changed through .data (a write torch's version counter does not see)."""
    if weight_decay != 0:
        grad.data.add_(weight_decay * param)
    return sgd(param, grad, state, lr, momentum, dampening, 0.0, nesterov)


def sgd_buffer_aliases_grad(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """Bug: the momentum buffer is the first step's grad itself, updated in place at every later step."""
    g = grad + weight_decay * param if weight_decay != 0 else grad
    if momentum != 0:
        if "buf" not in state:
            state["buf"] = g
        else:
            state["buf"].mul_(momentum).add_(g, alpha=1 - dampening)
        g = g + momentum * state["buf"] if nesterov else state["buf"]
    return param - lr * g


def sgd_param_through_data_returned(param, grad, state, lr, **hyper):
    """Correct alternative: param updated through .data and returned."""
    param.data.copy_(sgd(param, grad, state, lr, **hyper))
    return param


def sgd_param_in_place_returned(param, grad, state, lr, **hyper):
    """Correct alternative: param updated in place and returned, as torch.optim does."""
    new = sgd(param, grad, state, lr, **hyper)
    param.copy_(new)
    return param


def adam(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         decoupled=False, bug=None):
    """torch.optim.Adam / AdamW written the textbook way (m-hat, v-hat), with bug switches."""
    b1, b2 = betas
    if not state:
        state.update(step=0, m=torch.zeros_like(param), v=torch.zeros_like(param), vmax=torch.zeros_like(param))
    if decoupled:
        param = param * (1 - (1 if bug == "decay_no_lr" else lr) * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * param
    t_before = state["step"]
    state["step"] += 1
    t = t_before if bug == "read_before" else state["step"]
    state["m"] = b1 * state["m"] + (1 - b1) * grad
    state["v"] = b2 * state["v"] + (1 - b2) * grad * grad
    if amsgrad:
        state["vmax"] = torch.maximum(state["vmax"], state["v"])
    v = state["vmax"] if amsgrad else state["v"]
    c1, c2 = (1 - b1 ** t, 1 - b2 ** t) if t > 0 else (1.0, 1.0)
    m_hat, v_hat = state["m"] / c1, v / c2
    if bug == "float32":
        return (param.float() - lr * m_hat.float() / (v_hat.float().sqrt() + eps)).to(param.dtype)
    return param - lr * m_hat / (v_hat.sqrt() + eps)


def adam_in_place(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    """Correct alternative: in-place state updates (mul_/add_/addcmul_) and an in-place step on param."""
    b1, b2 = betas
    if not state:
        state.update(step=0, m=torch.zeros_like(param), v=torch.zeros_like(param), vmax=torch.zeros_like(param))
    if weight_decay:
        grad = grad.add(param, alpha=weight_decay)
    state["step"] += 1
    t = state["step"]
    state["m"].mul_(b1).add_(grad, alpha=1 - b1)
    state["v"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
    v = torch.maximum(state["vmax"], state["v"], out=state["vmax"]) if amsgrad else state["v"]
    denom = (v / (1 - b2 ** t)).sqrt_().add_(eps)
    param.addcdiv_(state["m"], denom, value=-lr / (1 - b1 ** t))
    return param


def rmsprop(param, grad, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
            bug=None):
    """torch.optim.RMSprop with bug switches."""
    if not state:
        state.update(v=torch.zeros_like(param), g=torch.zeros_like(param), b=torch.zeros_like(param))
    if weight_decay:
        grad = grad + weight_decay * param
    state["v"] = alpha * state["v"] + (1 - alpha) * grad ** 2
    v = state["v"]
    if centered:
        state["g"] = alpha * state["g"] + (1 - alpha) * grad
        v = {"centered_plain": v, "mean_not_squared": v - state["g"]}.get(bug or "", v - state["g"] ** 2)
    denom = v.sqrt() + eps
    if momentum > 0:
        state["b"] = momentum * state["b"] + grad / denom
        return param - lr * state["b"]
    return param - lr * grad / denom


def adam_torch_form(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                    decoupled=False):
    """Correct alternative in torch's own arithmetic: lerp_, addcmul_, sqrt(v) / sqrt(1 - beta2^t) + eps, addcdiv_."""
    beta1, beta2 = betas
    p = param.clone()
    if not state:
        state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p), v_max=torch.zeros_like(p))
    if decoupled:
        p.mul_(1 - lr * weight_decay)
    elif weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    state["step"] += 1
    t = state["step"]
    state["m"].lerp_(grad, 1 - beta1)
    state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    if amsgrad:
        torch.maximum(state["v_max"], state["v"], out=state["v_max"])
    v = state["v_max"] if amsgrad else state["v"]
    denom = (v.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
    return p.addcdiv_(state["m"], denom, value=-lr / (1 - beta1 ** t))


def adam_kingma_ba_eps(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    """Bug: the paper's "efficient" form lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), m / (sqrt(v) + eps): its eps
    is torch's eps times sqrt(1 - beta2^t), which shows when the gradients are as small as eps."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, m=torch.zeros_like(param), v=torch.zeros_like(param))
    state["step"] += 1
    t = state["step"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    return param - lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * state["m"] / (state["v"].sqrt() + eps)


def rmsprop_torch_form(param, grad, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                       centered=False):
    """Correct alternative in torch's own arithmetic: addcmul_, lerp_, addcmul(-1).sqrt_().add_(eps), addcdiv_."""
    p = param.clone()
    if not state:
        state.update(v=torch.zeros_like(p), g=torch.zeros_like(p), b=torch.zeros_like(p))
    if weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    state["v"].mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    if centered:
        state["g"].lerp_(grad, 1 - alpha)
        avg = state["v"].addcmul(state["g"], state["g"], value=-1).sqrt_()
    else:
        avg = state["v"].sqrt()
    avg.add_(eps)
    if momentum > 0:
        state["b"].mul_(momentum).addcdiv_(grad, avg)
        return p.add_(state["b"], alpha=-lr)
    return p.addcdiv_(grad, avg, value=-lr)


OPTIMIZER_CASES = [
    ("sgd_step_momentum", "sgd_step", lambda **k: sgd(**k), None),
    ("sgd_step_momentum", "sgd_step", sgd_param_in_place_returned, None),
    ("sgd_step_momentum", "sgd_step", lambda **k: sgd(**k, bug="nesterov_old"), "Nesterov with the previous"),
    ("sgd_step_momentum", "sgd_step", lambda **k: sgd(**k, bug="nesterov_no_g"), "Nesterov without + g"),
    ("sgd_step_momentum", "sgd_step", lambda **k: sgd(**k, bug="dampening_weight"), "dampening used as"),
    ("sgd_step_momentum", "sgd_step", lambda **k: sgd(**k, bug="decay_after"), "decoupled used here"),
    ("sgd_step_momentum", "sgd_step", sgd_grad_in_place, "sgd_step changed its input grad in place"),
    ("sgd_step_momentum", "sgd_step", sgd_grad_through_data, "sgd_step changed its input grad in place"),
    ("sgd_step_momentum", "sgd_step", sgd_buffer_aliases_grad, "sgd_step changed its input grad in place"),
    ("sgd_step_momentum", "sgd_step", sgd_param_through_data_returned, None),
    ("adam_step_basic", "adam_step", lambda **k: adam(**k), None),
    ("adam_step_basic", "adam_step", adam_in_place, None),
    ("adam_step_flags", "adam_step", adam_in_place, None),
    ("adam_step_basic", "adam_step", lambda **k: adam(**k, bug="read_before"), "read before its increment"),
    ("adam_step_basic", "adam_step", lambda **k: adam(**k, bug="float32"), "computed in float32"),
    ("adamw_step", "adamw_step", lambda weight_decay=1e-2, **k: adam(**k, weight_decay=weight_decay, decoupled=True),
     None),
    ("adamw_step", "adamw_step", lambda weight_decay=1e-2, **k: adam(**k, weight_decay=weight_decay, decoupled=True,
                                                                    bug="decay_no_lr"), "without the learning-rate"),
    ("rmsprop_step_momentum_centered", "rmsprop_step", lambda **k: rmsprop(**k), None),
    ("rmsprop_step_momentum_centered", "rmsprop_step", rmsprop_torch_form, None),
    ("rmsprop_step_basic", "rmsprop_step", rmsprop_torch_form, None),
    ("adam_step_basic", "adam_step", adam_torch_form, None),
    ("adam_step_flags", "adam_step", adam_torch_form, None),
    ("adamw_step", "adamw_step", lambda weight_decay=1e-2, **k: adam_torch_form(**k, weight_decay=weight_decay,
                                                                              decoupled=True), None),
    ("adam_step_basic", "adam_step", adam_kingma_ba_eps, "differs"),
    ("rmsprop_step_momentum_centered", "rmsprop_step", lambda **k: rmsprop(**k, bug="centered_plain"),
     "without the squared mean"),
    ("rmsprop_step_momentum_centered", "rmsprop_step", lambda **k: rmsprop(**k, bug="mean_not_squared"),
     "mean not squared"),
]


def _positional(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The checks call step(param, grad, state, **hyper)."""
    return lambda param, grad, state, **hyper: fn(param=param, grad=grad, state=state, **hyper)


@pytest.mark.parametrize(("grade_id", "name", "fn", "named"), OPTIMIZER_CASES,
                         ids=[f"{g}:{n or 'correct'}:{i}" for i, (g, _, _, n) in enumerate(OPTIMIZER_CASES)])
def test_optimizer_variants(grade_id: str, name: str, fn: Callable[..., Any], named: str | None) -> None:
    outcome = grade("optimizers", grade_id, **{name: _positional(fn)})
    _expect(outcome, named)


def _expect(outcome: Outcome, named: str | None) -> None:
    """Full marks for a correct variant; otherwise fewer points and the bug named in the message."""
    if named is None:
        assert outcome.status == "passed", outcome.text()
        return
    assert outcome.score < outcome.max_score and named in outcome.text(), outcome.text()
    if outcome.mistakes:
        assert outcome.score <= outcome.max_score * MISTAKE_CAP


# ---- backprop ------------------------------------------------------------------------------------------

def relu_forward(x):
    """Correct alternative: torch.where."""
    return torch.where(x > 0, x, torch.zeros_like(x)), x


def relu_backward(dout, cache):
    """Correct alternative: torch.where."""
    return torch.where(cache > 0, dout, torch.zeros_like(dout))


def relu_backward_in_place(dout, cache):
    """Bug: zeroes the caller's dout."""
    dout[cache <= 0] = 0
    return dout


def relu_forward_in_place(x):
    """Bug: clamps the caller's x."""
    return x.clamp_(min=0), x


def tanh_forward_exp(x):
    """Bug: tanh from exp overflows to NaN for |x| ~ 1e3."""
    u = (x.exp() - (-x).exp()) / (x.exp() + (-x).exp())
    return u, u


def tanh_forward(x):
    """Correct."""
    u = torch.tanh(x)
    return u, u


def tanh_backward(dout, cache):
    """Correct."""
    return dout * (1 - cache ** 2)


def tanh_backward_one_minus(dout, cache):
    """Bug: 1 - tanh instead of 1 - tanh^2."""
    return dout * (1 - cache)


def linear_forward_loops(x, W, b):
    """Correct alternative: element loops."""
    out = torch.zeros(x.shape[0], W.shape[1], dtype=x.dtype, device=x.device)
    for n in range(x.shape[0]):
        for m in range(W.shape[1]):
            out[n, m] = sum(x[n, d] * W[d, m] for d in range(x.shape[1])) + b[m]
    return out, (x, W)


def linear_backward_loops(dout, cache):
    """Correct alternative: element loops for db, matrix products for the rest."""
    x, W = cache
    db = torch.zeros(dout.shape[1], dtype=dout.dtype, device=dout.device)
    for n in range(dout.shape[0]):
        db = db + dout[n]
    return dout @ W.T, x.T @ dout, db


def ce_logsumexp(logits, y):
    """Correct alternative: torch.logsumexp and softmax."""
    n = logits.shape[0]
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    onehot = torch.zeros_like(logits)
    onehot[torch.arange(n, device=logits.device), y] = 1
    return -(log_p * onehot).sum() / n, (torch.softmax(logits, dim=1) - onehot) / n


def ce_grad_not_averaged(logits, y):
    """Bug: dlogits not divided by N."""
    loss, d = ce_logsumexp(logits, y)
    return loss, d * logits.shape[0]


def mse_in_place(pred, target):
    """Bug: pred -= target changes the caller's prediction."""
    pred -= target
    return (pred ** 2).mean(), 2 * pred / pred.numel()


def mse_long_error(pred, target):
    """A student helper that raises with a long message."""
    raise ValueError("shapes do not match: " + "x" * 400 + " END")


def rnn_forward(x, h0, Wx, Wh, b):
    """Correct."""
    h, states = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    hs = torch.stack(states, dim=1)
    return hs, (x, h0, Wx, Wh, hs)


def rnn_backward_in_place(dh, cache):
    """Bug: the carry is added into the caller's dh."""
    x, h0, Wx, Wh, hs = cache
    dx, dWx, dWh, db = torch.zeros_like(x), torch.zeros_like(Wx), torch.zeros_like(Wh), torch.zeros_like(Wh[0])
    carry = torch.zeros_like(h0)
    for t in range(x.shape[1] - 1, -1, -1):
        dh[:, t] += carry
        da = dh[:, t] * (1 - hs[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx, dWh, db = dWx + x[:, t].T @ da, dWh + (hs[:, t - 1] if t else h0).T @ da, db + da.sum(dim=0)
        carry = da @ Wh.T
    return dx, carry, dWx, dWh, db


BACKPROP_CASES = [
    ("relu", {"relu_forward": relu_forward, "relu_backward": relu_backward}, None),
    ("relu", {"relu_forward": relu_forward, "relu_backward": relu_backward_in_place},
     "relu_backward changed its input dout in place"),
    ("relu", {"relu_forward": relu_forward_in_place, "relu_backward": relu_backward},
     "relu_forward changed its input x in place"),
    ("tanh", {"tanh_forward": tanh_forward, "tanh_backward": tanh_backward}, None),
    ("tanh", {"tanh_forward": tanh_forward_exp, "tanh_backward": tanh_backward}, "exp overflows"),
    ("tanh", {"tanh_forward": tanh_forward, "tanh_backward": tanh_backward_one_minus}, "written as 1 - tanh"),
    ("linear", {"linear_forward": linear_forward_loops, "linear_backward": linear_backward_loops}, None),
    ("softmax_cross_entropy", {"softmax_cross_entropy": ce_logsumexp}, None),
    ("softmax_cross_entropy", {"softmax_cross_entropy": ce_grad_not_averaged}, "not divided by the batch size"),
    ("mse_loss", {"mse_loss": mse_in_place}, "mse_loss changed its input pred in place"),
    ("rnn", {"rnn_forward": rnn_forward, "rnn_backward": rnn_backward_in_place},
     "rnn_backward changed its input dh in place"),
]


@pytest.mark.parametrize(("grade_id", "functions", "named"), BACKPROP_CASES,
                         ids=[f"{g}:{n or 'correct'}:{i}" for i, (g, _, n) in enumerate(BACKPROP_CASES)])
def test_backprop_variants(grade_id: str, functions: dict[str, Callable[..., Any]], named: str | None) -> None:
    _expect(grade("backprop", grade_id, **functions), named)


def test_student_exception_shows_its_frame_and_whole_text() -> None:
    outcome = grade("backprop", "mse_loss", mse_loss=mse_long_error)
    assert outcome.score == 0 and "raised ValueError: shapes do not match" in outcome.text()
    assert " END" in outcome.text(), "the exception text must not be cut"
    assert "in mse_long_error, test_checks_variants.py, line" in outcome.text()
    assert "raise ValueError(" in outcome.text(), "the failing source line is quoted"


# ---- clipping ------------------------------------------------------------------------------------------

def grad_norm(grads, norm_type=2.0):
    """Correct alternative: one vector of all entries."""
    flat = [g.reshape(-1) for g in grads if g is not None]
    if not flat:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.cat(flat), norm_type)


def grad_norm_float32(grads, norm_type=2.0):
    """Bug: the norm computed in float32."""
    value = grad_norm([None if g is None else g.float() for g in grads], norm_type)
    like = next((g for g in grads if g is not None), value)
    return value.to(like.dtype)


def grad_norm_abs_in_place(grads, norm_type=2.0):
    """Bug: takes |g| in place, changing the caller's gradients."""
    for g in grads:
        if g is not None:
            g.abs_()
    return grad_norm(grads, norm_type)


def clip_into_list(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Bug: clipped copies written into the list; the caller's tensors stay unchanged."""
    total = grad_norm(grads, norm_type)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    grads[:] = [None if g is None else g * coef for g in grads]
    return total


def clip(grads, max_norm, norm_type=2.0, error_if_nonfinite=False, bug=None):
    """Correct clip_grad_norm with a coefficient as a Python float, with bug switches."""
    total = grad_norm(grads, norm_type)
    if error_if_nonfinite and not torch.isfinite(total) and bug != "raise_late":
        raise RuntimeError("non-finite total norm")
    coef = max_norm / (float(total) + 1e-6)
    coef = coef if coef < 1.0 or coef != coef else 1.0  # NaN must flow through, as in torch
    if bug == "only_above" and not float(total) > max_norm:
        coef = 1.0
    for g in grads:
        if g is not None:
            g.mul_(coef)
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError("non-finite total norm (after clipping)")
    return total * coef if bug == "post_clip" else total


def clip_mul_div(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Correct alternative: g * max_norm / max(total + 1e-6, max_norm), two roundings instead of one factor."""
    total = grad_norm(grads, norm_type)
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError("non-finite total norm")
    denom = torch.maximum(total + 1e-6, torch.as_tensor(float(max_norm), dtype=total.dtype))
    for g in grads:
        if g is not None:
            g.mul_(max_norm).div_(denom)
    return total


CLIPPING_CASES = [
    ("clip_grad_norm_basic", {"clip_grad_norm": clip_mul_div}, None),
    ("clip_grad_norm_flags", {"clip_grad_norm": clip_mul_div}, None),
    ("grad_norm", {"grad_norm": grad_norm}, None),
    ("grad_norm", {"grad_norm": grad_norm_float32}, "computed in float32"),
    ("grad_norm", {"grad_norm": grad_norm_abs_in_place}, "grad_norm changed its input grads[0] in place"),
    ("clip_grad_norm_basic", {"clip_grad_norm": clip}, None),
    ("clip_grad_norm_flags", {"clip_grad_norm": clip}, None),
    ("clip_grad_norm_basic", {"clip_grad_norm": lambda *a, **k: clip(*a, **{**k, "bug": "only_above"})},
     "scaled only when total > max_norm"),
    ("clip_grad_norm_basic", {"clip_grad_norm": lambda *a, **k: clip(*a, **{**k, "bug": "post_clip"})},
     "returning the post-clip norm"),
    ("clip_grad_norm_basic", {"clip_grad_norm": clip_into_list}, "clip_grad_norm changed the list grads itself"),
    ("clip_grad_norm_flags", {"clip_grad_norm": lambda *a, **k: clip(*a, **{**k, "bug": "raise_late"})},
     "gradients changed before raising"),
]


@pytest.mark.parametrize(("grade_id", "functions", "named"), CLIPPING_CASES,
                         ids=[f"{g}:{n or 'correct'}:{i}" for i, (g, _, n) in enumerate(CLIPPING_CASES)])
def test_clipping_variants(grade_id: str, functions: dict[str, Callable[..., Any]], named: str | None) -> None:
    outcome = grade("clipping", grade_id, **functions)
    _expect(outcome, named)
    if named == "scaled only when total > max_norm":
        assert "per-tensor" not in outcome.text()


# ---- more of the family: realistic slips beyond the list, each named ------------------------------

def linear_float32(x, W, b):
    """Bug: the forward computed in float32 and cast back."""
    return (x.float() @ W.float() + b.float()).to(x.dtype), (x, W)


def linear_backward(dout, cache):
    """Correct."""
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(dim=0)


def mse_sign(pred, target):
    """Bug: d/dpred with the residual's sign flipped."""
    r = pred - target
    return (r ** 2).mean(), 2 * (target - pred) / r.numel()


def rnn_backward_no_carry(dh, cache):
    """Bug: truncated to one step (no gradient carried back from step t + 1)."""
    x, h0, Wx, Wh, hs = cache
    dx, dWx, dWh, db = torch.zeros_like(x), torch.zeros_like(Wx), torch.zeros_like(Wh), torch.zeros_like(Wh[0])
    dh0 = torch.zeros_like(h0)
    for t in range(x.shape[1] - 1, -1, -1):
        da = dh[:, t] * (1 - hs[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx, dWh, db = dWx + x[:, t].T @ da, dWh + (hs[:, t - 1] if t else h0).T @ da, db + da.sum(dim=0)
        if t == 0:
            dh0 = da @ Wh.T
    return dx, dh0, dWx, dWh, db


def sigmoid_forward(x):
    """Correct."""
    s = torch.sigmoid(x)
    return s, s


def sigmoid_backward_s(dout, cache):
    """Bug: sigma' written as s."""
    return dout * cache


def clip_value_abs(grads, clip_value):
    """Bug: clamps |g|, losing the sign."""
    for g in grads:
        if g is not None:
            g.copy_(g.abs().clamp(max=clip_value))


def grad_norm_squared(grads, norm_type=2.0):
    """Bug: the p-th root forgotten (squared norm for p = 2)."""
    inf = norm_type == float("inf")
    parts = [g.abs().max() if inf else (g.abs() ** norm_type).sum() for g in grads if g is not None]
    if not parts:
        return torch.tensor(0.0)
    return torch.stack(parts).max() if inf else torch.stack(parts).sum()


def adamw_decay_after_step(param, grad, state, lr=1e-3, weight_decay=1e-2, **hyper):
    """Bug: the Adam step first, then the decoupled decay of the updated parameter."""
    return adam(param, grad, state, lr=lr, **hyper) * (1 - lr * weight_decay)


FAMILY = [
    ("backprop", "linear", {"linear_forward": linear_float32, "linear_backward": linear_backward},
     "computed in float32"),
    ("backprop", "mse_loss", {"mse_loss": mse_sign}, "sign of dpred flipped"),
    ("backprop", "rnn", {"rnn_forward": rnn_forward, "rnn_backward": rnn_backward_no_carry}, "not carried back"),
    ("backprop", "sigmoid", {"sigmoid_forward": sigmoid_forward, "sigmoid_backward": sigmoid_backward_s},
     "written as s"),
    ("clipping", "clip_grad_value", {"clip_grad_value": clip_value_abs}, "sign lost"),
    ("clipping", "grad_norm", {"grad_norm": grad_norm_squared}, "p-th root missing"),
    ("optimizers", "adamw_step", {"adamw_step": _positional(adamw_decay_after_step)},
     "weight decay applied after the step"),
]


@pytest.mark.parametrize(("assignment", "grade_id", "functions", "named"), FAMILY,
                         ids=[f"{a}:{g}:{n}" for a, g, _, n in FAMILY])
def test_family_variants_are_named(assignment: str, grade_id: str, functions: dict[str, Callable[..., Any]],
                                   named: str) -> None:
    _expect(grade(assignment, grade_id, **functions), named)
