"""Input checks shared by the reference kernels: every failure is a ValueError naming the argument."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from autograder.device import REFERENCE_DTYPE


def as_float64(name: str, value: object, device: torch.device | None = None) -> Tensor:
    """A detached float64 copy of a floating-point tensor (same device); never aliases the input."""
    if not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if device is not None and value.device != device:
        raise ValueError(f"{name} must be on {device} like the other inputs, got {value.device}")
    return value.detach().to(REFERENCE_DTYPE, copy=True)


def expect_shape(name: str, tensor: Tensor, shape: tuple[int, ...]) -> None:
    """ValueError unless `tensor.shape == shape`."""
    if tuple(tensor.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")


def expect_dim(name: str, tensor: Tensor, dim: int, layout: str) -> None:
    """ValueError unless `tensor` has `dim` dimensions (layout names them for the message)."""
    if tensor.dim() != dim:
        raise ValueError(f"{name} must be {dim}-D {layout}, got shape {tuple(tensor.shape)}")


def as_labels(name: str, value: object, n: int, classes: int, device: torch.device) -> Tensor:
    """int64 class labels of shape (n,) with values in [0, classes)."""
    if not isinstance(value, Tensor) or value.dtype != torch.int64:
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name} must be an int64 tensor of class labels, got {got}")
    if value.device != device:
        raise ValueError(f"{name} must be on {device} like the other inputs, got {value.device}")
    expect_shape(name, value, (n,))
    if n and (int(value.min()) < 0 or int(value.max()) >= classes):
        raise ValueError(f"{name} must hold labels in [0, {classes}), got values in "
                         f"[{int(value.min())}, {int(value.max())}]")
    return value.detach().clone()


def as_grad_list(name: str, value: object) -> list[Tensor | None]:
    """float64 copies of a list of gradients (None entries kept), all on one device."""
    if isinstance(value, Tensor) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list or tuple of tensors (or None), got {type(value).__name__}")
    copies: list[Tensor | None] = []
    device = None
    for k, g in enumerate(value):
        if g is not None:
            g = as_float64(f"{name}[{k}]", g, device)
            device = g.device
        copies.append(g)
    return copies


def as_threshold(name: str, value: object) -> float:
    """A real number >= 0 (inf allowed): a clipping threshold."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) >= 0:
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}")
    return float(value)


def as_norm_type(value: object) -> float:
    """A positive real p of the p-norm, or inf (the string 'inf' too, as torch allows)."""
    if value == "inf":
        return float("inf")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:
        raise ValueError(f"norm_type must be a positive float or float('inf'), got {value!r}")
    return float(value)
