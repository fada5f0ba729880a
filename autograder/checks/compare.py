"""Turn untrusted outputs into float64 CPU tensors and compare them with reference values, in words.

Everything here runs in the trusted process and must never raise on garbage: an output may be a tensor,
a numpy array, a number, a string, None, or anything the sandbox managed to send back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from autograder.message import Message, say


@dataclass(frozen=True)
class Tolerance:
    """|got - want| <= atol + rtol * |want| elementwise, in float64."""

    rtol: float = 1e-7
    atol: float = 1e-10


@dataclass(frozen=True)
class Diff:
    """How one output compares with its expected value: ok, or the reason (a message)."""

    ok: bool
    reason: Message | None = None
    max_abs: float = 0.0
    max_rel: float = 0.0


def as_float64(value: Any) -> Tensor | None:
    """A float64 CPU tensor for a tensor/array/number, or None when the value is not numeric."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    try:
        if isinstance(value, Tensor):
            return value.detach().to("cpu", torch.float64)
        if isinstance(value, (int, float, np.ndarray, np.generic)):
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                return None
            return torch.as_tensor(array.astype(np.float64))
    except (RuntimeError, TypeError, ValueError):
        return None
    return None


def describe(value: Any) -> Message | str:
    """A short description of what came back (type, shape, dtype) for messages; code such as `None` as text."""
    if isinstance(value, Tensor):
        return say("value.tensor", shape=str(tuple(value.shape)), dtype=str(value.dtype), device=str(value.device))
    if isinstance(value, np.ndarray):
        return say("value.array", shape=str(value.shape), dtype=str(value.dtype))
    if value is None:
        return "None"
    if isinstance(value, (int, float, str, bool)):
        return f"{type(value).__name__} {repr(value)[:60]}"
    if isinstance(value, (list, tuple, dict)):
        return say("value.container", type=type(value).__name__, n=len(value))
    return say("value.object", type=type(value).__name__)


def _first_bad(bad: Tensor, step_axis: bool) -> Message:
    """Where the first mismatch is: 'at step k' for trajectories, else 'at index (i, j)'."""
    index = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
    if step_axis and index:
        return say("at.step", step=index[0] + 1)
    return say("at.index", index=str(index)) if index else say("at.scalar")


def compare(got: Any, want: Any, tol: Tolerance, step_axis: bool = False) -> Diff:
    """Compare one output with its expected value; NaN/inf must sit exactly where the reference has them."""
    want_t = as_float64(want)
    if want_t is None:  # a label (exception name, flag, None): equality is the test
        same = type(got) is type(want) and got == want if not isinstance(got, Tensor) else False
        return Diff(bool(same), None if same else say("diff.expected", want=repr(want), got=describe(got)))
    got_t = as_float64(got)
    if got_t is None:
        return Diff(False, say("diff.not_tensor", shape=str(tuple(want_t.shape)), got=describe(got)))
    if tuple(got_t.shape) != tuple(want_t.shape):
        return Diff(False, say("diff.shape", want=str(tuple(want_t.shape)), got=str(tuple(got_t.shape))))
    if got_t.numel() == 0:
        return Diff(True)
    got_nan, want_nan = torch.isnan(got_t), torch.isnan(want_t)
    if bool((got_nan & ~want_nan).any()):
        return Diff(False, say("diff.nan", where=_first_bad(got_nan & ~want_nan, step_axis)), math.inf, math.inf)
    got_inf, want_inf = torch.isinf(got_t), torch.isinf(want_t)
    if bool((got_inf & ~want_inf).any()):
        return Diff(False, say("diff.inf", where=_first_bad(got_inf & ~want_inf, step_axis)), math.inf, math.inf)
    special = want_nan | want_inf
    # where the reference is NaN/inf the student must match it exactly (inf sign included)
    special_ok = (got_nan == want_nan) & (~want_inf | (got_t == want_t))
    if bool((special & ~special_ok).any()):
        return Diff(False, say("diff.special", where=_first_bad(special & ~special_ok, step_axis)), math.inf,
                    math.inf)
    finite = ~special
    err = torch.where(finite, (got_t - want_t).abs(), torch.zeros_like(got_t))
    scale = torch.where(finite, want_t.abs(), torch.ones_like(got_t))
    rel = torch.where(scale > 0, err / scale.clamp_min(1e-300), torch.zeros_like(err))  # no rel err against 0
    bad = err > tol.atol + tol.rtol * scale
    max_abs, max_rel = float(err.max()), float(rel.max())
    if bool(bad.any()):
        return Diff(False, say("diff.error", abs=f"{max_abs:.3g}", rel=f"{max_rel:.3g}",
                               where=_first_bad(bad, step_axis)), max_abs, max_rel)
    return Diff(True, None, max_abs, max_rel)
