"""Shared helpers for the reference-kernel tests: seeded float64 samples and central finite differences."""

from __future__ import annotations

from collections.abc import Callable

import torch
from hypothesis import settings

Tensor = torch.Tensor
F64 = torch.float64
FAST = settings(max_examples=8, deadline=None)


def rand(*shape: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """float64 normal samples from a seeded generator (no shape: a 0-dim tensor)."""
    return torch.randn(shape, generator=gen, dtype=F64) * scale


def numerical_grad(f: Callable[[], float], x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central differences (f(x+h e_i) - f(x-h e_i)) / 2h, perturbing x in place and restoring it."""
    grad, flat = torch.zeros_like(x), x.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        grad.view(-1)[i] = (up - down) / (2 * h)
    return grad
