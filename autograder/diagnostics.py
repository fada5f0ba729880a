"""A gradient health report for any model: per-parameter gradient norms, activation saturation, flags.

`gradient_health(model, loss_fn, (inputs, targets))` runs one forward and backward pass, reads the
gradients with torch.autograd.grad (so the model's own .grad fields are never touched), watches the
Tanh / Sigmoid / ReLU modules with forward hooks (always removed again, even on error) and returns a
HealthReport whose `render()` is a readable table. The flags are heuristics with named thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

SATURATION_LEVEL = 0.99  # tanh |a| > 0.99 has derivative 1 - a^2 < 0.02: gradients through it shrink 50x
SATURATING: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Sigmoid)
RECTIFYING: tuple[type[nn.Module], ...] = (nn.ReLU,)


@dataclass(frozen=True)
class Thresholds:
    """When a flag is raised; every value is a plain float so readers can tune them per model."""

    exploding_ratio: float = 10.0  # a weight whose ||grad|| / ||w|| exceeds this: one lr=0.1 step rewrites it
    vanishing_spread: float = 1e-4  # smallest / largest ||grad|| / ||w|| among weights below this
    saturated_fraction: float = 0.25  # share of a tanh/sigmoid layer's outputs that are saturated
    dead_fraction: float = 0.25  # share of a ReLU layer's units that are zero on every example


@dataclass(frozen=True)
class ParamHealth:
    """One parameter: ||grad||_2, ||w||_2, their ratio (nan when w = 0 or no grad) and non-finite share."""

    name: str
    shape: tuple[int, ...]
    grad_norm: float
    weight_norm: float
    ratio: float
    nonfinite_fraction: float
    has_grad: bool


@dataclass(frozen=True)
class LayerHealth:
    """One call of an activation module: output std, saturated entries, dead units, ||d loss / d output||."""

    name: str
    kind: str
    std: float
    saturated_fraction: float  # tanh/sigmoid: share of output entries within 1% of the asymptotes
    dead_fraction: float  # ReLU: share of units (indices along unit_dim) never positive in the batch
    grad_norm: float  # nan when the output does not require grad


@dataclass(frozen=True)
class Flag:
    """A problem found: its kind ('exploding', 'vanishing', 'dead units', 'saturated', 'non-finite') and where."""

    kind: str
    where: str
    detail: str


@dataclass(frozen=True)
class HealthReport:
    """Everything gradient_health measured; `render()` formats it as text."""

    loss: float
    total_grad_norm: float  # the global 2-norm that clip_grad_norm_ would compute
    params: tuple[ParamHealth, ...]
    layers: tuple[LayerHealth, ...]
    flags: tuple[Flag, ...] = field(default_factory=tuple)

    @property
    def healthy(self) -> bool:
        """True when no flag was raised."""
        return not self.flags

    @property
    def flag_kinds(self) -> set[str]:
        """The distinct kinds of flags raised."""
        return {f.kind for f in self.flags}

    def render(self) -> str:
        """A fixed-width text report: summary line, parameter table, activation table, flags."""
        lines = [f"loss {self.loss:.4g}   global grad norm {self.total_grad_norm:.3e}   "
                 f"{'healthy' if self.healthy else 'flags: ' + ', '.join(sorted(self.flag_kinds))}",
                 f"{'parameter':<22}{'shape':<14}{'|grad|':>11}{'|w|':>11}{'|grad|/|w|':>12}{'non-finite':>12}"]
        for p in self.params:
            grad = f"{p.grad_norm:11.3e}" if p.has_grad else f"{'no grad':>11}"
            lines.append(f"{p.name:<22}{str(p.shape):<14}{grad}{p.weight_norm:11.3e}{p.ratio:12.3e}"
                         f"{p.nonfinite_fraction:12.1%}")
        if self.layers:
            lines.append(f"{'activation':<22}{'kind':<14}{'std':>11}{'saturated':>11}{'dead units':>12}"
                         f"{'|dL/da|':>12}")
            for a in self.layers:
                lines.append(f"{a.name:<22}{a.kind:<14}{a.std:11.3f}{a.saturated_fraction:11.1%}"
                             f"{a.dead_fraction:12.1%}{a.grad_norm:12.3e}")
        lines += [f"! {f.kind:<11} {f.where}: {f.detail}" for f in self.flags]
        return "\n".join(lines)

    def __str__(self) -> str:
        """Same as render()."""
        return self.render()


def _saturated(kind: str, a: Tensor) -> float:
    """Share of entries within 1 - SATURATION_LEVEL of tanh's (-1, 1) or sigmoid's (0, 1) asymptotes."""
    centred = a if kind == "Tanh" else 2 * a - 1  # sigmoid = (1 + tanh(z/2)) / 2
    return (centred.abs() > SATURATION_LEVEL).double().mean().item()


def _dead(a: Tensor, unit_dim: int) -> float:
    """Share of units (indices along unit_dim) whose output is <= 0 for every example and position."""
    per_unit = a.detach().movedim(unit_dim, 0).reshape(a.shape[unit_dim], -1)
    return (per_unit <= 0).all(dim=1).double().mean().item()


@dataclass
class _Record:
    """What one forward hook call saw; grad_norm is filled in later by a tensor hook during backward."""

    module: str
    layer: LayerHealth

    def set_grad(self, g: Tensor) -> None:
        """Tensor hook: store ||d loss / d output||."""
        self.layer = replace(self.layer, grad_norm=torch.linalg.vector_norm(g.double()).item())


def _watch(model: nn.Module, unit_dim: int) -> tuple[list[RemovableHandle], list[_Record]]:
    """Forward hooks on every Tanh/Sigmoid/ReLU module; each call appends a record."""
    handles: list[RemovableHandle] = []
    records: list[_Record] = []
    for name, module in model.named_modules():
        if not isinstance(module, SATURATING + RECTIFYING):
            continue

        def hook(mod: nn.Module, _inputs: object, out: Tensor, name: str = name) -> None:
            kind = type(mod).__name__
            a = out.detach()
            calls = sum(r.module == name for r in records)
            layer = LayerHealth(name if calls == 0 else f"{name} (call {calls + 1})", kind,
                                a.double().std().item() if a.numel() > 1 else 0.0,
                                _saturated(kind, a) if isinstance(mod, SATURATING) else 0.0,
                                _dead(a, unit_dim) if isinstance(mod, RECTIFYING) and a.dim() > unit_dim else 0.0,
                                math.nan)
            rec = _Record(name, layer)
            records.append(rec)
            if out.requires_grad:  # a tensor hook dies with the graph: nothing to remove afterwards
                out.register_hook(rec.set_grad)

        handles.append(module.register_forward_hook(hook))
    return handles, records


def _param_health(name: str, p: Tensor, g: Tensor | None) -> ParamHealth:
    """Norms of one parameter and its gradient in float64."""
    w = torch.linalg.vector_norm(p.detach().double()).item()
    if g is None:
        return ParamHealth(name, tuple(p.shape), 0.0, w, math.nan, 0.0, False)
    gn = torch.linalg.vector_norm(g.double()).item()
    bad = (~torch.isfinite(g)).double().mean().item() if g.numel() else 0.0
    return ParamHealth(name, tuple(p.shape), gn, w, gn / w if w > 0 else math.nan, bad, True)


def _flags(loss: float, params: list[ParamHealth], layers: list[LayerHealth], t: Thresholds) -> list[Flag]:
    """Apply the thresholds; ratio flags look only at finite weights (>= 2-D: biases are often ~0)."""
    flags = [Flag("non-finite", p.name, f"{p.nonfinite_fraction:.1%} of the gradient is nan/inf")
             for p in params if p.nonfinite_fraction > 0]
    if not math.isfinite(loss):
        flags.insert(0, Flag("non-finite", "loss", f"the loss is {loss}"))
    weights = [p for p in params if len(p.shape) >= 2 and p.has_grad and math.isfinite(p.ratio) and p.ratio >= 0]
    flags += [Flag("exploding", p.name, f"|grad|/|w| = {p.ratio:.3g} > {t.exploding_ratio:g}")
              for p in weights if p.ratio > t.exploding_ratio]
    if len(weights) >= 2:
        lo, hi = min(weights, key=lambda p: p.ratio), max(weights, key=lambda p: p.ratio)
        if hi.ratio == 0:
            flags.append(Flag("vanishing", "all weights", "every weight gradient is exactly zero"))
        elif lo.ratio < t.vanishing_spread * hi.ratio:
            flags.append(Flag("vanishing", lo.name, f"|grad|/|w| = {lo.ratio:.3g} is {lo.ratio / hi.ratio:.1e} "
                                                    f"times that of {hi.name} ({hi.ratio:.3g})"))
    flags += [Flag("saturated", a.name, f"{a.saturated_fraction:.1%} of the outputs have |a| near the asymptote")
              for a in layers if a.saturated_fraction > t.saturated_fraction]
    flags += [Flag("dead units", a.name, f"{a.dead_fraction:.1%} of the units are never active in this batch")
              for a in layers if a.dead_fraction > t.dead_fraction]
    return flags


def gradient_health(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], batch: tuple[Tensor, Tensor],
                    thresholds: Thresholds | None = None, unit_dim: int = 1) -> HealthReport:
    """Report on loss_fn(model(inputs), targets): gradients via autograd.grad, activations via hooks, flags.

    The model's .grad fields are left as they were; the forward pass runs in the model's current mode
    (so batch-norm statistics update in train mode, as in any training step). A unit is one index along
    `unit_dim` of an activation's output (features of a Linear, channels of a Conv).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ValueError("batch must be a pair (inputs, targets), got "
                         f"{type(batch).__name__}{'' if not isinstance(batch, tuple | list) else f' of {len(batch)}'}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("model has no parameter that requires grad: there is no gradient to report on")
    handles, records = _watch(model, unit_dim)
    try:
        loss = loss_fn(model(batch[0]), batch[1])
        if not isinstance(loss, Tensor) or loss.numel() != 1 or not loss.requires_grad:
            raise ValueError("loss_fn must return a one-element tensor that depends on the parameters, got "
                             f"{type(loss).__name__}{tuple(loss.shape) if isinstance(loss, Tensor) else ''}")
        grads = torch.autograd.grad(loss.reshape(()), [p for _, p in named], allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    params = [_param_health(n, p, g) for (n, p), g in zip(named, grads, strict=True)]
    present = [g.double().reshape(-1) for g in grads if g is not None]
    total = torch.linalg.vector_norm(torch.cat(present)).item() if present else 0.0
    layers = [r.layer for r in records]
    value = loss.detach().double().item()
    return HealthReport(value, total, tuple(params), tuple(layers),
                        tuple(_flags(value, params, layers, thresholds or Thresholds())))
