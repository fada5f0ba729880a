"""autograder.grading.inbox.notebook + sanitize: what runs is rebuilt from the source; tampering costs one question."""

from __future__ import annotations

import copy
import json
import sys

import pytest

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

from autograder.checks.messages import text
from autograder.grading.inbox.notebook import Malformed, parse
from autograder.grading.inbox.sanitize import plan
from autograder.grading.runner.wire import RunCell

SOURCE = parse(json.dumps(notebooks.source_notebook()).encode())


def _plan(nb: dict):
    """Plan a submission dict against the fake source."""
    return plan(parse(json.dumps(nb).encode()), SOURCE, checks.ASSIGNMENT)


def test_honest_submission_runs_setup_from_source_and_answers_from_student() -> None:
    """Cells in source order: setup text from the source, answers from the student, never test cells."""
    nb = notebooks.submission({"ans_scale": "def scale(x, a):\n    return 2 * a * x\n"})
    nb["cells"][1]["source"] = "import os\nos.system('evil')\n"  # student edits the locked setup cell
    built = _plan(nb)
    assert [cell.label for cell in built.cells] == ["setup", "ans_scale", "ans_norm2", "ans_square_grad"]
    assert built.cells[0].source == notebooks.SETUP and "2 * a * x" in built.cells[1].source
    assert not built.decided and any("was edited" in text(n) for n in built.notes)
    assert "assert" not in "".join(cell.source for cell in built.cells)


def test_added_cells_run_after_the_cell_they_follow() -> None:
    """A student's own helper cell (no nbgrader metadata) runs, in place, and counts as student code."""
    helper = {"cell_type": "code", "metadata": {}, "source": "def _twice(v):\n    return 2 * v\n", "outputs": []}
    nb = notebooks.submission({"ans_scale": "def scale(x, a):\n    return _twice(a * x)\n"})
    nb["cells"].insert(2, helper)  # right after the locked setup cell, before the first answer
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": "print('done')", "outputs": []})
    built = _plan(nb)
    labels = [cell.label for cell in built.cells]
    assert labels == ["setup", "#3", "ans_scale", "ans_norm2", "ans_square_grad", f"#{len(nb['cells'])}"]
    assert built.cells[1] == RunCell("#3", str(helper["source"]), True)
    assert any("_twice" in cell for cell in built.answers)  # the forbidden-shortcut scan sees helpers too


@pytest.mark.parametrize("change,grade_id,word", [
    (lambda cells: cells.pop(3), "test_scale", "deleted"),
    (lambda cells: cells.append(copy.deepcopy(cells[5])), "test_norm2", "2 times"),
])
def test_tampered_test_cells_cost_only_their_question(change, grade_id: str, word: str) -> None:
    """Deleted or duplicated test cells: that question is tampered, the others are not."""
    nb = notebooks.submission()
    change(nb["cells"])
    built = _plan(nb)
    assert set(built.decided) == {grade_id}
    assert built.decided[grade_id].status == "tampered" and word in text(built.decided[grade_id].message)



@pytest.mark.parametrize("cell_type", ["markdown", "raw"])
def test_retyped_answer_and_test_cells_run_as_code_as_under_nbgrader(cell_type: str) -> None:
    """One keystroke in Jupyter (M, R) retypes a cell: nbgrader's OverwriteCells restores a graded cell's type, so the
    answer still runs and the test cell is graded where it stands (verified with nbgrader 0.9: full marks); noted."""
    nb = notebooks.submission()  # markdown, setup, ans_scale, test_scale, ans_norm2, test_norm2, ans_square_grad, ...
    nb["cells"][2]["cell_type"] = nb["cells"][5]["cell_type"] = cell_type
    built = _plan(nb)
    assert not built.decided
    assert [c.label for c in built.cells] == ["setup", "ans_scale", "ans_norm2", "ans_square_grad"]
    assert built.cells[1].source == notebooks.SOLUTIONS["ans_scale"] and built.positions["test_norm2"] == 3
    assert [text(n) for n in built.notes] == [
        f"cell '{gid}' was changed into a {cell_type} cell; it ran as the code cell it is, as under nbgrader"
        for gid in ("ans_scale", "test_norm2")]

def test_hidden_tests_are_not_an_edit() -> None:
    """The released test cell lacks the hidden region; that alone is not reported as an edit."""
    assert not any("edited" in text(n) for n in _plan(notebooks.submission()).notes)


@pytest.mark.parametrize("raw,reason", [
    (b"", "empty"), (b"\xff\xfe{", "not UTF-8"), (b'{"cells": [', "not valid notebook JSON"),
    (b"[1, 2]", "not a Jupyter notebook"), (b'{"nbformat": 2, "cells": []}', "nbformat 2"),
    (b'{"nbformat": 4, "cells": 5}', "no list of cells"), (b"[" * 50000, "nested too deeply"),
])
def test_unreadable_files_are_malformed_with_a_reason(raw: bytes, reason: str) -> None:
    """Each kind of broken file raises Malformed with a message a student can act on."""
    with pytest.raises(Malformed, match=reason):
        parse(raw)


def test_another_assignments_notebook_is_malformed() -> None:
    """A notebook without any cell of this assignment is refused as a whole."""
    nb = notebooks.submission()
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    with pytest.raises(Malformed, match="another assignment"):
        _plan(nb)


COURSE = ("backprop", "clipping", "exploding", "optimizers")


@pytest.mark.parametrize("edition", ["", "zh_CN/"])
def test_the_course_notebooks_are_refused_under_each_others_names(edition: str) -> None:
    """The course's notebooks share their locked cells' ids (setup, intro, book-links): each released notebook, in
    either language, handed in for another assignment is refused as another assignment's, not graded as one
    whose test cells were all deleted; under its own name it is planned."""
    from autograder.checks import get_assignment
    from tests.paths import REPO

    def notebook(folder: str, name: str) -> bytes:
        return (REPO / folder / edition / name / f"{name}.ipynb").read_bytes()
    for graded in COURSE:
        source = parse((REPO / "solutions" / graded / f"{graded}.ipynb").read_bytes())
        assert plan(parse(notebook("exercises", graded)), source, get_assignment(graded)).cells
        for other in set(COURSE) - {graded}:
            with pytest.raises(Malformed, match=f"answer or test cells of assignment '{graded}'"):
                plan(parse(notebook("exercises", other)), source, get_assignment(graded))


def test_thousands_of_copied_cells_cost_one_verdict_and_few_notes() -> None:
    """2000 copies of a test cell and 1000 edited copies of the setup cell: one verdict, one note each."""
    nb = notebooks.submission()
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
    edited_setup = {**copy.deepcopy(by_id["setup"]), "source": "import os\n"}
    nb["cells"] += [copy.deepcopy(by_id["test_norm2"]) for _ in range(2000)] + [edited_setup] * 1000
    built = _plan(nb)
    assert set(built.decided) == {"test_norm2"}
    assert text(built.decided["test_norm2"].message) == "test cell 'test_norm2' appears 2001 times (duplicated)"
    assert len(built.notes) <= 2 and sum(cell.label == "setup" for cell in built.cells) == 1


def test_each_question_is_placed_where_its_test_cell_stands_in_the_source() -> None:
    """positions: how many of the cells to run precede each test cell (a student's cell after a test cell comes
    after it); a question whose test cell the source lacks runs after every cell."""
    nb = notebooks.submission()
    nb["cells"].insert(4, {"cell_type": "code", "metadata": {}, "source": "helper = 1", "outputs": []})
    built = _plan(nb)
    assert [c.label for c in built.cells] == ["setup", "ans_scale", "#5", "ans_norm2", "ans_square_grad"]
    assert built.positions == {"test_scale": 2, "test_norm2": 4, "test_square_grad": 5}
    assert built.position("not_in_the_source") == 5
    assert built.answers_before(2) == (notebooks.SOLUTIONS["ans_scale"],)


def test_cells_run_in_the_students_order_and_a_deleted_locked_cell_does_not_run() -> None:
    """As nbgrader runs the notebook: an answer moved below its test cell comes after that question; a locked cell
    runs once, with the source's text, where the student's first copy stands; a deleted one does not run (noted)."""
    nb = notebooks.submission()
    cells = nb["cells"]  # markdown, setup, ans_scale, test_scale, ans_norm2, test_norm2, ans_square_grad, test_...
    cells.insert(3, cells.pop(2))  # ans_scale below test_scale
    built = _plan(nb)
    assert [c.label for c in built.cells] == ["setup", "ans_scale", "ans_norm2", "ans_square_grad"]
    assert built.positions == {"test_scale": 1, "test_norm2": 3, "test_square_grad": 4}
    moved_setup = notebooks.submission()
    moved_setup["cells"].insert(3, moved_setup["cells"].pop(1))  # setup dragged below test_scale
    moved_setup["cells"].insert(6, copy.deepcopy(moved_setup["cells"][3]))  # and copied below test_norm2
    built = _plan(moved_setup)
    assert [c.label for c in built.cells] == ["ans_scale", "setup", "ans_norm2", "ans_square_grad"]
    assert built.positions["test_scale"] == 1 and built.cells[1].source == notebooks.SETUP
    deleted = notebooks.submission()
    del deleted["cells"][1]
    built = _plan(deleted)
    assert [c.label for c in built.cells] == ["ans_scale", "ans_norm2", "ans_square_grad"]
    assert [text(n) for n in built.notes] == ["read-only cell 'setup' was deleted, so it did not run (as under "
                                              "nbgrader): copy it back from the released notebook"]


def test_a_test_cell_calling_check_runs_its_call_where_it_stands() -> None:
    """The course's test cells show one `check(...)` call: it runs (labelled by the question) just before its
    question, as nbgrader runs the test cell, so a notebook where it fails loses the question there too."""
    source = copy.deepcopy(notebooks.source_notebook())
    for cell in source["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade") is True:
            gid = cell["metadata"]["nbgrader"]["grade_id"]
            cell["source"] = f'check("fake", "{gid}", globals())\n' + notebooks.HIDDEN
    course = parse(json.dumps(source).encode())
    nb = notebooks.submission()
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade") is True:
            cell["source"] = "pass  # edited"  # the source's visible call runs whatever the student left
    built = plan(parse(json.dumps(nb).encode()), course, checks.ASSIGNMENT)
    labels = [c.label for c in built.cells]
    assert labels == ["setup", "ans_scale", "test_scale", "ans_norm2", "test_norm2", "ans_square_grad",
                      "test_square_grad"]
    assert built.cells[2] == RunCell("test_scale", 'check("fake", "test_scale", globals())', False)
    assert built.positions == {"test_scale": 3, "test_norm2": 5, "test_square_grad": 7}


def test_a_moved_test_cell_is_graded_where_it_stands() -> None:
    """As nbgrader grades it: test_square_grad dragged to the top is graded there (before any answer), untampered;
    two test cells swapped are each graded at their own place."""
    nb = notebooks.submission()
    nb["cells"].insert(1, nb["cells"].pop(7))
    built = _plan(nb)
    assert not built.decided and built.positions["test_square_grad"] == 0
    swapped = notebooks.submission()
    swapped["cells"][3], swapped["cells"][5] = swapped["cells"][5], swapped["cells"][3]
    built = _plan(swapped)
    assert not built.decided and built.positions == {"test_norm2": 2, "test_scale": 3, "test_square_grad": 4}
