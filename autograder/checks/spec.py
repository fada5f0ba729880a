"""The contract between an assignment, its notebook checks and the batch grader.

One `Assignment` per nbgrader assignment lists its graded test cells as `Question`s. Every consumer
uses the same three steps, which is what keeps visible tests, hidden tests and the batch grader in
agreement:

1. `make_cases(gen, hidden)` — trusted: draws the inputs (plain data) at grading time;
2. `call(functions, case)` — *untrusted place*: calls the student's functions on one case and returns
   plain outputs (tensors, numbers, strings, lists/tuples/dicts of those); in the batch grader this
   runs inside the sandbox, in the notebook it runs in the student's kernel;
3. `judge(cases, outputs)` — trusted: compares outputs with the reference kernels, diagnoses known
   mistakes, and returns an `Outcome`.

"Plain data" means: `torch.Tensor`, `int`, `float`, `bool`, `str`, `None`, and `list`/`tuple`/`dict`
(str keys) of those — nothing that needs pickle to cross a process boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from autograder.message import BadMessage, Message, say

#: The statuses a graded cell can end with (the batch grader adds timeout/memory/malformed/missing/tampered).
STATUSES = ("passed", "partial", "failed", "error", "forbidden")

#: Key of an output dict meaning "the student's call raised or returned something unusable".
ERROR_KEY = "__error__"

Case = dict[str, Any]
Output = dict[str, Any]
Functions = Mapping[str, Callable[..., Any]]


@dataclass(frozen=True)
class Outcome:
    """The result of one graded cell: score out of max_score, a status and a message (code and parameters).

    `mistakes` holds the ids of the known mistakes the outputs matched (several when the cases cannot tell them
    apart), or nothing; the message names them too, in words, when it is rendered (autograder.checks.messages).
    """

    score: float
    max_score: float
    status: str
    message: Message
    mistakes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def text(self, lang: str | None = None) -> str:
        """The message in words, in `lang` (None: English)."""
        from autograder.checks.messages import text

        return text(self.message, lang)

    def names(self, lang: str | None = None) -> tuple[str, ...]:
        """The display names of the matched mistakes, in `lang` (None: English)."""
        from autograder.checks.messages import names

        return names(self.mistakes, lang)


def error_message(output: Any) -> Message:
    """The message an error output carries (its ERROR_KEY, plain data that may come from the sandbox)."""
    try:
        return Message.from_plain(output.get(ERROR_KEY) if isinstance(output, dict) else None)
    except BadMessage:
        return say("check.unreadable_error")


def error_output(message: Message) -> Output:
    """The output of a case whose call failed, saying why (plain data: it may cross the sandbox boundary)."""
    return {ERROR_KEY: message.to_plain()}


@dataclass(frozen=True)
class Question:
    """One graded test cell: which student functions it grades, its points, and how to grade them."""

    grade_id: str
    points: float
    functions: tuple[str, ...]
    make_cases: Callable[[torch.Generator, bool], list[Case]]
    call: Callable[[Functions, Case], Output]
    judge: Callable[[list[Case], list[Output]], Outcome]
    description: str = ""
    #: The known mistakes this question can name: (id, English name, English hint), catalogued by id.
    named: tuple[tuple[str, str, str], ...] = ()
    #: The reference outputs of the cases, and `judge` given them: lets the batch grader compute them while the
    #: sandbox runs the student's code (the same outcome as `judge`). None: only `judge`.
    expect: Callable[[list[Case]], list[Output]] | None = None
    judge_expected: Callable[[list[Case], list[Output], list[Output]], Outcome] | None = None


@dataclass(frozen=True)
class Assignment:
    """An nbgrader assignment: its id (= folder name), notebook name, graded and hand-graded cells."""

    id: str
    notebook: str
    questions: tuple[Question, ...]
    manual: tuple[str, ...] = field(default_factory=tuple)
    #: Names (modules, attributes) whose use inside graded functions is a forbidden shortcut.
    forbidden: tuple[str, ...] = field(default_factory=tuple)

    def question(self, grade_id: str) -> Question:
        """Return the question with this grade_id, or raise KeyError naming the known ids."""
        for q in self.questions:
            if q.grade_id == grade_id:
                return q
        raise KeyError(f"{self.id}: no question {grade_id!r}; known: {[q.grade_id for q in self.questions]}")

    @property
    def max_score(self) -> float:
        """Total autograded points."""
        return float(sum(q.points for q in self.questions))
