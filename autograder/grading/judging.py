"""Trusted side of one submission: draw its inputs, read back what the sandbox wrote, judge, explain.

Nothing read from the sandbox is believed: files are decoded by autograder.plain with limits, their
shape is checked here, and a question only scores through its own `judge` on inputs drawn here.
"""

from __future__ import annotations

import hashlib
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autograder import plain
from autograder.checks.spec import Assignment, Question
from autograder.grading.sanitize import Verdict

#: CSV header, fixed by the issue.
HEADER = ("student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status", "message")


@dataclass(frozen=True)
class Row:
    """One line of grades.csv: one student's result on one graded cell."""

    student_id: str
    assignment: str
    notebook: str
    grade_id: str
    score: float
    max_score: float
    status: str
    message: str


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace to one line and cap its length (messages go into a CSV cell)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def derive_seed(seed: int, *parts: str) -> int:
    """A 63-bit seed from a base seed and names (student id, grade_id): stable and independent."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def draw_cases(assignment: Assignment, seed: int) -> dict[str, list[Any]]:
    """Hidden-test inputs for every question, each from its own generator seeded by (seed, grade_id)."""
    cases = {}
    for question in assignment.questions:
        gen = torch.Generator().manual_seed(derive_seed(seed, question.grade_id))
        cases[question.grade_id] = question.make_cases(gen, True)
    return cases


def _functions_text(question: Question) -> str:
    """'adam_step' or 'a, b' for messages."""
    return ", ".join(question.functions)


def why_unfinished(question: Question | None, reply: dict[str, Any], timeout: float) -> Verdict:
    """Status and reason for a phase that wrote no result (None = the notebook's cells)."""
    what = f"{_functions_text(question)} (for {question.grade_id})" if question else "the notebook's cells"
    sig = reply.get("signal")
    if reply.get("timed_out") or sig == signal.SIGXCPU:
        return Verdict("timeout", f"{what} did not finish within the {timeout:g} s time limit (endless loop?)")
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = " (out of memory?)" if sig == signal.SIGKILL else ""
        return Verdict("error", f"the process running {what} was killed by {name}{hint}")
    if reply.get("op") == "failed":
        return Verdict("error", f"grading infrastructure error: {reply.get('error', '?')}")
    if reply.get("exit") == 70:  # kernel.run's own code for "the results could not be written"
        return Verdict("error", f"the results of {what} could not be written (too large, or memory ran out)")
    return Verdict("error", f"the code ended its own process (exit code {reply.get('exit')}) while running {what}")


def _read(path: Path) -> dict[str, Any] | None:
    """A result file from the sandbox as a dict, or None when it is absent, oversize or malformed."""
    try:
        value = plain.load(path)
    except (plain.PlainError, OSError, ValueError):  # whatever the sandbox wrote, a bad file is the student's
        return None
    return value if isinstance(value, dict) else None


def read_cells(job_dir: Path) -> tuple[list[str], bool] | None:
    """(cell error lines, ran out of memory) from the cells phase, or None if it did not finish."""
    meta = _read(job_dir / "cells")
    if meta is None or not isinstance(meta.get("errors"), list):
        return None
    return [one_line(e) for e in meta["errors"] if isinstance(e, str)][:20], meta.get("memory") is True


def judge_question(question: Question, cases: list[Any], path: Path, cell_errors: list[str],
                   cells_memory: bool, memory_mb: int) -> Verdict | tuple[float, str, str] | None:
    """(score, status, message) or a Verdict for one question's result file; None if the file is absent."""
    if not (Path(f"{path}.json").exists() and Path(f"{path}.npz").exists()):
        return None
    meta = _read(path)
    if meta is None or not isinstance(meta.get("outputs"), list) or not isinstance(meta.get("missing"), list):
        return Verdict("error", "the submission's results could not be read back (malformed or too large)")
    if meta["missing"]:
        names = ", ".join(str(m) for m in meta["missing"][:5])
        if cells_memory:
            return Verdict("memory", f"{names} not defined: the notebook ran out of memory ({memory_mb} MB limit)")
        first = f"; first error: {cell_errors[0]}" if cell_errors else ""
        return Verdict("missing", f"function {names} is not defined{first}")
    if isinstance(meta.get("tripped"), list) and meta["tripped"]:
        used = ", ".join(sorted({str(t) for t in meta["tripped"]}))
        return Verdict("forbidden", f"{_functions_text(question)} called {used}, which this exercise forbids")
    if meta.get("memory") is True:
        return Verdict("memory", f"{_functions_text(question)} ran out of memory ({memory_mb} MB limit)")
    outputs = meta["outputs"]
    if len(outputs) != len(cases):
        return Verdict("error", f"{len(outputs)} outputs for {len(cases)} cases")
    try:
        outcome = question.judge(cases, outputs)
    except Exception as exc:  # noqa: BLE001 - judge is trusted, but outputs may be odd
        return Verdict("error", f"the outputs could not be judged: {type(exc).__name__}: {exc}")
    score = min(max(float(outcome.score), 0.0), float(question.points))
    return score, outcome.status, one_line(outcome.message)


def rows_for(student_id: str, assignment: Assignment, verdicts: dict[str, Any]) -> list[Row]:
    """Rows in question order from {grade_id: Verdict | (score, status, message)}."""
    rows = []
    for question in assignment.questions:
        result = verdicts.get(question.grade_id, Verdict("error", "not graded (internal error)"))
        score, status, message = (0.0, result.status, result.message) if isinstance(result, Verdict) else result
        rows.append(Row(student_id, assignment.id, assignment.notebook, question.grade_id, round(score, 6),
                        float(question.points), status, one_line(message)))
    return rows
