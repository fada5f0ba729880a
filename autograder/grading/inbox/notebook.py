"""Read an untrusted notebook file into cells, or say in one line why it cannot be graded.

Decisions (documented for instructors): nbformat 4 is read leniently as JSON; nbformat 3 is
upgraded with nbformat's own converter and then graded like any other; anything else (empty,
truncated JSON, not UTF-8, not a notebook, nbformat < 3, larger than MAX_BYTES) is `malformed`.
So is a notebook that would amplify: more JSON values than limits.JSON_VALUES (counted by a cheap
scan before json.loads builds anything) or more cells than limits.CELLS. Whatever is kept from the
file (types, ids, notes) is capped, so nothing derived from it grows with junk.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from autograder.grading.runner import limits
from autograder.message import Message, say
from autograder.notebook_i18n import known, notebook_language

#: Notebooks larger than this are refused unread (a honest exercise notebook is well under 1 MB).
MAX_BYTES = limits.NOTEBOOK_BYTES
#: A JSON string (escapes included; written so that long strings match without backtracking), or a
#: character that starts or separates values outside strings.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{,]', re.S)


class Malformed(ValueError):
    """The file cannot be read as a notebook; `message` is the reason shown to the student (a message, or the
    text of a reason given before the notebook's language is known, see reading.py and collect.py)."""

    def __init__(self, message: Message | str) -> None:
        super().__init__(message if isinstance(message, str) else message.code)
        self.message = message if isinstance(message, Message) else say("upload.problem", reason=message)
        #: The language the unreadable file still shows it asks for (`sniff_language`), None: English.
        self.language: str | None = None

    def __str__(self) -> str:
        """The reason in English, for logs and the instructor (the student's row renders `message` itself)."""
        from autograder.checks.messages import text  # late: the catalog imports the checks

        return text(self.message)


@dataclass(frozen=True)
class Cell:
    """One cell as the grader needs it: nbgrader role, grade_id, type and source text."""

    index: int
    cell_type: str
    source: str
    grade_id: str | None = None
    role: str = "other"  # setup | answer | test | manual | task | other
    points: float = 0.0


@dataclass(frozen=True)
class Notebook:
    """The cells of a notebook, plus notes about what had to be repaired to read it."""

    cells: tuple[Cell, ...]
    notes: tuple[Message, ...] = field(default_factory=tuple)
    #: The language the notebook asks for (metadata.autograder.language, a known one only), None: English.
    language: str | None = None


def _role(meta: dict[str, Any]) -> str:
    """nbgrader's cell kind from its metadata flags."""
    if meta.get("task"):
        return "task"
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    if solution and grade:
        return "manual"
    if solution:
        return "answer"
    if grade:
        return "test"
    return "setup" if meta.get("locked") else "other"


def _text(source: Any) -> str | None:
    """A cell source as one string (nbformat allows a list of lines), None when it is neither."""
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _upgrade_v3(data: dict[str, Any]) -> dict[str, Any]:
    """nbformat 3 -> 4 with nbformat's converter (cell metadata, hence nbgrader's, is kept)."""
    import warnings

    import nbformat

    try:
        with warnings.catch_warnings():  # cells of an upgraded v3 notebook have no ids; grading never needs them
            warnings.filterwarnings("ignore", message="Cell is missing an id field")
            return dict(nbformat.v4.upgrade(nbformat.from_dict(data)))
    except Exception as exc:  # noqa: BLE001 - the converter raises many types on odd input
        raise Malformed(say("malformed.upgrade", error=str(exc)[:240])) from None


def json_values(raw: bytes, stop: int) -> int:
    """About how many JSON values `raw` holds (strings, and '[' '{' ',' outside them), counting up to stop + 1.

    Nothing is built and the scan ends at the cap, so junk costs neither memory nor time.
    """
    count = 0
    for count, _ in enumerate(_TOKEN.finditer(raw), 1):
        if count > stop:
            break
    return count


def _short(value: Any) -> str:
    """A value from the file, for a message (it may be a megabyte-long string or a huge list)."""
    return limits.clip(repr(value) if not isinstance(value, (list, dict)) else type(value).__name__, 40)


#: The course's metadata as the release writes it, found in bytes that are no longer a readable notebook.
_LANGUAGE_FIELD = re.compile(rb'"autograder"\s*:\s*\{\s*"language"\s*:\s*"([A-Za-z_-]{1,35})"')


def sniff_language(raw: bytes) -> str | None:
    """The language an unreadable notebook's bytes still name (truncated, not UTF-8, too large ...): its reason is
    worded in the language the student works in."""
    found = _LANGUAGE_FIELD.search(raw[-65_536:]) or _LANGUAGE_FIELD.search(raw[:65_536])
    return known(found.group(1).decode("ascii")) if found else None


def parse(raw: bytes) -> Notebook:
    """Cells of a notebook file's bytes; Malformed with the reason (and the language the bytes name) when it is not
    a readable notebook."""
    try:
        return _parse(raw)
    except Malformed as exc:
        exc.language = sniff_language(raw)
        raise


def _parse(raw: bytes) -> Notebook:
    """parse, before the language of a refusal is known."""
    if not raw.strip():
        raise Malformed(say("malformed.empty"))
    if len(raw) > MAX_BYTES:
        raise Malformed(say("malformed.too_large", size=len(raw), limit=MAX_BYTES))
    if json_values(raw, limits.JSON_VALUES) > limits.JSON_VALUES:
        raise Malformed(say("malformed.json_values", limit=limits.JSON_VALUES))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Malformed(say("malformed.not_utf8", byte=exc.start)) from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise Malformed(say("malformed.too_deep")) from None
    except ValueError as exc:
        raise Malformed(say("malformed.not_json", error=limits.clip(str(exc), 200))) from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise Malformed(say("malformed.not_notebook"))
    notes: list[Message] = []
    major = data.get("nbformat")
    if major == 3:
        data = _upgrade_v3(data)
        notes.append(say("note.nbformat3"))
    elif major != 4:
        raise Malformed(say("malformed.nbformat", version=_short(major)))
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise Malformed(say("malformed.no_cells"))
    if len(raw_cells) > limits.CELLS:
        raise Malformed(say("malformed.too_many_cells", count=len(raw_cells), limit=limits.CELLS))
    cells: list[Cell] = []
    skipped: dict[str, list[int]] = {}
    for index, raw_cell in enumerate(raw_cells):
        cell = _cell(index, raw_cell)
        if isinstance(cell, str):
            skipped.setdefault(cell, []).append(index)
        else:
            cells.append(cell)
    for why, where in skipped.items():  # one note per kind of problem, however many cells have it
        shown = ", ".join(map(str, where[:5]))
        which: Message | str = say("note.cells_more", cells=shown, more=len(where) - 5) if len(where) > 5 else shown
        notes.append(say("note.cells_ignored", cells=which, why=say(f"note.why.{why}")))
    return Notebook(cells=tuple(cells), notes=tuple(notes), language=notebook_language(data))


def _cell(index: int, raw_cell: Any) -> Cell | str:
    """One cell as the grader needs it, or why it was ignored (a key of the note.why.* messages); every kept value
    is type-checked and capped."""
    if not isinstance(raw_cell, dict):
        return "not_objects"
    source = _text(raw_cell.get("source", ""))
    if source is None:
        return "unreadable_source"
    meta = raw_cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    nbg = nbg if isinstance(nbg, dict) else None
    grade_id = nbg.get("grade_id") if nbg else None
    points = nbg.get("points", 0) if nbg else 0
    cell_type = raw_cell.get("cell_type", "")
    return Cell(index=index, cell_type=limits.clip(cell_type, 20) if isinstance(cell_type, str) else "",
                source=source, grade_id=grade_id if isinstance(grade_id, str) and len(grade_id) <= 200 else None,
                role=_role(nbg) if nbg else "other",
                points=_points(points))


def _points(value: Any) -> float:
    """A cell's nbgrader points as a finite float, 0.0 when they are not a number: an integer too large for a float
    (`1e400` written out) or `NaN`/`Infinity` (which Python's JSON reader accepts) must not stop the reading."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        number = float(value)
    except OverflowError:
        return 0.0
    return number if math.isfinite(number) else 0.0
