"""Known wrong variants of gradient-norm computation and clipping (float64 copies, inputs untouched)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

Grads = Sequence[Tensor | None]


def _norm(g: Tensor, p: float) -> Tensor:
    """The p-norm of one tensor viewed as a vector."""
    return torch.linalg.vector_norm(g.double(), p)


def global_norm(grads: Grads, p: float) -> Tensor:
    """The right answer: the p-norm of the per-tensor p-norms (= the norm of all entries together)."""
    norms = [_norm(g, p) for g in grads if g is not None]
    return torch.linalg.vector_norm(torch.stack(norms), p) if norms else torch.zeros((), dtype=torch.float64)


def sum_of_norms(grads: Grads, p: float) -> Tensor:
    """Mistake: per-tensor norms added up instead of one global norm."""
    return sum((_norm(g, p) for g in grads if g is not None), torch.zeros((), dtype=torch.float64))


def scaled(grads: Grads, coef: Tensor | Sequence[Tensor]) -> list[Tensor | None]:
    """Copies g_i * coef_i (one coefficient or one per tensor)."""
    coefs = coef if isinstance(coef, (list, tuple)) else [coef] * len(grads)
    return [None if g is None else g.double() * c for g, c in zip(grads, coefs, strict=True)]


def clip_per_tensor(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: every tensor clipped by its own norm instead of the global norm."""
    coefs = [torch.ones((), dtype=torch.float64) if g is None
             else (max_norm / (_norm(g, p) + 1e-6)).clamp(max=1.0) for g in grads]
    return scaled(grads, coefs)


def pth_root_missing(grads: Grads, p: float) -> Tensor:
    """Mistake: sum of |g|^p over all entries without the final p-th root (the squared norm for p = 2)."""
    if p == float("inf"):
        return global_norm(grads, p)
    return sum(((g.double().abs() ** p).sum() for g in grads if g is not None), torch.zeros((), dtype=torch.float64))


def clip_only_above(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: scaled only when total > max_norm; torch always multiplies by min(1, max_norm / (total + 1e-6))."""
    total = global_norm(grads, p)
    coef = max_norm / (total + 1e-6) if bool(total > max_norm) else torch.ones((), dtype=torch.float64)
    return scaled(grads, coef)


def clip_ignoring_norm_type(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: norm_type ignored, the 2-norm used for the clipping factor (and returned as the total)."""
    del p
    return scaled(grads, (max_norm / (global_norm(grads, 2.0) + 1e-6)).clamp(max=1.0))


def clamp_abs(grads: Grads, clip_value: float) -> list[Tensor | None]:
    """Mistake: |g| clamped, so every negative entry loses its sign."""
    return [None if g is None else g.double().abs().clamp(max=clip_value) for g in grads]


def clip_without_eps(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: max_norm / total without torch's + 1e-6."""
    return scaled(grads, (max_norm / global_norm(grads, p)).clamp(max=1.0))


def clip_without_clamp(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: max_norm / (total + 1e-6) not clamped at 1, so small gradients get scaled up."""
    return scaled(grads, max_norm / (global_norm(grads, p) + 1e-6))


def post_clip_norm(grads: Grads, max_norm: float, p: float) -> Tensor:
    """Mistake: returning the norm after clipping instead of the pre-clip total."""
    total = global_norm(grads, p)
    return total * (max_norm / (total + 1e-6)).clamp(max=1.0)


def clamp_upper_only(grads: Grads, clip_value: float) -> list[Tensor | None]:
    """Mistake: clip_grad_value that only clamps from above (min(g, c)) and lets -1e9 through."""
    return [None if g is None else g.double().clamp(max=clip_value) for g in grads]


def unchanged(grads: Grads) -> list[Tensor | None]:
    """Mistake: clipped copies put into the list (or returned) while the tensors themselves stay unchanged."""
    return [None if g is None else g.double().clone() for g in grads]


def clip_eps_subtracted(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: max_norm / (total - 1e-6); below 1e-6 the factor turns negative and flips the gradients."""
    return scaled(grads, (max_norm / (global_norm(grads, p) - 1e-6)).clamp(max=1.0))


def clip_nan_dropped(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: Python's min(1.0, nan) is 1.0, so a NaN total leaves the gradients unchanged (torch makes them NaN)."""
    total = global_norm(grads, p)
    if bool(torch.isnan(total)):
        return unchanged(grads)
    return scaled(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))


def clip_then_raise(grads: Grads, max_norm: float, p: float) -> list[Tensor | None]:
    """Mistake: the gradients multiplied by the (zero or NaN) factor of a non-finite total, then the error raised."""
    return scaled(grads, (max_norm / (global_norm(grads, p) + 1e-6)).clamp(max=1.0))
