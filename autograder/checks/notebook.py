"""What notebook test cells call: `check` (visible cases, reports) and `grade` (the graded draw, returns the score).

The course's one credit rule: every question is scored in proportion to what its cases check (visible and
hidden alike), and a named known mistake earns at most half. Neither function raises: `grade` returns the
score, which nbgrader 0.9.6 reads as the cell's partial credit (nbgrader/utils.py, determine_grade: a cell
whose last expression is a number scores that number, 0 included), so `nbgrader autograde` and the batch
grader give the same notebook the same points, and a failed visible check never stops "Run All".
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from autograder.checks.forbidden import scan, used_message
from autograder.checks.messages import language, points_lost, text, verdict
from autograder.checks.spec import Outcome
from autograder.message import Message, say

#: Seed of the visible cases' generator and of hidden cases outside `nbgrader autograde`.
FIXED_SEED = 20260101


def student_id(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The nbgrader student id when running under autograde (cwd .../autograded/<student>/<assignment>)."""
    parts = Path(cwd or os.getcwd()).resolve().parts
    if "autograded" in parts:
        i = len(parts) - 1 - parts[::-1].index("autograded")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


#: The nbgrader student this kernel grades: read once, from the folder the kernel started in, when the notebook's first
#: (locked) cell imports the checks, so a later `os.chdir` in a student's cell changes neither the draw nor the calls.
GRADED_STUDENT = student_id()


def seed_for(assignment_id: str, grade_id: str, student: str | None) -> int:
    """The student's hidden-case seed from the course key (as `autograder grade` draws it), or the fixed seed.

    `student` is nbgrader's folder name; the batch grader seeds with the id it makes of that same name
    (`collect.safe_id`: `Ann Lee` -> `ann-lee~a36e143c`), so both draw the same inputs for every name."""
    if student is None:  # not under `nbgrader autograde`: no student, no key needed
        return FIXED_SEED
    from autograder import key  # late: only graded runs need the key (and may create its file)
    from autograder.grading.inbox.collect import safe_id

    return key.question_seed(key.load_key(), assignment_id, safe_id(student), grade_id)


def _source(namespace: Mapping[str, Any], graded: tuple[str, ...] = ()) -> list[str]:
    """Source of every function the notebook defined, one text each, for the static shortcut scan; the functions
    bound now to the `graded` names come last, so that theirs is the definition the scan reads under each name (an
    earlier definition kept under an alias, `_old = sgd_step`, must not stand in for the one being graded)."""
    live = [namespace.get(name) for name in graded]
    chunks = []
    for value in [v for v in list(namespace.values()) if not any(v is f for f in live)] + live:
        if inspect.isfunction(value) and getattr(value, "__module__", None) == "__main__":
            try:
                chunks.append(inspect.getsource(value))
            except (OSError, TypeError):
                continue
    return chunks


def run(assignment_id: str, grade_id: str, namespace: Mapping[str, Any], hidden: bool,
        seed: int = FIXED_SEED) -> Outcome:
    """Grade one question in this process: static scan, then cases through call (tripwired) and judge."""
    return _timed_run(assignment_id, grade_id, namespace, hidden, seed)[0]


def _timed_run(assignment_id: str, grade_id: str, namespace: Mapping[str, Any], hidden: bool,
               seed: int) -> tuple[Outcome, float, int]:
    """run's outcome, with the wall-clock seconds the student's calls took and the number of cases they were called on
    (the process's CPU time would not do: torch's idle OpenMP threads spin between operations)."""
    from autograder.checks import get_assignment  # late: the registry imports this module

    assignment = get_assignment(assignment_id)
    question = assignment.question(grade_id)
    if assignment.forbidden:
        found = scan(_source(namespace, question.functions), question.functions, assignment.forbidden)
        for name, hits in found.items():
            if hits:
                return Outcome(0.0, question.points, "forbidden",
                               say("check.error", grade_id=grade_id, error=used_message(name, hits))), 0.0, 0
    with as_graded():
        cases = question.make_cases(torch.Generator().manual_seed(seed), hidden)
    started = time.perf_counter()
    outputs = [question.call(namespace, case) for case in cases]  # the student's code, under the notebook's settings
    seconds = time.perf_counter() - started
    with as_graded():
        return question.judge(cases, outputs), seconds, len(cases)


#: The share of the grader's default per-question limit past which a check cell says the question may time out there.
SLOW_SHARE = 0.5


def slow_note(assignment_id: str, grade_id: str, seconds: float, called: int) -> Message | None:
    """What a check cell adds when its `called` visible cases took `seconds`, which on all the cases the grader calls
    (visible and hidden) comes to over SLOW_SHARE of its default per-question limit; else None. nbgrader gives a cell
    180 s (autograder/nbgrader_config.py): without this, a slow but correct function passes here and times out there."""
    from autograder.checks import get_assignment  # late: the registry imports this module
    from autograder.grading.runner.limits import QUESTION_SECONDS

    if called <= 0:
        return None
    with as_graded():  # only their number: the fixed draw, as many cases as every student's
        graded = len(get_assignment(assignment_id).question(grade_id).make_cases(
            torch.Generator().manual_seed(FIXED_SEED), True))
    estimate = seconds * max(graded, called) / called
    if estimate <= SLOW_SHARE * QUESTION_SECONDS:
        return None
    def shown(value: float) -> str:
        return f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return say("check.slow", grade_id=grade_id, seconds=shown(seconds), n=called, estimate=shown(estimate),
               total=max(graded, called), limit=f"{QUESTION_SECONDS:g}")


@contextlib.contextmanager
def as_graded() -> Iterator[None]:
    """torch's process-wide settings as `autograder grade` draws and judges under (its own process: float32 default,
    gradients on, no inference mode, no autocast), while a student's kernel does it: a notebook that changed them
    (`torch.set_default_dtype(torch.float64)` draws other hidden inputs) must get the batch grader's score. torch's
    global generator is left as it was (the capstone's judge builds models, whose init draws from it), as the batch
    grader, which draws and judges in another process, leaves the student's."""
    dtype, rng = torch.get_default_dtype(), torch.random.get_rng_state()
    torch.set_default_dtype(torch.float32)
    try:
        with torch.inference_mode(False), torch.enable_grad(), torch.autocast("cpu", enabled=False):
            yield
    finally:
        torch.set_default_dtype(dtype)
        torch.random.set_rng_state(rng)


def _show(text: str, ok: bool) -> None:
    """Print a check's verdict on stdout (never stderr, which nbgrader scores as a failure of the whole cell)."""
    print(f"{'✓' if ok else '✗'} {text}")


def check(assignment_id: str, grade_id: str, namespace: Mapping[str, Any]) -> None:
    """Visible test: report the visible cases' verdict; never raises, so "Run All" reaches every question.

    Credit is the same everywhere (see `grade`): a failed visible case costs its share of the points and no more.
    Under `nbgrader autograde` it calls nothing: the hidden `grade` below it scores the question, on exactly the calls
    the batch grader makes (a function that keeps state across calls, or draws from torch's global generator, would
    otherwise be graded after more calls there than in the batch grader), and clears what the cell showed before."""
    if GRADED_STUDENT is not None:
        return
    outcome, seconds, called = _timed_run(assignment_id, grade_id, namespace, False, FIXED_SEED)
    _show(verdict(outcome.status, outcome.message, language()), outcome.status == "passed")
    slow = slow_note(assignment_id, grade_id, seconds, called)
    if slow is not None:
        print(f"⚠ {text(slow, language())}")


class Score(float):
    """A test cell's score, which nbgrader reads from the cell's displayed text: shown in full whatever the kernel's
    float display (`%precision 1` would make 0.43 read 0.4 under nbgrader, and the batch grader keeps 0.43)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's display of the value: every digit, as repr gives them (a printer for float is not consulted:
        IPython tries a class's own _repr_pretty_ before its base class's printer)."""
        printer.text(float.__repr__(self))


def grade(assignment_id: str, grade_id: str, namespace: Mapping[str, Any]) -> float:
    """Hidden test: the score over the per-student draw (visible and hidden cases), which nbgrader reads as the
    cell's partial credit; the diagnosis is printed when points are lost."""
    outcome = run(assignment_id, grade_id, namespace, hidden=True,
                  seed=seed_for(assignment_id, grade_id, GRADED_STUDENT))
    cleared = _clear_kernel_output()
    if outcome.score < outcome.max_score:
        # a forbidden shortcut is named as such (its message says what was used, the verdict says it is forbidden)
        why = say("verdict.forbidden", message=outcome.message) if outcome.status == "forbidden" else outcome.message
        _show(points_lost(outcome.score, outcome.max_score, why, language()), False)
    elif cleared:  # the verdict is this cell's only output
        _show(verdict(outcome.status, outcome.message, language()), True)
    return Score(outcome.score)


def _clear_kernel_output() -> bool:
    """Under a Jupyter kernel, flush and drop what the test cell has shown so far; True if it did.

    nbgrader scores a test cell 0 once anything went to stderr before its score (nbgrader.utils.determine_grade), and
    a student's logging handler (logging.basicConfig) holds the kernel's stderr, past the checks' redirect; the
    batch grader never counts such output against a question, so without this the two graders disagree."""
    ipython = sys.modules.get("IPython")  # imported by the kernel itself: never an import of ours
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    for stream in (sys.stdout, sys.stderr):  # what is buffered goes out before the clearing, not after it
        try:
            stream.flush()
        except (OSError, ValueError):  # a stream the student closed or replaced
            pass
    shell.display_pub.clear_output(wait=False)  # what IPython.display.clear_output does
    return True
