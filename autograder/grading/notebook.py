"""Read an untrusted notebook file into cells, or say in one line why it cannot be graded.

Decisions (documented for instructors): nbformat 4 is read leniently as JSON; nbformat 3 is
upgraded with nbformat's own converter and then graded like any other; anything else (empty,
truncated JSON, not UTF-8, not a notebook, nbformat < 3, larger than MAX_BYTES) is `malformed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Notebooks larger than this are refused unread (a honest exercise notebook is well under 1 MB).
MAX_BYTES = 32 << 20


class Malformed(ValueError):
    """The file cannot be read as a notebook; the message is the reason shown to the student."""


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
    notes: tuple[str, ...] = field(default_factory=tuple)


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
        raise Malformed(f"nbformat 3 notebook could not be upgraded to nbformat 4: {exc}"[:300]) from None


def parse(raw: bytes) -> Notebook:
    """Cells of a notebook file's bytes; Malformed with the reason when it is not a readable notebook."""
    if not raw.strip():
        raise Malformed("the file is empty")
    if len(raw) > MAX_BYTES:
        raise Malformed(f"the file is {len(raw)} bytes, more than the {MAX_BYTES} a notebook may have")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Malformed(f"the file is not UTF-8 text (byte {exc.start}); save it from Jupyter again") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise Malformed("the file is nested too deeply to be a notebook") from None
    except ValueError as exc:
        raise Malformed(f"the file is not valid notebook JSON (truncated or edited by hand?): {exc}") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise Malformed("the file is JSON but not a Jupyter notebook (no 'nbformat' field)")
    notes: list[str] = []
    major = data.get("nbformat")
    if major == 3:
        data = _upgrade_v3(data)
        notes.append("the notebook was in the old nbformat 3 and was upgraded to nbformat 4 for grading")
    elif major != 4:
        raise Malformed(f"nbformat {major!r} is not supported (expected 4, or 3 which is upgraded)")
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise Malformed("the notebook has no list of cells")
    cells: list[Cell] = []
    for index, raw_cell in enumerate(raw_cells):
        if not isinstance(raw_cell, dict):
            notes.append(f"cell {index} is not a cell object and was ignored")
            continue
        source = _text(raw_cell.get("source", ""))
        meta = raw_cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        if source is None:
            notes.append(f"cell {index} has an unreadable source and was ignored")
            continue
        grade_id = nbg.get("grade_id") if isinstance(nbg, dict) else None
        role = _role(nbg) if isinstance(nbg, dict) else "other"
        points = nbg.get("points", 0) if isinstance(nbg, dict) else 0
        cells.append(Cell(index=index, cell_type=str(raw_cell.get("cell_type", "")), source=source,
                          grade_id=grade_id if isinstance(grade_id, str) else None, role=role,
                          points=float(points) if isinstance(points, (int, float)) else 0.0))
    return Notebook(cells=tuple(cells), notes=tuple(notes))
