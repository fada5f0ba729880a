"""Trusted side of one submission: draw its inputs, read back what the sandbox wrote, judge, explain.

Nothing read from the sandbox is believed: files are decoded by autograder.plain with limits, their
shape is checked here, and a question only scores through its own `judge` on inputs drawn here.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from autograder import key, plain
from autograder.checks import forbidden
from autograder.checks.spec import Assignment, Question
from autograder.grading.core import model
from autograder.grading.core.bounds import bounded_message
from autograder.grading.core.model import MISTAKE_ID, Row, Verdict
from autograder.grading.runner import wire
from autograder.grading.runner.phases import REFUSED_ORDER
from autograder.grading.runner.wire import Reply
from autograder.message import Message, say


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace to one line and cap its length (messages go into a CSV cell)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _same(a: Any, b: Any) -> bool:
    """Plain data equal in structure and value (NaN equal to NaN), for comparing drawn cases."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and a.dtype == b.dtype and bool(torch.equal(a.isnan(), b.isnan()))
                and bool(torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0))))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def draw_cases(assignment: Assignment, seed: int) -> dict[str, list[Any]]:
    """Every question's cases for one student: the hidden draw from the generator seeded by (student seed,
    grade_id), exactly as the test cell's `grade` draws it (for most questions it starts with the visible cases)."""
    return {q.grade_id: q.make_cases(torch.Generator().manual_seed(key.mix(seed, q.grade_id)), True)
            for q in assignment.questions}


class Expected:
    """Each question's reference outputs (Question.expect), computed on a thread of their own from the moment the
    inputs are drawn, so that the reference kernels run while the sandbox runs the student's code."""

    def __init__(self, questions: Iterable[Question], cases: Mapping[str, list[Any]]) -> None:
        """Start computing, for every question that can say its expected outputs apart."""
        self._outputs: dict[str, list[Any] | None] = {}
        wanted = [q for q in questions if q.expect is not None and q.judge_expected is not None]
        self._thread = threading.Thread(target=self._compute, args=(wanted, cases), daemon=True,
                                        name="grading-expected")
        self._thread.start()

    def _compute(self, questions: list[Question], cases: Mapping[str, list[Any]]) -> None:
        """Fill in each question's outputs (None when the reference failed: `judge` then meets that itself)."""
        for question in questions:
            assert question.expect is not None
            try:
                self._outputs[question.grade_id] = question.expect(cases[question.grade_id])
            except Exception:  # noqa: BLE001 - judged as before: question.judge computes (and fails) again
                self._outputs[question.grade_id] = None

    def get(self, grade_id: str) -> list[Any] | None:
        """The question's expected outputs once computed, or None (then `judge` computes them)."""
        self._thread.join()
        return self._outputs.get(grade_id)


def merge_output(previous: str, new: str) -> str:
    """Printed output of a later job appended to the earlier: each job reruns the notebook's cells, so the
    lines it shares with the start of what is already kept are not repeated."""
    if not previous:
        return new
    old_lines, new_lines = previous.splitlines(keepends=True), new.splitlines(keepends=True)
    shared = 0
    while shared < min(len(old_lines), len(new_lines)) and old_lines[shared] == new_lines[shared]:
        shared += 1
    rest = "".join(new_lines[shared:])
    if not rest:
        return previous
    return previous + ("" if previous.endswith("\n") else "\n") + rest


def _functions_text(question: Question) -> str:
    """'adam_step' or 'a, b' for messages."""
    return ", ".join(question.functions)


def cells_named(labels: Iterable[str]) -> str:
    """'#3, sgd-step, #5' for messages: the first few labels of a chunk of cells."""
    labels = list(labels)
    shown = ", ".join(labels[:6])
    return shown + (", …" if len(labels) > 6 else "")


def why_unfinished(question: Question | None, reply: Reply, timeout: float, cells: str = "") -> Verdict:
    """Status and reason for a phase that wrote no result (None = the notebook's cells; `cells` names them)."""
    what = (say("run.question", functions=_functions_text(question), grade_id=question.grade_id) if question
            else say("run.cells_named", cells=cells) if cells else say("run.cells"))
    sig = reply.signal
    if reply.refused:  # the worker stopped the child itself: its signal says nothing about memory
        code = "run.refused_order" if reply.refused == REFUSED_ORDER else "run.refused_malformed"
        return Verdict("error", say(code, what=what))
    if reply.oom_kills:  # no accepted phase saw the kill, so it hit this one: memory, even if the deadline then
        # passed too (a slower or busier machine), so that the verdict does not depend on the machine's speed
        return Verdict("error", say("run.killed_memory", what=what, signal=signal.SIGKILL.name))
    if reply.timed_out or sig == signal.SIGXCPU:
        return Verdict("timeout", say("run.timeout", what=what, seconds=f"{timeout:g}"))
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return Verdict("error", say("run.killed_memory" if sig == signal.SIGKILL else "run.killed", what=what,
                                    signal=name))
    if reply.op == "failed":
        return Verdict("error", say("run.infrastructure", error=reply.error or "?"))
    if reply.exit == wire.EXIT_RESULTS_UNWRITABLE:
        return Verdict("error", say("run.unwritable", what=what))
    return Verdict("error", say("run.exit", code=str(reply.exit), what=what))


def _read(path: Path) -> dict[str, Any] | None:
    """A result file from the sandbox as a dict, or None when it is absent, oversize or malformed."""
    try:
        value = plain.load(path)
    except (plain.PlainError, OSError, ValueError):  # whatever the sandbox wrote, a bad file is the student's
        return None
    return value if isinstance(value, dict) else None


def read_cells(job_dir: Path, accepted: Collection[str], name: str = "cells") -> tuple[list[Message], bool] | None:
    """(the cells' errors as messages, ran out of memory) from the phase `name` of cells ('cells', 'cells1', ...),
    or None if the worker did not accept it.

    `accepted` is the reply's `files`: the phases the worker accepted (autograder.grading.runner.phases).
    """
    if name not in accepted:
        return None
    meta = _read(job_dir / name)
    if meta is None or not isinstance(meta.get("errors"), list):
        return None
    errors = [_cell_error(e) for e in meta["errors"][:20]]
    return [e for e in errors if e is not None], meta.get("memory") is True


def _cell_error(raw: Any) -> Message | None:
    """One cell's error as the child sent it (its label, the exception's type and text, where it was raised), as a
    message in no language yet; None when it is not that shape."""
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("cell", "type", "text")):
        return None
    where, line = raw.get("where"), raw.get("line")
    if not isinstance(where, str) or isinstance(line, bool) or not isinstance(line, int):
        where, line = None, None
    kind = one_line(raw["type"], 100)
    error = wire.error_message(kind, forbidden.reworded(kind, one_line(raw["text"])),
                               None if where is None else one_line(where, 100), line)
    return say("run.cell_error", cell=one_line(raw["cell"], 100), error=error)


def test_cell_failed(errors: list[Message], grade_id: str) -> Verdict | None:
    """The verdict on a question whose test cell's visible call failed where it stands (its label is the question's
    grade_id: sanitize.plan), as nbgrader scores such a test cell: nothing; None when it ran."""
    for error in errors:
        if error.code == "run.cell_error" and error.get("cell") == grade_id:
            found = error.get("error")
            return Verdict("error", say("run.test_cell_error", error=found if found is not None else ""))
    return None


def judge_question(question: Question, cases: list[Any], path: Path, cell_errors: list[Message],
                   cells_memory: bool, memory_mb: int, accepted: Collection[str],
                   expected: list[Any] | None = None) -> Verdict | None:
    """The Verdict on one question's result file (judged, or why it cannot be); None if the worker did not
    accept that phase (`accepted`: the reply's `files`), whatever files exist. `expected`: the reference outputs
    already computed (Expected), else the judge computes them."""
    if path.name not in accepted:
        return None
    meta = _read(path)
    if meta is None or not isinstance(meta.get("outputs"), list) or not isinstance(meta.get("missing"), list):
        return Verdict("error", say("results.unreadable"))
    if meta["missing"]:
        names = ", ".join(str(m) for m in meta["missing"][:5])
        if cells_memory:
            return Verdict("memory", say("missing.memory", names=names, limit=memory_mb))
        if cell_errors:
            return Verdict("missing", say("missing.function_error", names=names, error=cell_errors[0]))
        return Verdict("missing", say("missing.function", names=names))
    if isinstance(meta.get("tripped"), list) and meta["tripped"]:
        return model.forbidden(question.functions, sorted({str(t) for t in meta["tripped"]}), called=True)
    if meta.get("memory") is True:
        return Verdict("memory", say("memory.question", functions=_functions_text(question), limit=memory_mb))
    outputs = meta["outputs"]
    if len(outputs) != len(cases):
        return Verdict("error", say("results.count", outputs=len(outputs), cases=len(cases)))
    try:
        return _score(question, cases, outputs, expected)
    except Exception as exc:  # noqa: BLE001 - judge is trusted, but outputs may be odd
        return Verdict("error", say("results.unjudged", error=f"{type(exc).__name__}: {exc}"))


def _score(question: Question, cases: list[Any], outputs: list[Any], expected: list[Any] | None = None) -> Verdict:
    """The course's one credit rule, as the test cell's `grade` applies it: the question's judge over every case
    drawn (visible and hidden alike) gives the share of the points; nothing else gates it."""
    if expected is not None and question.judge_expected is not None:
        outcome = question.judge_expected(cases, outputs, expected)
    else:
        outcome = question.judge(cases, outputs)
    score = min(max(float(outcome.score), 0.0), float(question.points))
    mistakes = tuple(m for m in outcome.mistakes if isinstance(m, str) and MISTAKE_ID.fullmatch(m))
    message = outcome.message if isinstance(outcome.message, Message) else say("internal.error", error="no message")
    return Verdict(outcome.status, message, score, mistakes)


def rows_for(student_id: str, assignment: Assignment, verdicts: Mapping[str, Verdict]) -> tuple[Row, ...]:
    """Rows in question order from {grade_id: Verdict}; a question without one is an internal error."""
    rows = []
    for question in assignment.questions:
        verdict = verdicts.get(question.grade_id, Verdict("error", say("internal.not_graded")))
        rows.append(Row(student_id, assignment.id, assignment.notebook, question.grade_id, round(verdict.score, 6),
                        float(question.points), verdict.status, bounded_message(verdict.message), verdict.mistakes))
    return tuple(rows)
