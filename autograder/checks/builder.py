"""Build a `spec.Question` from a declarative `CheckSpec`: cases, student call, reference, mistakes, points.

The same spec drives the visible notebook test (fixed cases), the hidden test and the batch grader
(fixed + fresh random cases), so the three can never disagree about what is right.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from autograder.checks.compare import Diff, Tolerance, compare, describe
from autograder.checks.diagnose import diagnose
from autograder.checks.forbidden import forbidden_output, is_forbidden, tripwire
from autograder.checks.guard import ChangedInput, after_call, guarding, watch
from autograder.checks.spec import ERROR_KEY, Case, Functions, Outcome, Output, Question
from autograder.checks.where import describe_exception
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


def on_device(t: Tensor, case: Case, name: str | None = None) -> Tensor:
    """A copy of a case tensor on the course device, in the case's dtype when it is floating point.

    With a `name`, the copy is watched: a student function that changes it in place loses the case."""
    t = torch.as_tensor(t)
    dtype = getattr(torch, str(case.get("dtype", "float64"))) if t.is_floating_point() else t.dtype
    copy = t.to(get_device(), dtype).clone()
    return watch(name, copy) if name else copy


def tensor_out(what: str, value: Any, shape: tuple[int, ...], like: Tensor | None) -> Tensor:
    """The student's tensor as a detached CPU copy, after checking type, shape, dtype and device.

    like=None (no input tensor to compare with, e.g. an empty gradient list): any floating dtype and device."""
    if not isinstance(value, Tensor):
        raise Unusable(f"{what}: expected a tensor of shape {shape}, got {describe(value)}")
    if tuple(value.shape) != tuple(shape):
        raise Unusable(f"{what}: expected shape {tuple(shape)}, got shape {tuple(value.shape)}")
    if like is None:
        if not value.is_floating_point():
            raise Unusable(f"{what}: expected a floating-point tensor, got {value.dtype}")
    elif value.dtype != like.dtype:
        raise Unusable(f"{what}: expected dtype {like.dtype} (the inputs' dtype), got {value.dtype}")
    elif value.device != like.device:
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
    """The student's function `name` (checked after every call for changed inputs), or Unusable."""
    fn = functions.get(name) if hasattr(functions, "get") else None
    if not callable(fn):
        raise Unusable(f"no function named {name} was defined (run the cell that defines it)")

    def checked(*args: Any, **kwargs: Any) -> Any:
        """fn, then the input guard."""
        result = fn(*args, **kwargs)
        after_call(name, result)
        return result
    return checked


def _safe_call(spec: CheckSpec, functions: Functions, case: Case) -> Output:
    """spec.run with every failure turned into an error output; stderr and warnings are swallowed."""
    tripped: list[str] = []
    try:
        with tripwire() as wire, guarding(), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                out = spec.run(functions, case)
            finally:
                tripped = list(wire.tripped)
    except (Unusable, ChangedInput) as exc:
        out = {ERROR_KEY: str(exc)}
    except (Exception, SystemExit) as exc:  # any student exception becomes a graded message
        out = {ERROR_KEY: describe_exception(exc)}
    if tripped:  # counts even when the student caught ForbiddenCall and carried on
        return forbidden_output(f"{tripped[0]} was called inside the graded function (write the computation "
                                "yourself)", tripped[0])
    return out


def _case_parts(spec: CheckSpec, case: Case, out: Any, want: Output) -> list[tuple[str, Diff]]:
    """[(output key, Diff)] for one case."""
    if not isinstance(out, dict):
        return [(k, Diff(False, f"no outputs came back ({describe(out)})")) for k in want]
    if ERROR_KEY in out:
        return [(k, Diff(False, str(out[ERROR_KEY]))) for k in want]
    parts = []
    for key, value in want.items():
        try:
            parts.append((key, compare(out.get(key), value, spec.tolerance(case), key in spec.step_keys)))
        except Exception as exc:  # garbage must not crash the judge
            parts.append((key, Diff(False, f"could not read this output ({type(exc).__name__})")))
    return parts


#: Said in every notebook: a function matching a named known mistake earns at most this share of the points.
MISTAKE_CAP = 0.5


def _judge(spec: CheckSpec, cases: list[Case], outputs: list[Output], expected: list[Output] | None = None
           ) -> Outcome:
    """Score = points x (matching outputs / all outputs), at most half for a named mistake; first failure explained.

    `expected`: the reference outputs of the cases when already computed (spec.expect of each), else computed here."""
    outputs = list(outputs) + [{ERROR_KEY: "no output came back"}] * (len(cases) - len(outputs))
    total = good = 0
    first: str | None = None
    worst = (0.0, 0.0)
    wants, failing = [], []
    for index, (case, out) in enumerate(zip(cases, outputs, strict=True)):
        if is_forbidden(out):
            return Outcome(0.0, spec.points, "forbidden", f"{spec.grade_id}: {out[ERROR_KEY]}")
        want = expected[index] if expected is not None and index < len(expected) else spec.expect(case)
        parts = _case_parts(spec, case, out, want)
        wants.append(want)
        total += len(parts)
        good += sum(d.ok for _, d in parts)
        for _, d in parts:
            worst = max(worst, (d.max_abs, d.max_rel)) if d.ok else worst
        bad = [(k, d) for k, d in parts if not d.ok]
        failing.append(bool(bad))
        if bad and first is None and isinstance(out, dict) and ERROR_KEY in out:
            first = f"{spec.grade_id}: case [{case.get('label', '?')}]: {out[ERROR_KEY]}"
        elif bad and first is None:
            key, diff = bad[0]
            first = f"{spec.grade_id}: case [{case.get('label', '?')}]: output '{key}' differs: {diff.reason}"
            if len(bad) > 1:
                first += f" (also: {', '.join(k for k, _ in bad[1:4])})"
    if total == 0:
        return Outcome(0.0, spec.points, "error", f"{spec.grade_id}: no cases were graded")
    score = round(spec.points * good / total, 2)
    if good == total:
        return Outcome(spec.points, spec.points, "passed",
                       f"{spec.grade_id}: all {len(cases)} cases match the reference "
                       f"(max abs err {worst[0]:.2g})")
    named = diagnose(spec.mistakes, spec.tolerance, cases, outputs, wants, failing)
    capped = named is not None and score > spec.points * MISTAKE_CAP
    if capped:
        score = round(spec.points * MISTAKE_CAP, 2)
    if named is not None:
        first = f"{first or spec.grade_id}. {named.text}"
    summary = f" [{total - good} of {total} outputs wrong: {score:g} of {spec.points:g} points" + (
        f", at most {MISTAKE_CAP:.0%} for a named known mistake]" if capped else "]")
    status = "partial" if score > 0 else ("error" if all(
        isinstance(o, dict) and ERROR_KEY in o for o in outputs) else "failed")
    return Outcome(score, spec.points, status, (first or spec.grade_id) + summary,
                   " / ".join(named.names) if named is not None else None)


def build(spec: CheckSpec) -> Question:
    """The spec.Question the notebooks and the batch grader use."""
    def make_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
        """Visible cases, plus the hidden ones when asked."""
        return spec.visible() + (spec.hidden(gen) if hidden else [])

    return Question(
        grade_id=spec.grade_id, points=spec.points, functions=spec.functions, make_cases=make_cases,
        call=lambda functions, case: _safe_call(spec, functions, case),
        judge=lambda cases, outputs: _judge(spec, cases, outputs), description=spec.description,
        expect=lambda cases: [spec.expect(case) for case in cases],
        judge_expected=lambda cases, outputs, expected: _judge(spec, cases, outputs, expected))
