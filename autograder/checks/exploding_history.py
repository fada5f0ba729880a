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
from autograder.message import Message, say

#: float32 training in the student's process vs float32 recomputation here (thread counts may differ).
RTOL, ATOL = 1e-4, 1e-6
#: The gradient norm near convergence is a sum of cancelling per-example terms: its float32 value moves by up to
#: ~2e-4 relative between torch's SIMD levels (and against float64 training), so it gets a looser tolerance than
#: the loss (a post-clip, infinity or per-tensor norm still differs by far more).
NORM_RTOL, NORM_ATOL = 1e-3, 1e-5


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


def measure(seed: int, snapshots: Tensor) -> list[tuple[float, float, float]]:
    """(full-batch loss, pre-clip global 2-norm, largest |gradient|) at each recorded parameter vector."""
    model = task.make_model(seed)
    x, y = task.make_task(seed)
    values = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread hand-offs cost far more than they save, most of all under load
    try:
        for flat in snapshots:
            values.append(_measure_one(model, x, y, flat))
    finally:
        torch.set_num_threads(threads)
    return values


def _measure_one(model: nn.Module, x: Tensor, y: Tensor, flat: Tensor) -> tuple[float, float, float]:
    """(loss, global 2-norm, largest |gradient|) of the model at one parameter vector."""
    _load(model, flat)
    model.zero_grad(set_to_none=True)
    loss = task.mse(model, x, y)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    largest = max(float(g.abs().max()) for g in grads)
    return float(loss.detach()), float(norm), largest


def steps_taken(snapshots: Tensor, final: Tensor) -> int:
    """How many times the parameters changed between forward passes (and after the last one)."""
    seq = torch.cat([snapshots, final.view(1, -1)]) if snapshots.numel() else final.view(1, -1)
    return int(sum(not torch.equal(a, b) for a, b in zip(seq[:-1], seq[1:], strict=True)))


def _close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Equal to float32 training accuracy."""
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)


def _close_norm(a: float, b: float) -> bool:
    """Two gradient norms equal to float32 accuracy, whatever SIMD level computed them."""
    return _close(a, b, NORM_RTOL, NORM_ATOL)


def _why_norm(n_i: float, pass_: tuple[float, float, float]) -> Message:
    """What a wrong grad_norm entry most likely is, given the forward pass its loss matches."""
    pre, largest = pass_[1], pass_[2]
    if n_i == 0:
        return say("history.norm_zero")
    if _close_norm(n_i, largest) and not _close_norm(largest, pre):
        return say("history.norm_inf")
    if n_i < pre * (1 - 1e-3):
        return say("history.norm_post_clip")
    return say("history.norm_global")


def check(loss: list[float], norm: list[float], measured: list[tuple[float, float, float]]) -> Message | None:
    """None when each (loss, grad_norm) entry matches a forward pass, in order; else what is wrong, where."""
    j = 0
    for i, (l_i, n_i) in enumerate(zip(loss, norm, strict=True)):
        start = j
        while j < len(measured) and not (_close(l_i, measured[j][0]) and _close_norm(n_i, measured[j][1])):
            j += 1
        if j < len(measured):
            j += 1
            continue
        rest = measured[start:]
        after = next((k for k in range(len(rest) - 1) if _close_norm(n_i, rest[k][1]) and _close(l_i, rest[k + 1][0])),
                     None)
        if after is not None:
            return say("history.loss_after", index=i, value=f"{l_i:.6g}", used=f"{rest[after][0]:.6g}")
        same_loss = next((m for m in rest if _close(l_i, m[0])), None)
        if same_loss is None:
            want = rest[0][0] if rest else math.nan
            return say("history.loss", index=i, value=f"{l_i:.6g}", want=f"{want:.6g}")
        return say("history.norm", index=i, value=f"{n_i:.6g}", want=f"{same_loss[1]:.6g}",
                   why=_why_norm(n_i, same_loss))
    return None
