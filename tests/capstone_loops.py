"""Training loops for the `exploding` capstone: the honest ways the chapter and notebook teach, and ones that fail.

Shared by tests/test_capstone_sweep.py (a few seeds, in the suite) and benchmarks/capstone_sweep.py (50 seeds).
Every loop follows the notebook's contract: train `model` in place, one forward pass per step, return the loss
of that pass and the PRE-clip global gradient norm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

Loop = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, int], dict[str, list[float]]]


def _mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((model(x) - y) ** 2).mean()


def _global_norm(params: list[torch.nn.Parameter]) -> float:
    """The pre-clip global 2-norm of all gradients, by hand."""
    squares = [(p.grad ** 2).sum() for p in params if p.grad is not None]
    return float(torch.sqrt(torch.stack(squares).sum()))


def torch_loop(make: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer], clip: str, level: float) -> Loop:
    """A torch.optim loop with torch's clipping: 'norm' (clip_grad_norm_), 'value' (clip_grad_value_) or 'none'."""
    def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> dict[str, list[float]]:
        params = list(model.parameters())
        optimizer = make(params)
        history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
        for _ in range(steps):
            optimizer.zero_grad()
            loss = _mse(model, x, y)
            loss.backward()
            if clip == "norm":
                norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm=level))
            else:
                norm = _global_norm(params)
                if clip == "value":
                    torch.nn.utils.clip_grad_value_(params, clip_value=level)
            history["loss"].append(loss.item())
            history["grad_norm"].append(norm)
            if not (math.isfinite(history["loss"][-1]) and math.isfinite(norm)):
                break
            optimizer.step()
        return history
    return train


def manual_loop(lr: float, clip: str, level: float) -> Loop:
    """Plain SGD with hand-written clipping: 'norm' (global norm, torch's 1e-6) or 'value' (clamp)."""
    def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> dict[str, list[float]]:
        params = list(model.parameters())
        history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
        for _ in range(steps):
            for p in params:
                p.grad = None
            loss = _mse(model, x, y)
            loss.backward()
            total = _global_norm(params)
            history["loss"].append(loss.item())
            history["grad_norm"].append(total)
            coef = min(1.0, level / (total + 1e-6))
            with torch.no_grad():
                for p in params:
                    if p.grad is not None:
                        g = p.grad * coef if clip == "norm" else p.grad.clamp(-level, level)
                        p.sub_(lr * g)
        return history
    return train


def float64_loop(inner: Loop) -> Loop:
    """`inner` trained in float64 (the model's parameters made float64 in place, the data copied): more precise
    than the float32 the grader measures in, so its history differs from the measurement by float32's error."""
    def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> dict[str, list[float]]:
        return inner(model.double(), x.double(), y.double(), steps)
    return train


def _sgd(lr: float, momentum: float = 0.0) -> Callable[[list[Any]], torch.optim.Optimizer]:
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


#: Every honest way to tame the network: each must earn full marks for every seed and SIMD level.
HONEST: dict[str, Loop] = {
    "SGD lr 0.5 + clip_grad_norm_ 1 (the chapter's fix)": torch_loop(_sgd(0.5), "norm", 1.0),
    "SGD lr 0.5 + hand-written global-norm clip 1": manual_loop(0.5, "norm", 1.0),
    "SGD momentum 0.9 lr 0.05 + clip_grad_norm_ 1": torch_loop(_sgd(0.05, 0.9), "norm", 1.0),
    "RMSprop lr 0.01 + clip_grad_norm_ 1": torch_loop(lambda p: torch.optim.RMSprop(p, lr=0.01), "norm", 1.0),
    "Adam lr 0.01 + clip_grad_norm_ 1 (the solution)": torch_loop(lambda p: torch.optim.Adam(p, lr=0.01), "norm", 1.0),
    "Adam default lr + clip_grad_norm_ 1": torch_loop(lambda p: torch.optim.Adam(p), "norm", 1.0),
    "SGD lr 0.5 + clip_grad_value_ 0.1": torch_loop(_sgd(0.5), "value", 0.1),
    "SGD lr 0.5 + hand-written value clip 0.1": manual_loop(0.5, "value", 0.1),
    "Adam lr 0.01 + clip_grad_norm_ 1, in float64": float64_loop(
        torch_loop(lambda p: torch.optim.Adam(p, lr=0.01), "norm", 1.0)),
}

#: Loops that do not tame it: each must lose the target's points.
UNTAMED: dict[str, Loop] = {
    "plain SGD lr 0.5, no clipping (the baseline)": torch_loop(_sgd(0.5), "none", 0.0),
    "no optimizer step at all": torch_loop(_sgd(0.0), "none", 0.0),
}
