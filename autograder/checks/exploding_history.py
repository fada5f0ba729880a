"""The `exploding` history, checked against the grader's own measurements (trusted side).

The sandbox records the model's parameters at every forward pass of the model the student was given.
Here each recorded parameter vector is loaded into a fresh model, and the full-batch loss and the
PRE-clip global gradient norm are computed with autograd; the student's history must list exactly
those values, one entry per optimizer step, in order.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from autograder.checks import exploding_task as task

#: float32 training in the student's process vs float32 recomputation here (thread counts may differ).
RTOL, ATOL = 1e-4, 1e-6


def flat_parameters(model: nn.Module) -> Tensor:
    """All parameters as one float64 vector, in model.parameters() order."""
    return torch.cat([p.detach().reshape(-1).to("cpu", torch.float64) for p in model.parameters()])


def _load(model: nn.Module, flat: Tensor) -> None:
    """Copy a flat vector into the model's parameters."""
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(flat[offset: offset + n].view_as(p).to(p.dtype))
            offset += n


def measure(seed: int, snapshots: Tensor) -> list[tuple[float, float]]:
    """(full-batch loss, pre-clip global 2-norm of the gradients) at each recorded parameter vector."""
    model = task.make_model(seed)
    x, y = task.make_task(seed)
    values = []
    for flat in snapshots:
        _load(model, flat)
        model.zero_grad(set_to_none=True)
        loss = task.mse(model, x, y)
        loss.backward()
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()
                                                     if p.grad is not None]))
        values.append((float(loss.detach()), float(norm)))
    return values


def steps_taken(snapshots: Tensor, final: Tensor) -> int:
    """How many times the parameters changed between forward passes (and after the last one)."""
    seq = torch.cat([snapshots, final.view(1, -1)]) if snapshots.numel() else final.view(1, -1)
    return int(sum(not torch.equal(a, b) for a, b in zip(seq[:-1], seq[1:], strict=True)))


def _close(a: float, b: float) -> bool:
    """Equal to float32 training accuracy."""
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= ATOL + RTOL * abs(b)


def check(loss: list[float], norm: list[float], measured: list[tuple[float, float]]) -> str | None:
    """None when each (loss, grad_norm) entry matches a forward pass, in order; else what is wrong, where."""
    j = 0
    for i, (l_i, n_i) in enumerate(zip(loss, norm, strict=True)):
        start = j
        while j < len(measured) and not (_close(l_i, measured[j][0]) and _close(n_i, measured[j][1])):
            j += 1
        if j < len(measured):
            j += 1
            continue
        same_loss = next((m for m in measured[start:] if _close(l_i, m[0])), None)
        if same_loss is None:
            want = measured[start][0] if start < len(measured) else math.nan
            return (f"history['loss'][{i}] = {l_i:.6g}, but the grader measured {want:.6g} for the model's "
                    f"parameters at that step (log loss.item() of the forward pass that the step uses)")
        pre = same_loss[1]
        if n_i == 0:
            why = "it is 0: log the norm after backward(), before the step"
        elif n_i < pre * (1 - 1e-3):
            why = "it looks like the post-clip norm: log the value that clip_grad_norm_ returns (the pre-clip norm)"
        else:
            why = "log the global 2-norm of all parameter gradients, before clipping"
        return (f"history['grad_norm'][{i}] = {n_i:.6g}, but the pre-clip gradient norm the grader measured "
                f"for that step is {pre:.6g}: {why}")
    return None
