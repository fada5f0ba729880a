"""The records that cross into the sandbox and back: a Job (cells, questions, Limits) and the worker's Reply.

Rebuilt on the other side by `from_json`, every field checked (BadRecord naming the first problem); plain JSON
only, never an object. The trusted records (submissions, verdicts, rows, results) are in core/model.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from autograder.grading.runner import fields as read
from autograder.grading.runner.fields import BadRecord
from autograder.grading.runner.limits import (
    ISOLATION_PARTS,
    JOB_NAME_CHARS,
    JOB_QUESTIONS,
    MESSAGE_CHARS,
    NAME_CHARS,
    PHASE_CHARS,
    QUESTION_SECONDS,
    RECORD_ITEMS,
    STAGES,
)
from autograder.message import Message, Param, say

#: child.run's exit code when the results could not be written (disk full, memory): not the student's exit.
EXIT_RESULTS_UNWRITABLE = 70


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: wall-clock seconds per phase, memory, captured output per stream."""

    timeout: float = QUESTION_SECONDS
    memory_mb: int = 1024
    output_bytes: int = 64 << 10


@dataclass(frozen=True)
class RunCell:
    """One cell to run in the sandbox: its label in messages, its code, whether the student wrote it."""

    label: str
    source: str
    answer: bool


@dataclass(frozen=True)
class Job:
    """One run of a submission's cells and some of its questions; the inputs wait in exchange/<job>/cases.

    `positions[i]`: how many of `cells` run before question i is called (where its test cell stands, as in
    nbgrader); non-decreasing, at most len(cells). Left out: every question after all the cells.
    """

    job: str
    cells: tuple[RunCell, ...]
    questions: tuple[str, ...]
    limits: Limits
    positions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        """Fill in the positions left out; ValueError when they do not fit the cells and questions."""
        if self.positions is None:
            object.__setattr__(self, "positions", (len(self.cells),) * len(self.questions))
        problem = positions_problem(self.placed, len(self.cells), len(self.questions))
        if problem:
            raise ValueError(problem)

    @property
    def placed(self) -> tuple[int, ...]:
        """The positions (filled in by __post_init__)."""
        assert self.positions is not None
        return self.positions

    def to_json(self) -> dict[str, Any]:
        """The protocol message."""
        return {"op": "job", "job": self.job, "cells": [cell_json(c) for c in self.cells],
                "questions": list(self.questions), "positions": list(self.placed), "timeout": self.limits.timeout,
                "memory_mb": self.limits.memory_mb, "output_bytes": self.limits.output_bytes}

    @staticmethod
    def from_json(raw: Any) -> Job:
        """A Job from its protocol message; BadRecord on anything else."""
        data = read.record(raw, "job", frozenset({"op", "job", "cells", "questions", "positions", "timeout",
                                              "memory_mb", "output_bytes"}))
        if data["op"] != "job":
            raise BadRecord("job: op is not 'job'")
        name = read.text(data["job"], "job name", JOB_NAME_CHARS)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
            raise BadRecord(f"job name {name[:40]!r} is not a plain folder name")
        if not isinstance(data["cells"], list) or len(data["cells"]) > RECORD_ITEMS:
            raise BadRecord("job cells is not a list")
        cells = tuple(_cell(c, f"job cell {i}") for i, c in enumerate(data["cells"]))
        timeout, memory = read.number(data["timeout"], "job timeout"), read.integer(data["memory_mb"], "job memory_mb")
        output = read.integer(data["output_bytes"], "job output_bytes")
        if timeout <= 0 or memory <= 0 or output < 0:
            raise BadRecord("job limits must be positive")
        questions = read.texts(data["questions"], "job questions", NAME_CHARS)
        raw_positions = data["positions"]
        if not isinstance(raw_positions, list) or len(raw_positions) > RECORD_ITEMS:
            raise BadRecord("job positions is not a list")
        positions = tuple(read.integer(p, f"job position {i}") for i, p in enumerate(raw_positions))
        problem = positions_problem(positions, len(cells), len(questions))
        if problem:
            raise BadRecord(problem)
        return Job(name, cells, questions, Limits(timeout, memory, output), positions)


def positions_problem(positions: tuple[int, ...], cells: int, questions: int) -> str:
    """What is wrong with a job's positions ("" when nothing): one per question, non-decreasing, within the cells."""
    if questions > JOB_QUESTIONS:
        return f"job questions: {questions}, more than {JOB_QUESTIONS}"
    if len(positions) != questions:
        return f"job positions: {len(positions)} for {questions} questions"
    if any(not 0 <= p <= cells for p in positions):
        return f"job positions: not all within 0..{cells}"
    if any(a > b for a, b in zip(positions, positions[1:], strict=False)):
        return "job positions: not in order (a question before the cells of the one before it)"
    return ""


def error_message(kind: str, text: Param, cell: str | None, line: int | None) -> Message:
    """An exception raised by student code, as a message: 'Type: text', with the cell and line where it was raised
    when a cell of the student's notebook was on its stack (the catalog words it in the reader's language)."""
    if cell is None or line is None:
        return say("run.error", type=kind, text=text)
    return say("run.error_at", type=kind, text=text, cell=cell, line=line)


def cell_json(cell: RunCell) -> dict[str, Any]:
    """A cell as the job carries it."""
    return {"label": cell.label, "source": cell.source, "answer": cell.answer}


def _cell(raw: Any, what: str) -> RunCell:
    """A RunCell from its JSON form."""
    data = read.record(raw, what, frozenset({"label", "source", "answer"}))
    return RunCell(read.text(data["label"], f"{what} label", NAME_CHARS), read.text(data["source"], f"{what} source"),
                read.flag(data["answer"], f"{what} answer"))


@dataclass(frozen=True)
class Reply:
    """How one job ended in the worker (op 'done'), or why the worker could not run it (op 'failed').

    `exit` is the child's exit code and `signal` the signal that killed it (None when neither applies);
    `files` names the phases ('cells', 'q0', ...) whose result files were copied to the exchange folder.
    """

    op: str
    job: str
    timed_out: bool = False
    phases: int = 0
    exit: int | None = None
    signal: int | None = None
    oom_kills: int = 0
    stdout: str = ""
    stdout_bytes: int = 0
    stderr: str = ""
    stderr_bytes: int = 0
    files: tuple[str, ...] = ()
    #: Why the worker stopped accepting results and stopped the child (phases.REFUSED_*), "" if it did not.
    refused: str = ""
    seconds: float = 0.0
    isolation_seconds: float = 0.0
    cgroups: bool = False
    isolation_parts: dict[str, float] = field(default_factory=dict)
    #: Where the worker's time went, stage by stage (seconds by name, in order; worker.STAGES): for profiles.
    stages: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @staticmethod
    def failed(job: str, error: str) -> Reply:
        """The reply for a job that did not run (the worker failed, or died twice)."""
        return Reply("failed", job, error=error)

    def to_json(self) -> dict[str, Any]:
        """The protocol message ('failed' replies carry only op, job and error)."""
        if self.op == "failed":
            return {"op": "failed", "job": self.job, "error": self.error}
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "error"}
        return {**data, "files": list(self.files), "isolation_parts": dict(self.isolation_parts),
                "stages": dict(self.stages)}

    @staticmethod
    def from_json(raw: Any) -> Reply:
        """A Reply from its protocol message; BadRecord on anything else."""
        if isinstance(raw, dict) and raw.get("op") == "failed":
            data = read.record(raw, "failed reply", frozenset({"op", "job", "error"}))
            return Reply.failed(read.text(data["job"], "reply job", JOB_NAME_CHARS),
                                read.text(data["error"], "reply error", MESSAGE_CHARS))
        names = frozenset(f.name for f in fields(Reply)) - {"error"}
        data = read.record(raw, "reply", names)
        if data["op"] != "done":
            raise BadRecord("reply: op is neither 'done' nor 'failed'")
        parts, stages = data["isolation_parts"], data["stages"]
        if not isinstance(parts, dict) or len(parts) > ISOLATION_PARTS:
            raise BadRecord("reply isolation_parts is not a small map of numbers")
        if not isinstance(stages, dict) or len(stages) > STAGES:
            raise BadRecord("reply stages is not a small map of numbers")
        ints = {k: read.integer(data[k], f"reply {k}") for k in ("phases", "oom_kills", "stdout_bytes", "stderr_bytes")}
        return Reply("done", read.text(data["job"], "reply job", JOB_NAME_CHARS),
                     read.flag(data["timed_out"], "reply timed_out"),
                     phases=ints["phases"], oom_kills=ints["oom_kills"],
                     exit=None if data["exit"] is None else read.integer(data["exit"], "reply exit"),
                     signal=None if data["signal"] is None else read.integer(data["signal"], "reply signal"),
                     stdout=read.text(data["stdout"], "reply stdout"), stdout_bytes=ints["stdout_bytes"],
                     stderr=read.text(data["stderr"], "reply stderr"), stderr_bytes=ints["stderr_bytes"],
                     files=read.texts(data["files"], "reply files", PHASE_CHARS),
                     refused=read.text(data["refused"], "reply refused", MESSAGE_CHARS),
                     seconds=read.number(data["seconds"], "reply seconds"),
                     isolation_seconds=read.number(data["isolation_seconds"], "reply isolation_seconds"),
                     cgroups=read.flag(data["cgroups"], "reply cgroups"),
                     isolation_parts={read.text(k, "reply isolation part", PHASE_CHARS):
                                      read.number(v, f"reply isolation {k}")
                                      for k, v in parts.items()},
                     stages={read.text(k, "reply stage", PHASE_CHARS): read.number(v, f"reply stage {k}")
                             for k, v in stages.items()})
