"""Hand-written optimizer trajectories with a switch for each known mistake (float64, plain loops).

With `mistake=None` each kernel equals torch.optim (tests/test_mistakes.py checks it); every other value
reproduces one wrong variant that students write, so a check can name the mistake it sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

SGD_MISTAKES = ("dampening_first_step", "decoupled_weight_decay", "nesterov_previous_buffer",
                "nesterov_without_grad", "dampening_as_weight")
RMSPROP_MISTAKES = ("eps_inside_sqrt", "decoupled_weight_decay", "alpha_swapped", "centered_without_squared_mean",
                    "centered_mean_not_squared")
_ADAM_COMMON = ("eps_inside_sqrt", "no_bias_correction", "step_not_incremented", "step_off_by_one_ahead",
                "step_off_by_one_behind", "step_read_before_increment", "bias_corrected_moments_stored",
                "amsgrad_on_v_hat")
ADAM_MISTAKES = (*_ADAM_COMMON, "decoupled_weight_decay")
ADAMW_MISTAKES = (*_ADAM_COMMON, "l2_weight_decay", "decay_without_lr", "decay_after_step")


def _check(mistake: str | None, known: tuple[str, ...]) -> None:
    """ValueError for a mistake name this kernel does not know."""
    if mistake is not None and mistake not in known:
        raise ValueError(f"mistake must be None or one of {known}, got {mistake!r}")


def _decay(p: Tensor, g: Tensor, lr: float, weight_decay: float, decoupled: bool) -> tuple[Tensor, Tensor]:
    """(p, g) after weight decay: decoupled p *= 1 - lr wd (AdamW), or L2 g += wd p (SGD, RMSprop, Adam)."""
    return (p * (1 - lr * weight_decay), g) if decoupled else (p, g + weight_decay * p)


def sgd(param0: Tensor, grads: Sequence[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
        weight_decay: float = 0.0, nesterov: bool = False, mistake: str | None = None) -> Tensor:
    """torch.optim.SGD: g += wd p; b = g at the first step, else mu b + (1 - tau) g; p -= lr (g + mu b | b)."""
    _check(mistake, SGD_MISTAKES)
    p, buf, path = param0.double().clone(), None, []
    for g in grads:
        g = g.double()
        # decoupled decay equals "decay added to the update after the momentum": p (1 - lr wd) - lr b
        p, g = _decay(p, g, lr, weight_decay, mistake == "decoupled_weight_decay")
        if momentum != 0:
            previous = buf if buf is not None else torch.zeros_like(g)
            keep = dampening if mistake == "dampening_as_weight" else 1 - dampening
            if buf is None:
                buf = keep * g if mistake in ("dampening_first_step", "dampening_as_weight") else g.clone()
            else:
                buf = momentum * buf + keep * g
            if nesterov:
                g = {"nesterov_previous_buffer": g + momentum * previous,
                     "nesterov_without_grad": momentum * buf}.get(mistake or "", g + momentum * buf)
            else:
                g = buf
        p = p - lr * g
        path.append(p)
    return torch.stack(path)


def rmsprop(param0: Tensor, grads: Sequence[Tensor], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
            weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
            mistake: str | None = None) -> Tensor:
    """torch.optim.RMSprop: v = a v + (1-a) g^2; denom = sqrt(v - gbar^2 if centered else v) + eps."""
    _check(mistake, RMSPROP_MISTAKES)
    p = param0.double().clone()
    v, gbar, buf, path = torch.zeros_like(p), torch.zeros_like(p), torch.zeros_like(p), []
    for g in grads:
        g = g.double()
        p, g = _decay(p, g, lr, weight_decay, mistake == "decoupled_weight_decay")
        a = 1 - alpha if mistake == "alpha_swapped" else alpha
        v = a * v + (1 - a) * g * g
        centred_v = v
        if centered:
            gbar = a * gbar + (1 - a) * g  # a student who swaps alpha swaps it in both averages
            centred_v = {"centered_without_squared_mean": v,
                         "centered_mean_not_squared": v - gbar}.get(mistake or "", v - gbar * gbar)
        denom = (centred_v + eps).sqrt() if mistake == "eps_inside_sqrt" else centred_v.sqrt() + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        path.append(p)
    return torch.stack(path)


def adam(param0: Tensor, grads: Sequence[Tensor], lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999),
         eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, decoupled: bool = False,
         mistake: str | None = None) -> Tensor:
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), with t incremented before bias correction."""
    _check(mistake, ADAMW_MISTAKES if decoupled else ADAM_MISTAKES)
    beta1, beta2 = float(betas[0]), float(betas[1])
    p = param0.double().clone()
    m, v, vmax, path = torch.zeros_like(p), torch.zeros_like(p), torch.zeros_like(p), []
    use_decoupled = decoupled != (mistake in ("decoupled_weight_decay", "l2_weight_decay"))
    for step, g in enumerate(grads, start=1):
        g = g.double()
        if mistake == "decay_without_lr":
            p = p * (1 - weight_decay)
        elif mistake != "decay_after_step":
            p, g = _decay(p, g, lr, weight_decay, use_decoupled)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        t = {"step_not_incremented": 1, "step_off_by_one_ahead": step + 1, "step_off_by_one_behind": step - 1,
             "step_read_before_increment": step - 1}.get(mistake or "", step)
        c1, c2 = (1.0, 1.0) if mistake == "no_bias_correction" else (1 - beta1 ** t, 1 - beta2 ** t)
        if mistake == "step_read_before_increment" and t == 0:  # guarded against 1 - beta^0 = 0
            c1, c2 = 1.0, 1.0
        if mistake == "bias_corrected_moments_stored":  # m-hat and v-hat written back into the state
            m, v = m / c1, v / c2
            c1, c2 = 1.0, 1.0
        bc1, bc2 = p.new_tensor(c1), p.new_tensor(c2)  # t = 0 must give inf/NaN like the student's code
        if amsgrad:
            vmax = torch.maximum(vmax, v / bc2 if mistake == "amsgrad_on_v_hat" else v)
            second = vmax if mistake == "amsgrad_on_v_hat" else vmax / bc2
        else:
            second = v / bc2
        denom = (second + eps).sqrt() if mistake == "eps_inside_sqrt" else second.sqrt() + eps
        p = p - (lr / bc1) * m / denom
        if mistake == "decay_after_step":  # the decay shrinks the already-updated parameter
            p = p * (1 - lr * weight_decay)
        path.append(p)
    return torch.stack(path)


def adamw(param0: Tensor, grads: Sequence[Tensor], lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999),
          eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
          mistake: str | None = None) -> Tensor:
    """torch.optim.AdamW: p *= 1 - lr wd before the Adam step (note the default weight_decay=1e-2)."""
    return adam(param0, grads, lr, betas, eps, weight_decay, amsgrad, decoupled=True, mistake=mistake)
