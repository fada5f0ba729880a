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

from autograder.checks import generators
from autograder.checks.compare import Diff, Tolerance, compare, describe
from autograder.checks.diagnose import diagnose
from autograder.checks.forbidden import forbidden_output, is_forbidden, tripwire
from autograder.checks.guard import ChangedInput, after_call, guarding, watch
from autograder.checks.spec import ERROR_KEY, Case, Functions, Outcome, Output, Question, error_message, error_output
from autograder.checks.where import describe_exception
from autograder.device import get_device
from autograder.message import Message, Param, say


class Unusable(Exception):
    """A student's return value cannot be graded; `message` says what was expected and what came back."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.code)
        self.message = message


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant: its stable id, its name, what torch does instead, and a kernel giving its outputs
    (or None). The id identifies it everywhere (outcomes, results, reports); name and hint are its English
    wording, catalogued under `mistake.<id>` and `hint.<id>` (autograder/checks/messages.py)."""

    id: str
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


def output_of(function: str, name: str) -> Message:
    """What an output is called in messages: "linear_forward's out"."""
    return say("what.output", function=function, name=name)


def tensor_out(what: Param, value: Any, shape: tuple[int, ...], like: Tensor | None) -> Tensor:
    """The student's tensor as a detached CPU copy, after checking type, shape, dtype and device.

    like=None (no input tensor to compare with, e.g. an empty gradient list): any floating dtype and device."""
    if not isinstance(value, Tensor):
        raise Unusable(say("unusable.not_tensor", what=what, shape=str(shape), got=describe(value)))
    if tuple(value.shape) != tuple(shape):
        raise Unusable(say("unusable.shape", what=what, want=str(tuple(shape)), got=str(tuple(value.shape))))
    if like is None:
        if not value.is_floating_point():
            raise Unusable(say("unusable.not_float", what=what, got=str(value.dtype)))
    elif value.dtype != like.dtype:
        raise Unusable(say("unusable.dtype", what=what, want=str(like.dtype), got=str(value.dtype)))
    elif value.device != like.device:
        raise Unusable(say("unusable.device", what=what, want=str(like.device), got=str(value.device)))
    # a plain tensor copy, so a subclass cannot intercept the conversion with __torch_function__
    with torch._C.DisableTorchFunctionSubclass():
        return torch.Tensor.as_subclass(value, torch.Tensor).detach().to("cpu").clone()


def unpack(what: str, value: Any, n: int) -> tuple[Any, ...]:
    """Check that a function returned a tuple/list of n items."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise Unusable(say("unusable.tuple", what=what, n=n, got=describe(value)))
    return tuple(value)


def student(functions: Functions, name: str) -> Callable[..., Any]:
    """The student's function `name` (checked after every call for changed inputs), or Unusable."""
    fn = functions.get(name) if hasattr(functions, "get") else None
    if not callable(fn):
        raise Unusable(say("unusable.undefined", name=name))

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
        with tripwire() as wire, guarding() as guard, warnings.catch_warnings(), \
                contextlib.redirect_stderr(io.StringIO()), generators.seeded():
            warnings.simplefilter("ignore")
            try:
                out = spec.run(functions, case)
                guard.finish()
            finally:
                tripped = list(wire.tripped)
    except (Unusable, ChangedInput) as exc:
        out = error_output(exc.message)
    except (Exception, SystemExit) as exc:  # any student exception becomes a graded message
        out = error_output(describe_exception(exc))
    if tripped:  # counts even when the student caught ForbiddenCall and carried on
        return forbidden_output(tripped[0])
    return out


def _case_parts(spec: CheckSpec, case: Case, out: Any, want: Output) -> list[tuple[str, Diff]]:
    """[(output key, Diff)] for one case."""
    if not isinstance(out, dict):
        return [(k, Diff(False, say("diff.no_outputs", got=describe(out)))) for k in want]
    if ERROR_KEY in out:
        return [(k, Diff(False, error_message(out))) for k in want]
    parts = []
    for key, value in want.items():
        try:
            parts.append((key, compare(out.get(key), value, spec.tolerance(case), key in spec.step_keys)))
        except Exception as exc:  # garbage must not crash the judge
            parts.append((key, Diff(False, say("diff.unreadable", error=type(exc).__name__))))
    return parts


def label(case: Case) -> Param:
    """A case's label for messages: a message (plain data in the case), or text such as "N=4, D=3"."""
    value = case.get("label", "?")
    if isinstance(value, dict):
        try:
            return Message.from_plain(value)
        except ValueError:
            return "?"
    return str(value)


def case_label(code: str, **params: Param) -> dict[str, Any]:
    """A case's `label` as plain data (cases cross the sandbox boundary): the message `code`."""
    return say(code, **params).to_plain()


def named_message(head: Param, mistakes: tuple[str, ...]) -> Message:
    """`head`, then what the diagnosis named (by id): one mistake, or several the cases cannot tell apart."""
    pairs = [say("check.named_pair", name=say(f"mistake.{m}"), hint=say(f"hint.{m}")) for m in mistakes]
    if len(mistakes) == 1:
        return say("check.named", head=head, name=pairs[0].args["name"], hint=pairs[0].args["hint"])
    return say("check.named_several", head=head, pairs=say("list.or", items=tuple(pairs)))


#: Said in every notebook: a function matching a named known mistake earns at most this share of the points.
MISTAKE_CAP = 0.5


def _judge(spec: CheckSpec, cases: list[Case], outputs: list[Output], expected: list[Output] | None = None
           ) -> Outcome:
    """Score = points x (matching outputs / all outputs), at most half for a named mistake; first failure explained.

    `expected`: the reference outputs of the cases when already computed (spec.expect of each), else computed here."""
    outputs = list(outputs) + [error_output(say("check.no_output"))] * (len(cases) - len(outputs))
    total = good = 0
    first: Message | None = None
    worst = (0.0, 0.0)
    wants, failing = [], []
    for index, (case, out) in enumerate(zip(cases, outputs, strict=True)):
        if is_forbidden(out):
            return Outcome(0.0, spec.points, "forbidden", say("check.error", grade_id=spec.grade_id,
                                                              error=error_message(out)))
        want = expected[index] if expected is not None and index < len(expected) else spec.expect(case)
        parts = _case_parts(spec, case, out, want)
        wants.append(want)
        total += len(parts)
        good += sum(d.ok for _, d in parts)
        for _, d in parts:
            worst = max(worst, (d.max_abs, d.max_rel)) if d.ok else worst
        bad = [(k, d) for k, d in parts if not d.ok]
        failing.append(bool(bad))
        if bad and first is None:
            first = say("check.case", grade_id=spec.grade_id, label=label(case), problem=_problem(out, bad))
    if total == 0:
        return Outcome(0.0, spec.points, "error", say("check.no_cases", grade_id=spec.grade_id))
    score = round(spec.points * good / total, 2)
    if good == total:
        return Outcome(spec.points, spec.points, "passed",
                       say("check.passed", grade_id=spec.grade_id, n=len(cases), err=f"{worst[0]:.2g}"))
    named = diagnose(spec.mistakes, spec.tolerance, cases, outputs, wants, failing)
    capped = bool(named) and score > spec.points * MISTAKE_CAP
    if capped:
        score = round(spec.points * MISTAKE_CAP, 2)
    head: Param = first or spec.grade_id
    if named:
        head = named_message(head, named)
    counts = {"head": head, "wrong": total - good, "total": total, "score": f"{score:g}", "points": f"{spec.points:g}"}
    summary = (say("check.summary_capped", cap=f"{MISTAKE_CAP:.0%}", **counts) if capped
               else say("check.summary", **counts))
    status = "partial" if score > 0 else ("error" if all(
        isinstance(o, dict) and ERROR_KEY in o for o in outputs) else "failed")
    return Outcome(score, spec.points, status, summary, named)


def _problem(out: Any, bad: list[tuple[str, Diff]]) -> Message:
    """What went wrong on a failing case: the error its call reported, else its first differing output."""
    if isinstance(out, dict) and ERROR_KEY in out:
        return error_message(out)
    key, diff = bad[0]
    reason = diff.reason or say("check.no_output")
    if len(bad) > 1:
        return say("check.differs_also", key=key, reason=reason, others=", ".join(k for k, _ in bad[1:4]))
    return say("check.differs", key=key, reason=reason)


def build(spec: CheckSpec) -> Question:
    """The spec.Question the notebooks and the batch grader use."""
    def make_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
        """Visible cases, plus the hidden ones when asked."""
        return spec.visible() + (spec.hidden(gen) if hidden else [])

    return Question(
        grade_id=spec.grade_id, points=spec.points, functions=spec.functions, make_cases=make_cases,
        call=lambda functions, case: _safe_call(spec, functions, case),
        judge=lambda cases, outputs: _judge(spec, cases, outputs), description=spec.description,
        named=tuple((m.id, m.name, m.hint) for m in spec.mistakes),
        expect=lambda cases: [spec.expect(case) for case in cases],
        judge_expected=lambda cases, outputs, expected: _judge(spec, cases, outputs, expected))
