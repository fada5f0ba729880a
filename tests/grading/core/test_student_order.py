"""student.grade_submission on a real sandboxed worker: each question is graded where its test cell stands.

`nbgrader autograde` runs a notebook top to bottom and each test cell grades its question with the notebook's
state at that point. The sandbox runs the cells before a question's test cell, calls the question, runs the cells
up to the next test cell, and so on: a definition or a helper that only a later cell makes never counts for an
earlier question, and cells that never finish cost every later question one time limit, not one each.
"""

from __future__ import annotations

import copy
import html
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.paths import CORPUS
from tests.test_feedback_zh import english_runs

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

from autograder.checks.messages import text
from autograder.grading.core import sandbox
from autograder.grading.core.model import UNSANDBOXED, Result, Submission
from autograder.grading.core.student import grade_submission
from autograder.grading.inbox.notebook import parse
from autograder.grading.outputs.batch import feedback_html
from autograder.grading.runner.wire import Job, Limits, Reply

CHECKS = "fakecourse.checks:get_assignment"
SOURCE = parse(json.dumps(notebooks.source_notebook()).encode())


@pytest.fixture(scope="module")
def worker() -> Iterator[Any]:
    """One sandboxed worker for the fake course (bubblewrap where usable, else the bare fallback)."""
    tmp = Path(tempfile.mkdtemp(prefix="order-"))
    tmp.chmod(0o755)  # the bare child's uid must be able to cross into its home
    started = sandbox.start_worker(0, CHECKS, "fake", tmp / "exchange-0", sandbox.bwrap_usable(), tmp / "worker.log")
    yield started
    started.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def _after(nb: dict[str, Any], grade_id: str, source: str) -> None:
    """Insert a student's own code cell right after the cell `grade_id`."""
    index = next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    nb["cells"].insert(index + 1, {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
                                   "execution_count": None})


def _grade(worker: Any, nb: dict[str, Any], tmp_path: Path, timeout: float = 20.0) -> tuple[Result, list[Job]]:
    """Grade one notebook on the worker; the result and every job sent."""
    jobs: list[Job] = []

    def run(job: Job) -> Reply:
        jobs.append(job)
        return worker.request(job, wait=120)

    sub = Submission("ann", "fake/fake.ipynb", json.dumps(nb).encode())
    result = grade_submission(sub, checks.ASSIGNMENT, SOURCE, 1, run, worker.exchange, Limits(timeout, 512, 1 << 16))
    return result, jobs


def test_a_later_definition_or_helper_never_counts_for_an_earlier_question(worker: Any, tmp_path: Path) -> None:
    """A wrong `scale` pasted after scale's test cell costs nothing; `norm2` calling a helper that only a cell after
    norm2's test cell defines gets no points (nbgrader: NameError at the test cell); square_grad is untouched."""
    nb = notebooks.submission({"ans_norm2": "def norm2(x):\n    return _root(x)\n"})
    _after(nb, "test_scale", "# an older attempt\ndef scale(x, a):\n    return 0 * x\n")
    _after(nb, "test_norm2", "def _root(x):\n    return torch.sqrt((x * x).sum())\n")
    result, jobs = _grade(worker, nb, tmp_path)
    rows = {row.grade_id: row for row in result.rows}
    assert (rows["test_scale"].status, rows["test_scale"].score) == ("passed", 1.0), rows["test_scale"]
    assert rows["test_norm2"].score == 0.0 and "_root" in text(rows["test_norm2"].message), rows["test_norm2"]
    assert (rows["test_square_grad"].status, rows["test_square_grad"].score) == ("passed", 2.0)
    assert len(jobs) == 1 and jobs[0].positions == (2, 4, 6)  # setup, scale | old scale, norm2 | _root, square_grad


def test_a_function_defined_only_after_its_test_cell_is_missing(worker: Any, tmp_path: Path) -> None:
    """nbgrader's test cell meets a NameError: the question's function is missing there, named as such."""
    nb = notebooks.submission({"ans_scale": "pass\n"})
    _after(nb, "test_scale", notebooks.SOLUTIONS["ans_scale"])
    result, _ = _grade(worker, nb, tmp_path)
    rows = {row.grade_id: row for row in result.rows}
    assert (rows["test_scale"].status, rows["test_scale"].score) == ("missing", 0.0), rows["test_scale"]
    assert "scale" in text(rows["test_scale"].message)
    assert rows["test_norm2"].status == rows["test_square_grad"].status == "passed"


def test_an_answer_cell_moved_below_its_own_test_cell_is_not_there_for_that_question(worker: Any,
                                                                                      tmp_path: Path) -> None:
    """The cells run in the student's order, as nbgrader runs them: `scale`'s answer cell dragged below scale's test
    cell leaves scale undefined there (missing, 0) and counts for the next questions only."""
    nb = notebooks.submission()
    cells = nb["cells"]  # markdown, setup, ans_scale, test_scale, ans_norm2, test_norm2, ans_square_grad, ...
    cells.insert(3, cells.pop(2))
    result, jobs = _grade(worker, nb, tmp_path)
    rows = {row.grade_id: row for row in result.rows}
    assert (rows["test_scale"].status, rows["test_scale"].score) == ("missing", 0.0), rows["test_scale"]
    assert rows["test_norm2"].status == rows["test_square_grad"].status == "passed"
    assert jobs[0].positions == (1, 3, 4)  # setup | ans_scale, ans_norm2 | ans_square_grad


def test_cells_that_never_finish_cost_the_later_questions_one_time_limit(worker: Any, tmp_path: Path) -> None:
    """An endless loop between two test cells: the question before it is graded; every question after it settles
    with the loop's cells named, in the one job that met it (not one more time limit per later question)."""
    nb = notebooks.submission()
    _after(nb, "test_scale", "while True:\n    pass\n")
    result, jobs = _grade(worker, nb, tmp_path, timeout=5.0)
    rows = {row.grade_id: row for row in result.rows}
    assert rows["test_scale"].status == "passed", rows["test_scale"]
    for grade_id in ("test_norm2", "test_square_grad"):
        assert rows[grade_id].status == "timeout", rows[grade_id]
        assert "#5" in text(rows[grade_id].message), rows[grade_id]  # the looping cell, by its notebook number
    assert len(jobs) == 1, [job.questions for job in jobs]


def test_a_question_that_never_finishes_costs_only_itself(worker: Any, tmp_path: Path) -> None:
    """An endless loop inside a graded function: that question times out, the later ones go to a fresh job, which
    runs the cells up to each of them again, and are graded."""
    nb = notebooks.submission({"ans_norm2": "def norm2(x):\n    while True:\n        pass\n"})
    result, jobs = _grade(worker, nb, tmp_path, timeout=5.0)
    statuses = {row.grade_id: row.status for row in result.rows}
    assert statuses == {"test_scale": "passed", "test_norm2": "timeout", "test_square_grad": "passed"}, result.rows
    assert [job.questions for job in jobs] == [("test_scale", "test_norm2", "test_square_grad"),
                                               ("test_square_grad",)]
    assert jobs[1].positions == (4,)


def test_cell_errors_of_every_stretch_of_cells_are_reported(worker: Any, tmp_path: Path) -> None:
    """Errors of the cells before and between test cells all reach the page; a function missing at its test cell
    is explained by the first error before it."""
    nb = notebooks.submission({"ans_square_grad": "pass\n"})
    _after(nb, "ans_scale", "import not_a_module_here\n")
    _after(nb, "test_norm2", "raise ValueError('boom')\n")
    result, _ = _grade(worker, nb, tmp_path)
    rows = {row.grade_id: row for row in result.rows}
    assert rows["test_scale"].status == rows["test_norm2"].status == "passed"
    assert rows["test_square_grad"].status == "missing"
    assert "not_a_module_here" in text(rows["test_square_grad"].message)
    errors = [text(error) for error in result.cell_errors]
    assert len(errors) == 2 and "not_a_module_here" in errors[0] and "boom" in errors[1], errors


def test_a_chinese_page_words_the_cells_errors_in_chinese(worker: Any, tmp_path: Path) -> None:
    """The child sends a cell's error as plain data (the cell, the exception, where it was raised); the page words
    it in the reader's language: no English frame ("cell #7: ... (cell #7, line 2)") around Python's own text,
    neither in the block of the cells' errors nor in the message of the function the error left undefined."""
    nb = notebooks.submission({"ans_square_grad": "pass\n"})
    nb["metadata"]["autograder"] = {"language": "zh_CN"}
    _after(nb, "test_norm2", "import torch\nundefined_helper(1)\n")
    result, _ = _grade(worker, nb, tmp_path)
    assert result.language == "zh_CN" and result.rows[2].status == "missing"
    page = html.unescape(feedback_html(result, checks.ASSIGNMENT, UNSANDBOXED))
    error = "NameError: name 'undefined_helper' is not defined（单元格 #7，第 2 行）"
    assert f"单元格 #7：{error}" in page and error in text(result.rows[2].message, "zh_CN")
    assert english_runs(page) == [] and "(cell" not in page and "cell #" not in page and "line 2" not in page


def _with_check_calls() -> dict[str, Any]:
    """The fake source as the course writes test cells: setup imports `check`, each test cell shows one call."""
    source = notebooks.source_notebook()
    for cell in source["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "setup":
            cell["source"] = notebooks.SETUP + "from autograder.checks import check\n"
        elif meta.get("grade") is True:
            cell["source"] = f'check("fake", "{meta["grade_id"]}", globals())\n' + notebooks.HIDDEN
    return source


def test_where_a_test_cells_check_call_fails_the_question_scores_nothing(worker: Any, tmp_path: Path) -> None:
    """As nbgrader runs a test cell: its visible `check(...)` line runs where it stands (a no-op in the sandbox);
    with the setup cell deleted it raises NameError at every test cell (every question 0, noted), with `check`
    deleted after scale's test cell at the later ones only, and a harmless `check` of the student's costs nothing."""
    course = _with_check_calls()
    source = parse(json.dumps(course).encode())

    def graded(nb: dict[str, Any]) -> dict[str, Any]:
        sub = Submission("ann", "fake/fake.ipynb", json.dumps(nb).encode())
        result = grade_submission(sub, checks.ASSIGNMENT, source, 1, lambda job: worker.request(job, wait=120),
                                  worker.exchange, Limits(20.0, 512, 1 << 16))
        return {"rows": {row.grade_id: row for row in result.rows}, "notes": [text(n) for n in result.notes]}

    released = notebooks.submission()
    for cell, original in zip(released["cells"], course["cells"], strict=True):
        if cell["metadata"].get("nbgrader", {}).get("grade") is True or \
                cell["metadata"].get("nbgrader", {}).get("grade_id") == "setup":
            cell["source"] = original["source"].split("### BEGIN HIDDEN TESTS")[0]
    honest = graded(released)
    assert all(row.status == "passed" for row in honest["rows"].values()), honest
    no_setup = copy.deepcopy(released)
    del no_setup["cells"][1]
    got = graded(no_setup)
    assert all(row.score == 0 and row.status == "error" for row in got["rows"].values()), got
    assert "name 'check' is not defined" in text(got["rows"]["test_scale"].message)
    assert any("'setup' was deleted" in note for note in got["notes"]), got["notes"]
    gone = copy.deepcopy(released)
    _after(gone, "test_scale", "del check\n")
    rows = graded(gone)["rows"]
    assert rows["test_scale"].status == "passed" and rows["test_norm2"].score == rows["test_square_grad"].score == 0
    own = copy.deepcopy(released)
    _after(own, "setup", "def check(*args):\n    pass\n")
    assert all(row.status == "passed" for row in graded(own)["rows"].values())
