"""The records every grading stage passes, as frozen dataclasses, and their JSON form: the grader's data flow.

    Submission (collect.py finds them: a student's notebook, or a `Locator` to read it from when graded)
      -> Plan (sanitize.py: the cells to run, as `Cell`s, and the `Verdict`s decided before any code runs)
      -> Job (student.py -> sandbox.py -> worker.py, JSON over a pipe: the cells, the questions, the `Limits`)
      -> Reply (worker.py -> sandbox.py: how the forked child ended; its result files stay in the exchange folder)
      -> Verdict (judging.py: one per question, from the result files, judged against inputs drawn here)
      -> Row (judging.rows_for: one line of grades.csv per question, `HEADER` order)
      -> Result (student.py: one student's rows, seed, notes, output; stored as OUT/results/<id>.json and, on a
         Dask cluster, sent back from the worker node)
    `RunContext` is what one batch shares with every worker thread (pipeline.py, cluster.py).

Everything that crossed a process or network boundary (a Job in the worker, a Reply in the grader, a Result
from a Dask worker or from disk, a Submission on a Dask worker) is rebuilt by `from_json` / `from_plain`,
which checks every field's type and size and raises `BadRecord` naming the first problem. Plain data only:
JSON types (and a notebook's bytes), never an object. This module imports nothing from the course and holds
no code a student could use: it ships in the sandbox's runner.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: kernel.run's exit code when the results could not be written (disk full, memory): not the student's exit.
EXIT_RESULTS_UNWRITABLE = 70

#: grades.csv's header, fixed by the course.
HEADER = ("student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status", "message")

#: How a result names its sandbox (the report warns about any other).
SANDBOXED, UNSANDBOXED = "bubblewrap", "NONE (rlimits only)"

#: A row's status: short lowercase words ("passed", "timeout", "forbidden", ...).
STATUS = re.compile(r"[a-z_]{1,20}")

#: Caps on text from the other side of a boundary (the protocol's own cap is 16 MB per message).
MAX_TEXT = 8 << 20
MAX_ITEMS = 10_000


class BadRecord(ValueError):
    """A record read from JSON is malformed: the message names the field and the problem."""


# --- text from the other side of the trust boundary ------------------------------------------------------

#: Code points no output file may hold, whoever wrote them: C0 and C1 controls (tab and newline aside),
#: DEL, lone surrogates (not encodable as UTF-8), and the bidi embeddings, overrides and isolates that
#: make text display in another order than it reads (U+202A-202E, U+2066-2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_text(value: str | bytes, *, lines: bool = True) -> str:
    """`value` as text every output can hold: bytes decoded as UTF-8, CR and CRLF made newlines, and each unsafe
    code point (see _UNSAFE; newline and tab too unless `lines`) replaced by U+FFFD.

    The one place student-controlled text is made safe: every Row and Result passes its text through it
    when it is built, whether it was graded here, sent by a Dask worker or read back from disk.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return (_UNSAFE if lines else _UNSAFE_IN_A_LINE).sub("\ufffd", text)


def _safe_fields(record: Any, one_line: tuple[str, ...], many_lines: tuple[str, ...] = ()) -> None:
    """Make the named text fields of a frozen record safe in place (safe_text), as it is built."""
    for name in one_line + many_lines:
        value = getattr(record, name)
        if isinstance(value, str | bytes):
            object.__setattr__(record, name, safe_text(value, lines=name in many_lines))


# --- strict readers for untrusted JSON ------------------------------------------------------------------

def _object(raw: Any, what: str, required: frozenset[str], optional: frozenset[str] = frozenset()
            ) -> Mapping[str, Any]:
    """`raw` as a JSON object with every required key and no unknown one."""
    if not isinstance(raw, dict):
        raise BadRecord(f"{what}: a {type(raw).__name__} instead of an object")
    unknown = sorted(str(k)[:40] for k in raw if k not in required | optional)
    if unknown:
        raise BadRecord(f"{what}: unknown field(s) {', '.join(unknown[:5])}")
    lacking = sorted(required - set(raw))
    if lacking:
        raise BadRecord(f"{what}: lacks {', '.join(lacking)}")
    return raw


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    """A str of at most `limit` characters."""
    if not isinstance(value, str):
        raise BadRecord(f"{what} is not text")
    if len(value) > limit:
        raise BadRecord(f"{what} is {len(value)} characters, more than {limit}")
    return value


def _integer(value: Any, what: str) -> int:
    """An int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{what} is not an integer")
    return value


def _number(value: Any, what: str) -> float:
    """A finite int or float (not a bool), as float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRecord(f"{what} is not a finite number")
    return float(value)


#: The languages besides English that notebooks, check messages and feedback pages come in (defined here, on the
#: runner side, so the records need nothing trusted; autograder.notebook_i18n keeps a catalog for each).
LANGUAGES = ("zh_CN",)


def _language(value: Any, what: str) -> str | None:
    """A stored language: None (English) or one the course knows."""
    if value is None or value in LANGUAGES:
        return value if isinstance(value, str) else None
    raise BadRecord(f"{what} language {str(value)[:30]!r} is not one of {LANGUAGES}")


def _flag(value: Any, what: str) -> bool:
    """A bool."""
    if not isinstance(value, bool):
        raise BadRecord(f"{what} is not true/false")
    return value


def _texts(value: Any, what: str, limit: int = MAX_TEXT) -> tuple[str, ...]:
    """A list of str, each at most `limit` characters."""
    if not isinstance(value, list | tuple) or len(value) > MAX_ITEMS:
        raise BadRecord(f"{what} is not a list of at most {MAX_ITEMS} texts")
    return tuple(_text(v, f"{what}[{i}]", limit) for i, v in enumerate(value))


def _text_map(value: Any, what: str, limit: int = MAX_TEXT) -> dict[str, str]:
    """A {str: str} object of at most 100 entries."""
    if not isinstance(value, dict) or len(value) > 100:
        raise BadRecord(f"{what} is not a map of text")
    return {_text(k, f"{what} key", 40): _text(v, f"{what}[{str(k)[:40]!r}]", limit) for k, v in value.items()}


# --- submissions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Locator:
    """Where a submission's notebook lies, to be read only when it is graded."""

    container: str  # the SUBMISSIONS folder or zip
    parts: tuple[str, ...] = ()  # folder: path components below the container
    index: int = -1  # zip: the member's position in the archive (names may repeat)
    member: str = ""  # zip: the member's name, checked when it is read


@dataclass(frozen=True)
class Submission:
    """One student's notebook (bytes, or a Locator to read it from) and where it came from."""

    student_id: str
    origin: str
    data: bytes | None
    late: bool = False
    problem: str = ""  # why there is nothing to grade, or why the student could not be identified
    locator: Locator | None = None
    status: str = ""  # the rows' status when there is nothing to grade ('' = missing)
    name: str = ""  # the upload's own name, as found (the id derives from it: collect.safe_id)

    @property
    def empty(self) -> bool:
        """True when there is no notebook to grade (then `problem` says why)."""
        return self.data is None and self.locator is None

    def to_plain(self) -> dict[str, Any]:
        """What a Dask task carries: a submission already read (collect.loaded), as str, bytes and bool only."""
        if self.data is None and self.locator is not None:
            raise ValueError(f"{self.student_id}: read the notebook (collect.loaded) before sending it")
        return {"student_id": self.student_id, "origin": self.origin, "data": self.data, "late": self.late,
                "problem": self.problem, "status": self.status, "name": self.name}

    @staticmethod
    def from_plain(raw: Any) -> Submission:
        """to_plain's inverse, every field checked; BadRecord naming the first problem."""
        data = _object(raw, "submission", frozenset({"student_id", "origin", "data", "late", "problem", "status",
                                                     "name"}))
        if data["data"] is not None and not isinstance(data["data"], bytes):
            raise BadRecord("submission data is neither bytes nor null")
        return Submission(_text(data["student_id"], "submission student_id", 200),
                          _text(data["origin"], "submission origin", 4000), data["data"],
                          _flag(data["late"], "submission late"), _text(data["problem"], "submission problem", 4000),
                          status=_text(data["status"], "submission status", 20),
                          name=_text(data["name"], "submission name", 4000))


# --- verdicts ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What was decided about one question: status, one-line reason, score, and the known mistake it matched.

    Decided before any code runs (tampered, missing, forbidden, malformed: score 0), or by judging its outputs.
    """

    status: str
    message: str
    score: float = 0.0
    mistake: str = ""


def forbidden(functions: tuple[str, ...], used: list[str], *, called: bool) -> Verdict:
    """The one wording of a forbidden-shortcut verdict: found in the source (`called`=False) or tripped at run time."""
    names, shortcuts = ", ".join(functions), ", ".join(used)
    if called:
        return Verdict("forbidden", f"{names} called {shortcuts}, which this exercise forbids")
    return Verdict("forbidden", f"{names} uses {shortcuts}, which this exercise forbids: write the computation "
                                "yourself")


# --- what the grader sends to a sandboxed worker, and what comes back -----------------------------------

@dataclass(frozen=True)
class Limits:
    """Per-submission limits: wall-clock seconds per phase, memory, captured output per stream."""

    timeout: float = 10.0
    memory_mb: int = 1024
    output_bytes: int = 64 << 10


@dataclass(frozen=True)
class Cell:
    """One cell to run in the sandbox: its label in messages, its code, whether the student wrote it."""

    label: str
    source: str
    answer: bool


@dataclass(frozen=True)
class Job:
    """One run of a submission's cells and some of its questions; the inputs wait in exchange/<job>/cases."""

    job: str
    cells: tuple[Cell, ...]
    questions: tuple[str, ...]
    limits: Limits

    def to_json(self) -> dict[str, Any]:
        """The protocol message."""
        return {"op": "job", "job": self.job, "cells": [cell_json(c) for c in self.cells],
                "questions": list(self.questions), "timeout": self.limits.timeout,
                "memory_mb": self.limits.memory_mb, "output_bytes": self.limits.output_bytes}

    @staticmethod
    def from_json(raw: Any) -> Job:
        """A Job from its protocol message; BadRecord on anything else."""
        data = _object(raw, "job", frozenset({"op", "job", "cells", "questions", "timeout", "memory_mb",
                                              "output_bytes"}))
        if data["op"] != "job":
            raise BadRecord("job: op is not 'job'")
        name = _text(data["job"], "job name", 100)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
            raise BadRecord(f"job name {name[:40]!r} is not a plain folder name")
        if not isinstance(data["cells"], list) or len(data["cells"]) > MAX_ITEMS:
            raise BadRecord("job cells is not a list")
        cells = tuple(_cell(c, f"job cell {i}") for i, c in enumerate(data["cells"]))
        timeout, memory = _number(data["timeout"], "job timeout"), _integer(data["memory_mb"], "job memory_mb")
        output = _integer(data["output_bytes"], "job output_bytes")
        if timeout <= 0 or memory <= 0 or output < 0:
            raise BadRecord("job limits must be positive")
        return Job(name, cells, _texts(data["questions"], "job questions", 200), Limits(timeout, memory, output))


def cell_json(cell: Cell) -> dict[str, Any]:
    """A cell as the job carries it."""
    return {"label": cell.label, "source": cell.source, "answer": cell.answer}


def _cell(raw: Any, what: str) -> Cell:
    """A Cell from its JSON form."""
    data = _object(raw, what, frozenset({"label", "source", "answer"}))
    return Cell(_text(data["label"], f"{what} label", 200), _text(data["source"], f"{what} source"),
                _flag(data["answer"], f"{what} answer"))


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
            data = _object(raw, "failed reply", frozenset({"op", "job", "error"}))
            return Reply.failed(_text(data["job"], "reply job", 100), _text(data["error"], "reply error", 2000))
        names = frozenset(f.name for f in fields(Reply)) - {"error"}
        data = _object(raw, "reply", names)
        if data["op"] != "done":
            raise BadRecord("reply: op is neither 'done' nor 'failed'")
        parts, stages = data["isolation_parts"], data["stages"]
        if not isinstance(parts, dict) or len(parts) > 10:
            raise BadRecord("reply isolation_parts is not a small map of numbers")
        if not isinstance(stages, dict) or len(stages) > 20:
            raise BadRecord("reply stages is not a small map of numbers")
        ints = {k: _integer(data[k], f"reply {k}") for k in ("phases", "oom_kills", "stdout_bytes", "stderr_bytes")}
        return Reply("done", _text(data["job"], "reply job", 100), _flag(data["timed_out"], "reply timed_out"),
                     phases=ints["phases"], oom_kills=ints["oom_kills"],
                     exit=None if data["exit"] is None else _integer(data["exit"], "reply exit"),
                     signal=None if data["signal"] is None else _integer(data["signal"], "reply signal"),
                     stdout=_text(data["stdout"], "reply stdout"), stdout_bytes=ints["stdout_bytes"],
                     stderr=_text(data["stderr"], "reply stderr"), stderr_bytes=ints["stderr_bytes"],
                     files=_texts(data["files"], "reply files", 20), seconds=_number(data["seconds"], "reply seconds"),
                     isolation_seconds=_number(data["isolation_seconds"], "reply isolation_seconds"),
                     cgroups=_flag(data["cgroups"], "reply cgroups"),
                     isolation_parts={_text(k, "reply isolation part", 20): _number(v, f"reply isolation {k}")
                                      for k, v in parts.items()},
                     stages={_text(k, "reply stage", 20): _number(v, f"reply stage {k}") for k, v in stages.items()})


# --- grades --------------------------------------------------------------------------------------------

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
    #: The known mistake the diagnosis names ("eps inside the square root"), or "" when none matched.
    mistake: str = ""

    def __post_init__(self) -> None:
        """Every text field made safe (safe_text): a row can never hold text an output cannot."""
        _safe_fields(self, ("student_id", "assignment", "notebook", "grade_id", "status", "message", "mistake"))

    def to_json(self) -> dict[str, Any]:
        """The row as stored in a result file."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def from_json(raw: Any, what: str = "row") -> Row:
        """A Row from its stored form: every field typed, the score within [0, max_score], a plain status."""
        names = frozenset(f.name for f in fields(Row))
        data = _object(raw, what, names - {"mistake"}, frozenset({"mistake"}))
        texts = {k: _text(data[k], f"{what} {k}", 2000)
                 for k in ("student_id", "assignment", "notebook", "grade_id", "status", "message")}
        score, top = _number(data["score"], f"{what} score"), _number(data["max_score"], f"{what} max_score")
        if not 0.0 <= score <= top or not STATUS.fullmatch(texts["status"]):
            raise BadRecord(f"{what} has score {score} or status {texts['status'][:30]!r} out of range")
        return Row(**texts, score=score, max_score=top, mistake=_text(data.get("mistake", ""), f"{what} mistake", 2000))


#: Fields of a stored result, in the order they are written.
_RESULT_FIELDS = ("student_id", "assignment", "notebook", "origin", "late", "seed", "notes", "output", "seconds",
                  "rows", "worker", "key_id", "sandbox", "submitted", "source", "language", "startup")
#: Result fields left out of the stored form while unset (None).
_OPTIONAL_RESULT_FIELDS = _RESULT_FIELDS[10:]


@dataclass(frozen=True)
class Result:
    """One student's graded submission: a row per question, the seed that drew its inputs, notes, output.

    `worker` names the Dask worker that graded it (cluster runs); `key_id`, `sandbox` and `submitted` are
    stamped by the batch before it is saved (None: not stamped, e.g. results stored by older versions).
    `source` fingerprints what was graded (collect.fingerprint: the upload's name and notebook bytes), so
    that --resume reuses the result only for the same upload (None: unknown, never reused).
    `seconds` is the submission's own time, from reading the notebook to its verdicts; `startup` the time it
    waited on top of that for a sandboxed worker to start (a worker's first submission; None: not recorded).
    """

    student_id: str
    assignment: str
    notebook: str
    origin: str
    late: bool
    seed: int | None
    notes: tuple[str, ...]
    output: dict[str, str]
    seconds: float
    rows: tuple[Row, ...]
    worker: str | None = None
    key_id: str | None = None
    sandbox: str | None = None
    submitted: bool | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        """Every text field made safe (safe_text), captured output keeping its lines."""
        _safe_fields(self, ("student_id", "assignment", "notebook", "origin", "worker", "key_id", "sandbox",
                            "source"))
        object.__setattr__(self, "notes", tuple(safe_text(note, lines=False) for note in self.notes))
        object.__setattr__(self, "output", {safe_text(k, lines=False): safe_text(v) for k, v in self.output.items()})
    #: The language of the submitted notebook (metadata.autograder.language): its feedback is rendered in it.
    language: str | None = None
    #: Seconds spent waiting for a worker to start before this submission could run (not in `seconds`).
    startup: float | None = None

    @property
    def total(self) -> float:
        """The student's total autograded score."""
        return sum(row.score for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        """The stored form: plain JSON, unstamped fields left out."""
        data: dict[str, Any] = {}
        for name in _RESULT_FIELDS:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL_RESULT_FIELDS:
                continue
            data[name] = value
        return {**data, "notes": list(self.notes), "output": dict(self.output),
                "rows": [row.to_json() for row in self.rows]}

    @staticmethod
    def from_json(raw: Any, what: str = "result") -> Result:
        """A Result from its stored or sent form; BadRecord naming the first problem."""
        required = frozenset(_RESULT_FIELDS[:10])
        data = _object(raw, what, required, frozenset(_OPTIONAL_RESULT_FIELDS))
        seed = None if data["seed"] is None else _integer(data["seed"], f"{what} seed")
        rows = data["rows"]
        if not isinstance(rows, list) or len(rows) > MAX_ITEMS:
            raise BadRecord(f"{what} rows is not a list")
        optional = {k: None if data.get(k) is None else _text(data[k], f"{what} {k}", 1000)
                    for k in ("worker", "key_id", "sandbox", "source")}
        return Result(
            _text(data["student_id"], f"{what} student_id", 200), _text(data["assignment"], f"{what} assignment", 200),
            _text(data["notebook"], f"{what} notebook", 200), _text(data["origin"], f"{what} origin", 4000),
            _flag(data["late"], f"{what} late"), seed, _texts(data["notes"], f"{what} notes", 4000),
            _text_map(data["output"], f"{what} output"), _number(data["seconds"], f"{what} seconds"),
            tuple(Row.from_json(r, f"{what} row {i}") for i, r in enumerate(rows)), **optional,
            submitted=None if data.get("submitted") is None else _flag(data["submitted"], f"{what} submitted"),
            language=_language(data.get("language"), what),
            startup=None if data.get("startup") is None else _number(data["startup"], f"{what} startup"))

    @staticmethod
    def loads(text: str | bytes, what: str = "result") -> Result:
        """from_json of JSON text; BadRecord if it is not JSON."""
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadRecord(f"{what} is not JSON: {exc}") from None
        return Result.from_json(raw, what)


# --- one batch -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunContext:
    """What one batch shares with every worker thread: the assignment, its source, the run's seed and sandbox."""

    assignment: Any  # autograder.checks.spec.Assignment (not imported: this module ships to the sandbox)
    source: Any  # the parsed source notebook (grading.notebook.Notebook)
    seed: int  # key.assignment_seed: every student's seed is derived from it (key.mix)
    key_id: str
    sandboxed: bool
    sandbox_name: str
    tmp: Path
    stop: Any  # threading.Event: set once the batch is stopping


@dataclass(frozen=True)
class RunSummary:
    """How a batch went, for the report and the summary line."""

    key_id: str
    sandbox_name: str
    graded: int = 0
    resumed: int = 0
    elapsed: float = 0.0
