"""Global gradient norm and clipping by torch.nn.utils, applied to copies so inputs never change."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from autograder.device import REFERENCE_DTYPE
from autograder.reference._validate import as_grad_list, as_norm_type, as_threshold


def _zero(copies: list[Tensor | None]) -> Tensor:
    """The norm of no gradients: a float64 0 on the gradients' device (CPU when there are none)."""
    device = next((g.device for g in copies if g is not None), torch.device("cpu"))
    return torch.zeros((), dtype=REFERENCE_DTYPE, device=device)


def _holders(copies: list[Tensor | None]) -> list[Tensor]:
    """Leaf tensors whose .grad IS each non-empty copy, so torch's in-place clipping lands on the copies."""
    holders = []
    for g in copies:
        if g is not None and g.numel() > 0:  # an empty tensor adds nothing and breaks torch's inf norm
            p = torch.empty_like(g, requires_grad=True)
            p.grad = g
            holders.append(p)
    return holders


def grad_norm(grads: Sequence[Tensor | None], norm_type: float = 2.0) -> Tensor:
    """Global norm ||(||g_1||_p, ..., ||g_k||_p)||_p over non-None grads, as clip_grad_norm_ computes it; 0 if none."""
    copies = as_grad_list("grads", grads)
    p = as_norm_type(norm_type)
    tensors = [g for g in copies if g is not None and g.numel() > 0]
    if not tensors:
        return _zero(copies)
    return torch.nn.utils.get_total_norm(tensors, p, foreach=False)


def clip_grad_norm(grads: Sequence[Tensor | None], max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> tuple[list[Tensor | None], Tensor]:
    """(copies of g_i * min(1, max_norm / (total + 1e-6)), total pre-clip norm); None entries stay None.

    With error_if_nonfinite=True a nan/inf total makes torch raise RuntimeError, which propagates;
    with False the nan/inf flows into the clipped copies exactly as torch lets it.
    """
    copies = as_grad_list("grads", grads)
    threshold = as_threshold("max_norm", max_norm)
    p = as_norm_type(norm_type)
    if not isinstance(error_if_nonfinite, bool):
        raise ValueError(f"error_if_nonfinite must be True or False, got {error_if_nonfinite!r}")
    holders = _holders(copies)
    if not holders:
        return copies, _zero(copies)
    total = torch.nn.utils.clip_grad_norm_(holders, threshold, p, error_if_nonfinite, foreach=False)
    return copies, total


def clip_grad_value(grads: Sequence[Tensor | None], clip_value: float) -> list[Tensor | None]:
    """Copies of clamp(g_i, -clip_value, clip_value), element-wise; None entries stay None."""
    copies = as_grad_list("grads", grads)
    threshold = as_threshold("clip_value", clip_value)
    holders = _holders(copies)
    if holders:
        torch.nn.utils.clip_grad_value_(holders, threshold, foreach=False)
    return copies
