"""The records every grading stage passes, as frozen dataclasses, and their JSON form: the grader's data flow.

    Submission (collect.py finds them: a student's notebook, or a `Locator` to read it from when graded)
      -> Plan (sanitize.py: the cells to run, as `RunCell`s, and the `Verdict`s decided before any code runs)
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
JSON types (and a notebook's bytes), never an object. The records that cross into the sandbox (Job, Reply,
RunCell, Limits) are in runner/wire.py; these stay on the trusted side.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from autograder.grading.runner import fields as read
from autograder.grading.runner.fields import BadRecord, safe_fields, safe_text
from autograder.grading.runner.limits import (
    LINE_CHARS,
    MESSAGE_CHARS,
    MISTAKES_PER_ROW,
    NAME_CHARS,
    ORIGIN_CHARS,
    RECORD_ITEMS,
    RECORD_NOTES,
    STATUS_CHARS,
    clip,
)
from autograder.message import BadMessage, Message, say

#: grades.csv's header, fixed by the course.
HEADER = ("student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status", "message")

#: The version of a stored result's form, and of the grading it records. 2: messages and notes are codes with
#: parameters (autograder/message.py) and rows name their mistakes by id (results without it were written with
#: English text). 3: each question graded where its test cell stands, and the cells' errors stored as codes
#: (`cell_errors`). A result of another schema is regraded, never read.
RESULT_SCHEMA = 3

#: Message codes of rows that say the grader or its sandbox failed (a worker that could not run the job, a grader
#: bug), not the notebook: a result with one is not the student's grade.
GRADER_FAILURES = frozenset({"run.infrastructure", "internal.error"})

#: A mistake's id (autograder/checks: Mistake.id), as rows store it.
MISTAKE_ID = re.compile(r"[a-z0-9_]{1,60}")

#: How a result names its sandbox (the report warns about any other).
SANDBOXED, UNSANDBOXED = "bubblewrap", "NONE (rlimits only)"

#: A row's status: short lowercase words ("passed", "timeout", "forbidden", ...).
STATUS = re.compile(rf"[a-z_]{{1,{STATUS_CHARS}}}")

class StaleRecord(BadRecord):
    """A stored result of an older form (RESULT_SCHEMA): it is regraded, never read as if it were current."""


#: The languages besides English that notebooks, check messages and feedback pages come in
#: (autograder.notebook_i18n keeps a catalog for each).
LANGUAGES = ("zh_CN",)


def _language(value: Any, what: str) -> str | None:
    """A stored language: None (English) or one the course knows."""
    if value is None or value in LANGUAGES:
        return value if isinstance(value, str) else None
    raise BadRecord(f"{what} language {str(value)[:30]!r} is not one of {LANGUAGES}")


def _message(value: Any, what: str) -> Message:
    """A Message from its plain form (autograder/message.py checks and caps every part)."""
    try:
        return Message.from_plain(value)
    except BadMessage as exc:
        raise BadRecord(f"{what}: {exc}") from None


def _mistakes(value: Any, what: str) -> tuple[str, ...]:
    """A short list of mistake ids."""
    if not isinstance(value, list | tuple) or len(value) > MISTAKES_PER_ROW:
        raise BadRecord(f"{what} is not a list of at most {MISTAKES_PER_ROW} mistake ids")
    for item in value:
        if not isinstance(item, str) or not MISTAKE_ID.fullmatch(item):
            raise BadRecord(f"{what} holds {str(item)[:40]!r}, which is not a mistake id")
    return tuple(value)


def safe_message(message: Message) -> Message:
    """`message` with every text parameter made safe (safe_text, on one line): it is shown in every output."""
    return message.map_text(lambda text: safe_text(text, lines=False))


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

    def __post_init__(self) -> None:
        """The origin capped where it is made, so that every reader of it accepts what was written."""
        object.__setattr__(self, "origin", clip(self.origin, ORIGIN_CHARS))

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
        data = read.record(raw, "submission", frozenset({"student_id", "origin", "data", "late", "problem", "status",
                                                     "name"}))
        if data["data"] is not None and not isinstance(data["data"], bytes):
            raise BadRecord("submission data is neither bytes nor null")
        return Submission(read.text(data["student_id"], "submission student_id", NAME_CHARS),
                          read.text(data["origin"], "submission origin", ORIGIN_CHARS), data["data"],
                          read.flag(data["late"], "submission late"),
                          read.text(data["problem"], "submission problem", LINE_CHARS),
                          status=read.text(data["status"], "submission status", STATUS_CHARS),
                          name=read.text(data["name"], "submission name", LINE_CHARS))


# --- verdicts ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What was decided about one question: status, the reason (a message), score, and the ids of the known
    mistakes it matched.

    Decided before any code runs (tampered, missing, forbidden, malformed: score 0), or by judging its outputs.
    """

    status: str
    message: Message
    score: float = 0.0
    mistakes: tuple[str, ...] = ()


def forbidden(functions: tuple[str, ...], used: list[str], *, called: bool) -> Verdict:
    """The one wording of a forbidden-shortcut verdict: found in the source (`called`=False) or tripped at run time."""
    names, shortcuts = ", ".join(functions), ", ".join(used)
    return Verdict("forbidden", say("forbidden.called" if called else "forbidden.uses", functions=names,
                                    shortcuts=shortcuts))


# --- grades --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One line of grades.csv: one student's result on one graded cell; `message` is rendered to text only where
    it is shown (autograder/checks/messages.py), `mistakes` are the ids of the known mistakes it matched."""

    student_id: str
    assignment: str
    notebook: str
    grade_id: str
    score: float
    max_score: float
    status: str
    message: Message
    mistakes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Every text field made safe (safe_text): a row can never hold text an output cannot."""
        safe_fields(self, ("student_id", "assignment", "notebook", "grade_id", "status"))
        object.__setattr__(self, "message", safe_message(self.message))
        object.__setattr__(self, "mistakes", tuple(safe_text(m, lines=False) for m in self.mistakes))

    def to_json(self) -> dict[str, Any]:
        """The row as stored in a result file."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "message": self.message.to_plain(),
                "mistakes": list(self.mistakes)}

    @staticmethod
    def from_json(raw: Any, what: str = "row") -> Row:
        """A Row from its stored form: every field typed, the score within [0, max_score], a plain status."""
        data = read.record(raw, what, frozenset(f.name for f in fields(Row)))
        texts = {k: read.text(data[k], f"{what} {k}", MESSAGE_CHARS)
                 for k in ("student_id", "assignment", "notebook", "grade_id", "status")}
        score, top = read.number(data["score"], f"{what} score"), read.number(data["max_score"], f"{what} max_score")
        if not 0.0 <= score <= top or not STATUS.fullmatch(texts["status"]):
            raise BadRecord(f"{what} has score {score} or status {texts['status'][:30]!r} out of range")
        return Row(**texts, score=score, max_score=top, message=_message(data["message"], f"{what} message"),
                   mistakes=_mistakes(data["mistakes"], f"{what} mistakes"))


#: Fields of a stored result, in the order they are written (after "schema": RESULT_SCHEMA).
_RESULT_FIELDS = ("student_id", "assignment", "notebook", "origin", "late", "seed", "notes", "output", "seconds",
                  "rows", "worker", "key_id", "sandbox", "submitted", "source", "language", "startup", "cell_errors")
#: Result fields left out of the stored form while unset (None, or no cell errors).
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
    notes: tuple[Message, ...]
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
        safe_fields(self, ("student_id", "assignment", "notebook", "origin", "worker", "key_id", "sandbox",
                            "source"))
        object.__setattr__(self, "notes", tuple(safe_message(note) for note in self.notes))
        object.__setattr__(self, "cell_errors", tuple(safe_message(error) for error in self.cell_errors))
        object.__setattr__(self, "output", {safe_text(k, lines=False): safe_text(v) for k, v in self.output.items()})
    #: The language of the submitted notebook (metadata.autograder.language): its feedback is rendered in it.
    language: str | None = None
    #: Seconds spent waiting for a worker to start before this submission could run (not in `seconds`).
    startup: float | None = None
    #: What the notebook's cells raised when they ran, as messages (worded in the reader's language on the page).
    cell_errors: tuple[Message, ...] = ()

    @property
    def grader_failed(self) -> bool:
        """True when a row records a failure of the grader or its sandbox, not of the notebook: such a result is
        never kept as the student's grade (--resume and --student grade the student again)."""
        return any(row.message.code in GRADER_FAILURES for row in self.rows)

    @property
    def total(self) -> float:
        """The student's total autograded score."""
        return sum(row.score for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        """The stored form: plain JSON, unstamped fields left out."""
        data: dict[str, Any] = {"schema": RESULT_SCHEMA}
        for name in _RESULT_FIELDS:
            value = getattr(self, name)
            if value in (None, ()) and name in _OPTIONAL_RESULT_FIELDS:
                continue
            data[name] = value
        if self.cell_errors:
            data["cell_errors"] = [error.to_plain() for error in self.cell_errors]
        return {**data, "notes": [note.to_plain() for note in self.notes], "output": dict(self.output),
                "rows": [row.to_json() for row in self.rows]}

    @staticmethod
    def from_json(raw: Any, what: str = "result") -> Result:
        """A Result from its stored or sent form; StaleRecord for an older form, BadRecord naming the first problem."""
        if isinstance(raw, dict) and raw.get("schema") != RESULT_SCHEMA:
            schema = raw.get("schema", 1)
            raise StaleRecord(f"{what} was written by another version of the grader (result schema "
                              f"{str(schema)[:10]}, this one reads {RESULT_SCHEMA}): it is regraded")
        required = frozenset(("schema", *_RESULT_FIELDS[:10]))
        data = read.record(raw, what, required, frozenset(_OPTIONAL_RESULT_FIELDS))
        seed = None if data["seed"] is None else read.integer(data["seed"], f"{what} seed")
        rows = data["rows"]
        if not isinstance(rows, list) or len(rows) > RECORD_ITEMS:
            raise BadRecord(f"{what} rows is not a list")
        optional = {k: None if data.get(k) is None else read.text(data[k], f"{what} {k}", NAME_CHARS)
                    for k in ("worker", "key_id", "sandbox", "source")}
        return Result(
            read.text(data["student_id"], f"{what} student_id", NAME_CHARS),
            read.text(data["assignment"], f"{what} assignment", NAME_CHARS),
            read.text(data["notebook"], f"{what} notebook", NAME_CHARS),
            read.text(data["origin"], f"{what} origin", ORIGIN_CHARS),
            read.flag(data["late"], f"{what} late"), seed, _notes(data["notes"], f"{what} notes"),
            read.text_map(data["output"], f"{what} output"), read.number(data["seconds"], f"{what} seconds"),
            tuple(Row.from_json(r, f"{what} row {i}") for i, r in enumerate(rows)), **optional,
            submitted=None if data.get("submitted") is None else read.flag(data["submitted"], f"{what} submitted"),
            language=_language(data.get("language"), what),
            startup=None if data.get("startup") is None else read.number(data["startup"], f"{what} startup"),
            cell_errors=_notes(data.get("cell_errors", []), f"{what} cell_errors"))

    @staticmethod
    def loads(text: str | bytes, what: str = "result") -> Result:
        """from_json of JSON text; BadRecord if it is not JSON."""
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadRecord(f"{what} is not JSON: {exc}") from None
        return Result.from_json(raw, what)


def _notes(value: Any, what: str) -> tuple[Message, ...]:
    """A result's notes: at most RECORD_NOTES messages (what is stored is capped further: bounds.bounded_notes)."""
    if not isinstance(value, list | tuple) or len(value) > RECORD_NOTES:
        raise BadRecord(f"{what} is not a list of at most {RECORD_NOTES} messages")
    return tuple(_message(note, f"{what}[{i}]") for i, note in enumerate(value))


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
    #: A roster named the students (grade --roster; the service's tokens): the report can say everyone submitted.
    roster: bool = False
