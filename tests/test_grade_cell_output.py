"""A test cell's score as nbgrader reads it from the executed cell: what the student's code wrote to stderr while
being graded never costs the question (the batch grader ignores it too)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

from autograder.release import nbgrader_env

ROOT = Path(__file__).resolve().parent.parent


def _answer(grade_id: str) -> str:
    """The solution's answer cell `grade_id`, as a student who solved it would have it."""
    cells = json.loads((ROOT / "solutions" / "optimizers" / "optimizers.ipynb").read_text())["cells"]
    cell = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(cell["source"]).replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")


def _executed(sources: list[str], grade_id: str, points: int, tmp_path: Path) -> nbformat.NotebookNode:
    """A notebook of these code cells, the last one nbgrader's test cell `grade_id`, run in a kernel as nbgrader runs
    it (the repository importable)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nb.cells[-1].metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                                         "grade_id": grade_id, "schema_version": 3}
    os.environ.update({k: v for k, v in nbgrader_env().items() if k in ("PYTHONPATH", "PATH")})
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


@pytest.mark.slow
def test_a_logging_handler_writing_to_stderr_while_graded_costs_nothing(tmp_path: Path) -> None:
    student = (_answer("sgd-step") + "\nimport logging, sys\nlogging.basicConfig(level=logging.INFO)\n"
               "_log = logging.getLogger('mine')\n_solved = sgd_step\n"
               "def sgd_step(param, grad, state, **hyper):\n    _log.info('step')\n"
               "    print('to stderr', file=sys.__stderr__)\n    return _solved(param, grad, state, **hyper)\n")
    test = ('from autograder.checks import check, grade\ncheck("optimizers", "sgd_step_basic", globals())\n'
            'grade("optimizers", "sgd_step_basic", globals())')
    nb = _executed(["import torch", student, test], "sgd_step_basic", 1, tmp_path)
    student_cell = nb.cells[1]
    assert not [o for o in student_cell.outputs if o.output_type == "error"], student_cell.outputs
    assert determine_grade(nb.cells[2]) == (1.0, 1.0), nb.cells[2].outputs
    assert any(o.output_type == "stream" and "✓" in o.text for o in nb.cells[2].outputs), nb.cells[2].outputs


@pytest.mark.slow
def test_partial_credit_reads_in_full_whatever_the_kernels_float_display(tmp_path: Path) -> None:
    """`%precision 1` in a student's cell rounds how the kernel shows floats; nbgrader reads a test cell's score from
    that text, so 2/11 of the points must still read 0.1818..., the score the batch grader gives, not 0.2."""
    from autograder.checks.notebook import grade

    answer = ("def sgd_step(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):\n"
              "    return param - lr * (grad + weight_decay * param)\n")  # no momentum: part of the cases pass
    namespace: dict = {}
    exec(answer, namespace)  # the test's own fixed code, graded here as the kernel grades it
    expected = grade("optimizers", "sgd_step_momentum", namespace)
    assert 0 < expected < 2 and round(expected, 1) != expected
    test = 'from autograder.checks import grade\ngrade("optimizers", "sgd_step_momentum", globals())'
    nb = _executed(["import torch\n%precision 1", answer, test], "sgd_step_momentum", 2, tmp_path)
    assert determine_grade(nb.cells[2]) == (expected, 2.0), nb.cells[2].outputs
