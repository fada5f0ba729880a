"""Build a `spec.Question` from a declarative `CheckSpec`: cases, student call, reference, mistakes, points.

The same spec drives the visible notebook test (fixed cases), the hidden test and the batch grader
(fixed + fresh random cases), so the three can never disagree about what is right.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from autograder.checks.compare import Diff, Tolerance, compare, describe
from autograder.checks.forbidden import FORBIDDEN_PREFIX, tripwire
from autograder.checks.spec import ERROR_KEY, Case, Functions, Outcome, Output, Question
from autograder.device import get_device


class Unusable(Exception):
    """A student's return value cannot be graded; the message says what was expected and what came back."""


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant: its name, what torch does instead, and a kernel giving its outputs (or None)."""

    name: str
    hint: str
    kernel: Callable[[Case], Output | None]
    #: For mistakes with no single wrong value (overflow gives inf or NaN): True when `out` shows it.
    matches: Callable[[Case, Output], bool] | None = None


@dataclass(frozen=True)
class CheckSpec:
    """Everything about one graded test cell."""

    grade_id: str
    points: float
    functions: tuple[str, ...]
    visible: Callable[[], list[Case]]
    hidden: Callable[[torch.Generator], list[Case]]
    run: Callable[[Functions, Case], Output]
    expect: Callable[[Case], Output]
    mistakes: tuple[Mistake, ...] = ()
    tolerance: Callable[[Case], Tolerance] = field(default=lambda case: Tolerance())
    step_keys: frozenset[str] = frozenset()
    description: str = ""


def on_device(t: Tensor, case: Case) -> Tensor:
    """A copy of a case tensor on the course device, in the case's dtype when it is floating point."""
    t = torch.as_tensor(t)
    dtype = getattr(torch, str(case.get("dtype", "float64"))) if t.is_floating_point() else t.dtype
    return t.to(get_device(), dtype).clone()


def tensor_out(what: str, value: Any, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """The student's tensor as a detached CPU copy, after checking type, shape, dtype and device."""
    if not isinstance(value, Tensor):
        raise Unusable(f"{what}: expected a tensor of shape {shape}, got {describe(value)}")
    if tuple(value.shape) != tuple(shape):
        raise Unusable(f"{what}: expected shape {tuple(shape)}, got shape {tuple(value.shape)}")
    if value.dtype != like.dtype:
        raise Unusable(f"{what}: expected dtype {like.dtype} (the inputs' dtype), got {value.dtype}")
    if value.device != like.device:
        raise Unusable(f"{what}: expected a tensor on {like.device} (the inputs' device), got {value.device}")
    # a plain tensor copy, so a subclass cannot intercept the conversion with __torch_function__
    with torch._C.DisableTorchFunctionSubclass():
        return torch.Tensor.as_subclass(value, torch.Tensor).detach().to("cpu").clone()


def unpack(what: str, value: Any, n: int) -> tuple[Any, ...]:
    """Check that a function returned a tuple/list of n items."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise Unusable(f"{what}: expected a tuple of {n} values, got {describe(value)}")
    return tuple(value)


def student(functions: Functions, name: str) -> Callable[..., Any]:
    """The student's function `name`, or Unusable when it is missing or not callable."""
    fn = functions.get(name) if hasattr(functions, "get") else None
    if not callable(fn):
        raise Unusable(f"no function named {name} was defined (run the cell that defines it)")
    return fn


def _safe_call(spec: CheckSpec, functions: Functions, case: Case) -> Output:
    """spec.run with every failure turned into an error output; stderr and warnings are swallowed."""
    tripped: list[str] = []
    try:
        with tripwire() as wire, warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                out = spec.run(functions, case)
            finally:
                tripped = list(wire.tripped)
    except Unusable as exc:
        out = {ERROR_KEY: str(exc)}
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any student exception becomes a graded message
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        out = {ERROR_KEY: f"raised {type(exc).__name__}: {text}"}
    if tripped:  # counts even when the student caught ForbiddenCall and carried on
        return {ERROR_KEY: f"{FORBIDDEN_PREFIX}{tripped[0]} was called inside the graded function "
                           "(write the computation yourself)"}
    return out


def _case_parts(spec: CheckSpec, case: Case, out: Any) -> tuple[list[tuple[str, Diff]], Output]:
    """[(output key, Diff)] for one case, and the reference outputs."""
    want = spec.expect(case)
    if not isinstance(out, dict):
        return [(k, Diff(False, f"no outputs came back ({describe(out)})")) for k in want], want
    if ERROR_KEY in out:
        return [(k, Diff(False, str(out[ERROR_KEY])[:300])) for k in want], want
    parts = []
    for key, value in want.items():
        try:
            parts.append((key, compare(out.get(key), value, spec.tolerance(case), key in spec.step_keys)))
        except Exception as exc:  # noqa: BLE001 - garbage must not crash the judge
            parts.append((key, Diff(False, f"could not read this output ({type(exc).__name__})")))
    return parts, want


def _diagnose(spec: CheckSpec, case: Case, out: Any, want: Output) -> Mistake | None:
    """The known mistake whose outputs match the student's on this case (and differ from the reference)."""
    if not isinstance(out, dict) or ERROR_KEY in out:
        return None
    tol = spec.tolerance(case)
    for mistake in spec.mistakes:
        if mistake.matches is not None:
            if mistake.matches(case, out):
                return mistake
            continue
        wrong = mistake.kernel(case)
        if wrong is None or not set(wrong) <= set(want) or all(compare(wrong[k], want[k], tol, False).ok
                                                                for k in wrong):
            continue
        if all(compare(out.get(k), wrong[k], tol, False).ok for k in wrong):
            return mistake
    return None


def _judge(spec: CheckSpec, cases: list[Case], outputs: list[Output]) -> Outcome:
    """Score = points x (matching outputs / all outputs); the message explains the first failure."""
    outputs = list(outputs) + [None] * (len(cases) - len(outputs))
    total = good = 0
    first: str | None = None
    worst = (0.0, 0.0)
    for case, out in zip(cases, outputs):
        if isinstance(out, dict) and str(out.get(ERROR_KEY, "")).startswith(FORBIDDEN_PREFIX):
            return Outcome(0.0, spec.points, "forbidden", f"{spec.grade_id}: {out[ERROR_KEY]}")
        parts, want = _case_parts(spec, case, out)
        total += len(parts)
        good += sum(d.ok for _, d in parts)
        for _, d in parts:
            worst = max(worst, (d.max_abs, d.max_rel)) if d.ok else worst
        bad = [(k, d) for k, d in parts if not d.ok]
        if bad and first is None and isinstance(out, dict) and ERROR_KEY in out:
            first = f"{spec.grade_id}: case [{case.get('label', '?')}]: {str(out[ERROR_KEY])[:300]}"
        elif bad and first is None:
            key, diff = bad[0]
            first = f"{spec.grade_id}: case [{case.get('label', '?')}]: output '{key}' differs: {diff.reason}"
            if len(bad) > 1:
                first += f" (also: {', '.join(k for k, _ in bad[1:4])})"
            mistake = _diagnose(spec, case, out, want)
            if mistake is not None:
                first += f". This matches a known mistake: {mistake.name} — {mistake.hint}"
    if total == 0:
        return Outcome(0.0, spec.points, "error", f"{spec.grade_id}: no cases were graded")
    score = round(spec.points * good / total, 2)
    if good == total:
        return Outcome(spec.points, spec.points, "passed",
                       f"{spec.grade_id}: all {len(cases)} cases match the reference "
                       f"(max abs err {worst[0]:.2g})")
    summary = f" [{total - good} of {total} outputs wrong]"
    status = "partial" if score > 0 else ("error" if all(
        isinstance(o, dict) and ERROR_KEY in o for o in outputs) else "failed")
    return Outcome(score, spec.points, status, (first or spec.grade_id) + summary)


def build(spec: CheckSpec) -> Question:
    """The spec.Question the notebooks and the batch grader use."""
    def make_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
        """Visible cases, plus the hidden ones when asked."""
        return spec.visible() + (spec.hidden(gen) if hidden else [])

    return Question(
        grade_id=spec.grade_id, points=spec.points, functions=spec.functions, make_cases=make_cases,
        call=lambda functions, case: _safe_call(spec, functions, case),
        judge=lambda cases, outputs: _judge(spec, cases, outputs), description=spec.description)
