"""Rebuild what runs from the trusted source notebook: nbgrader's OverwriteCells idea, matched by grade_id.

What runs, in the STUDENT's notebook order, as `nbgrader autograde` runs it: every locked (read-only)
code cell with the source's text (a deleted one does not run, as under nbgrader: noted), every autograded
answer cell with the student's text, each test cell's visible `check(...)` call, and the student's own
cells (helpers, exploration) where they stand: a helper defined in a cell of its own must not cost
marks, and an answer moved below its own test cell is not there when that question is graded. A locked
cell runs once, at its first copy (its text is the source's: copies of it would only repeat it). Test
cells' hidden tests never run in the sandbox (the trusted grader judges), but where each stands is kept
(`Plan.positions`): nbgrader grades a question with the notebook's state at its test cell, so the
sandbox runs only the cells before it first.
Tampering with a test cell (deleted, duplicated) costs that question only; a moved one is graded where
it stands, as nbgrader grades it; edits to locked cells are simply undone, and noted. A graded cell whose type the
student changed (an answer or a test cell turned into markdown or raw, one keystroke in Jupyter) runs as the code
cell it is, as nbgrader's OverwriteCells restores its type: noted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autograder.checks.spec import Assignment
from autograder.grading.core.model import Verdict
from autograder.grading.inbox.notebook import Cell, Malformed, Notebook
from autograder.grading.runner import wire
from autograder.message import Message, say


@dataclass(frozen=True)
class Plan:
    """What to run for one submission and what is already decided."""

    cells: tuple[wire.RunCell, ...]
    answers: tuple[str, ...]  # the student's answer cells, for the forbidden-shortcut scan
    decided: dict[str, Verdict] = field(default_factory=dict)
    notes: tuple[Message, ...] = field(default_factory=tuple)
    #: grade_id of a test cell -> how many of `cells` come before it in the student's notebook (a test cell the
    #: student lacks is not here: its question runs after every cell).
    positions: dict[str, int] = field(default_factory=dict)

    def position(self, grade_id: str) -> int:
        """How many of `cells` run before question `grade_id` is graded."""
        return self.positions.get(grade_id, len(self.cells))

    def answers_before(self, count: int) -> tuple[str, ...]:
        """The student's texts among the first `count` cells (what the forbidden-shortcut scan reads for a
        question graded there)."""
        return tuple(cell.source for cell in self.cells[:count] if cell.answer)


def _visible(test_source: str) -> str:
    """A source test cell as released: nbgrader drops the ### BEGIN/END HIDDEN TESTS region."""
    kept, hidden = [], False
    for line in test_source.splitlines():
        marker = line.strip()
        if marker == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif marker == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept).strip()


#: A test cell's visible part as the course releases it: one call of the notebook's `check`. It runs in the sandbox
#: where the test cell stands (there `check` does nothing, as under `nbgrader autograde`), so a notebook in which
#: that call fails (its setup cell deleted, `check` deleted or redefined) loses the question, as under nbgrader.
_CHECK_CALL = re.compile(r"check\([^\n]*\)")


def _by_id(cells: tuple[Cell, ...]) -> dict[str, list[Cell]]:
    """grade_id -> the cells carrying it, in notebook order."""
    found: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.grade_id:
            found.setdefault(cell.grade_id, []).append(cell)
    return found


def _test_verdicts(student: dict[str, list[Cell]], assignment: Assignment) -> dict[str, Verdict]:
    """tampered verdicts for graded test cells that were deleted or duplicated (one moved is graded where it stands,
    and one retyped as a code cell there, as nbgrader grades them)."""
    verdicts: dict[str, Verdict] = {}
    for question in assignment.questions:
        gid, found = question.grade_id, student.get(question.grade_id, [])
        if not found:
            verdicts[gid] = Verdict("tampered", say("tampered.deleted", cell=gid))
        elif len(found) > 1:
            verdicts[gid] = Verdict("tampered", say("tampered.duplicated", cell=gid, count=len(found)))
    return verdicts


def _notes(student: dict[str, list[Cell]], source: Notebook) -> list[Message]:
    """What the plan restored or found missing, in the source's order."""
    notes: list[Message] = []
    for cell in source.cells:
        if not cell.grade_id or cell.cell_type != "code":
            continue
        mine = student.get(cell.grade_id, [])
        if cell.role == "setup" and not mine:
            notes.append(say("note.locked_missing", cell=cell.grade_id))
        elif cell.role == "setup" and any(m.source != cell.source for m in mine):
            notes.append(say("note.restored_edited", cell=cell.grade_id))
        elif cell.role == "answer" and not mine:
            notes.append(say("note.answer_missing", cell=cell.grade_id))
        elif cell.role == "test" and any(m.source.strip() != _visible(cell.source) for m in mine):
            notes.append(say("note.test_edited", cell=cell.grade_id))
        if cell.role in ("answer", "test") and mine and mine[0].cell_type != "code":
            notes.append(say("note.retyped", cell=cell.grade_id, cell_type=mine[0].cell_type))
    return notes


def plan(student_nb: Notebook, source: Notebook, assignment: Assignment) -> Plan:
    """The cells to run and the verdicts decided up front; Malformed if no cell of this assignment is found.

    The cells run in the student's order, as `nbgrader autograde` runs the notebook: an answer cell the student
    moved below its own test cell is not defined when that question is graded."""
    student = _by_id(student_nb.cells)
    by_id = {c.grade_id: c for c in source.cells if c.grade_id}
    # only the cells a student works in say whose notebook it is: the course's notebooks share their locked
    # cells' ids (setup, intro, book-links), so another assignment's notebook holds some of those
    if not {gid for gid, c in by_id.items() if c.role not in ("setup", "other")} & set(student):
        raise Malformed(say("malformed.foreign", assignment=assignment.id))
    cells: list[wire.RunCell] = []
    answers: list[str] = []
    positions: dict[str, int] = {}
    ran: set[str] = set()
    for index, mine in enumerate(student_nb.cells):
        gid = mine.grade_id
        theirs = by_id.get(gid) if gid else None
        if gid is None or theirs is None:  # the student's own cell (or an unknown id): runs where it stands
            if mine.cell_type == "code" and mine.source.strip():
                cells.append(wire.RunCell(f"#{index + 1}", mine.source, True))
                answers.append(mine.source)
            continue
        if theirs.role == "test" and gid not in positions:
            visible = _visible(theirs.source)
            if _CHECK_CALL.fullmatch(visible):  # runs first, as nbgrader runs it (a retyped one restored to code)
                cells.append(wire.RunCell(gid, visible, False))
            positions[gid] = len(cells)
        elif theirs.cell_type != "code":
            pass  # a graded markdown answer: nothing to run
        elif theirs.role == "setup" and gid not in ran:
            ran.add(gid)
            cells.append(wire.RunCell(gid, theirs.source, False))  # the source's text, not the student's
        elif theirs.role == "answer":  # a retyped one runs as code: nbgrader restores the source's cell type
            cells.append(wire.RunCell(gid, mine.source, True))
            answers.append(mine.source)
    decided = _test_verdicts(student, assignment)
    return Plan(cells=tuple(cells), answers=tuple(answers), decided=decided,
                notes=(*student_nb.notes, *_notes(student, source)), positions=positions)
