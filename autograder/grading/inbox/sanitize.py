"""Rebuild what runs from the trusted source notebook: nbgrader's OverwriteCells idea, matched by grade_id.

What runs, in the SOURCE notebook's order: every locked (read-only) code cell with the source's
text, and every autograded answer cell with the student's text. Code cells without nbgrader metadata
(the student's own helper or exploration cells) run too, right after the graded cell they follow in
the student's notebook, as `nbgrader autograde` would run them: a helper defined in a cell of its own
must not cost marks. Test cells never run in the sandbox (their checks run in the trusted grader), but where
each stands is kept (`Plan.positions`): nbgrader grades a question with the notebook's state at its test cell,
so the sandbox runs only the cells before it first.
Tampering with a test cell (deleted, duplicated, turned into markdown, moved) costs that question
only; edits to locked cells are simply undone, and noted.
"""

from __future__ import annotations

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
    #: grade_id of a test cell -> how many of `cells` come before it (the source's order; a test cell the source
    #: lacks is not here: its question runs after every cell).
    positions: dict[str, int] = field(default_factory=dict)

    def position(self, grade_id: str) -> int:
        """How many of `cells` run before question `grade_id` is graded."""
        return self.positions.get(grade_id, len(self.cells))

    def answers_before(self, count: int) -> tuple[str, ...]:
        """The student's texts among the first `count` cells (what the forbidden-shortcut scan reads for a
        question graded there)."""
        return tuple(cell.source for cell in self.cells[:count] if cell.answer)


def _moved(student_order: list[str], source_order: list[str]) -> set[str]:
    """grade_ids outside a longest common subsequence of the two orders, i.e. the ones that moved."""
    n, m = len(student_order), len(source_order)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = (table[i + 1][j + 1] + 1 if student_order[i] == source_order[j]
                           else max(table[i + 1][j], table[i][j + 1]))
    kept, i, j = set(), 0, 0
    while i < n and j < m:
        if student_order[i] == source_order[j]:
            kept.add(student_order[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return set(student_order) - kept


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


def _by_id(cells: tuple[Cell, ...]) -> dict[str, list[Cell]]:
    """grade_id -> the cells carrying it, in notebook order."""
    found: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.grade_id:
            found.setdefault(cell.grade_id, []).append(cell)
    return found


def _test_verdicts(student: dict[str, list[Cell]], source: Notebook, student_nb: Notebook,
                   assignment: Assignment) -> dict[str, Verdict]:
    """tampered verdicts for graded test cells that were deleted, duplicated, retyped or moved."""
    verdicts: dict[str, Verdict] = {}
    locked = [c.grade_id for c in source.cells if c.grade_id and c.role in ("setup", "test")]
    once = {g for g in locked if len(student.get(g, [])) == 1}
    order = [c.grade_id for c in student_nb.cells if c.grade_id in once]
    moved = _moved(order, [g for g in locked if g in once])
    for question in assignment.questions:
        gid, found = question.grade_id, student.get(question.grade_id, [])
        if not found:
            verdicts[gid] = Verdict("tampered", say("tampered.deleted", cell=gid))
        elif len(found) > 1:
            verdicts[gid] = Verdict("tampered", say("tampered.duplicated", cell=gid, count=len(found)))
        elif found[0].cell_type != "code":
            verdicts[gid] = Verdict("tampered", say("tampered.retyped", cell=gid, cell_type=found[0].cell_type))
        elif gid in moved:
            verdicts[gid] = Verdict("tampered", say("tampered.moved", cell=gid))
    return verdicts


def _unmarked_after(student_nb: Notebook, known: set[str]) -> dict[str, list[tuple[str, str]]]:
    """Student code cells without a known grade_id, keyed by the graded cell they follow ('' = before all)."""
    after: dict[str, list[tuple[str, str]]] = {}
    anchor = ""
    for index, cell in enumerate(student_nb.cells):
        if cell.grade_id in known:
            anchor = cell.grade_id
        elif cell.cell_type == "code" and cell.source.strip():
            after.setdefault(anchor, []).append((f"#{index + 1}", cell.source))
    return after


def plan(student_nb: Notebook, source: Notebook, assignment: Assignment) -> Plan:
    """The cells to run and the verdicts decided up front; Malformed if no cell of this assignment is found."""
    student = _by_id(student_nb.cells)
    known = {c.grade_id for c in source.cells if c.grade_id}
    if not known & set(student):
        raise Malformed(say("malformed.foreign", assignment=assignment.id))
    notes = list(student_nb.notes)
    unmarked = _unmarked_after(student_nb, known)
    cells = [wire.RunCell(label, text, True) for label, text in unmarked.pop("", [])]
    answers: list[str] = [cell.source for cell in cells]
    positions: dict[str, int] = {}
    for cell in source.cells:
        if not cell.grade_id:
            continue
        if cell.role == "test":
            positions.setdefault(cell.grade_id, len(cells))
        mine = student.get(cell.grade_id, []) if cell.cell_type == "code" else []
        if cell.cell_type != "code":
            pass  # a graded markdown answer: nothing to run, but student cells may follow it
        elif cell.role == "setup":
            cells.append(wire.RunCell(cell.grade_id, cell.source, False))
            if not mine:
                notes.append(say("note.restored_missing", cell=cell.grade_id))
            elif any(m.source != cell.source for m in mine):
                notes.append(say("note.restored_edited", cell=cell.grade_id))
        elif cell.role == "answer":
            code = [m for m in mine if m.cell_type == "code"]
            if not code:
                notes.append(say("note.answer_missing", cell=cell.grade_id))
            cells.extend(wire.RunCell(cell.grade_id, m.source, True) for m in code)
            answers.extend(m.source for m in code)
        elif cell.role == "test" and any(m.source.strip() != _visible(cell.source) for m in mine):
            notes.append(say("note.test_edited", cell=cell.grade_id))
        extra = unmarked.pop(cell.grade_id, [])
        cells.extend(wire.RunCell(label, text, True) for label, text in extra)
        answers.extend(text for _, text in extra)
    decided = _test_verdicts(student, source, student_nb, assignment)
    return Plan(cells=tuple(cells), answers=tuple(answers), decided=decided, notes=tuple(notes), positions=positions)
