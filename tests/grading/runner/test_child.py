"""grading.child.run in a plain forked child (no bubblewrap, no confinement): what it writes, as plain data."""

from __future__ import annotations

import os
import sys
from typing import Any

import torch

from autograder import plain
from autograder.checks.messages import text
from autograder.checks.spec import ERROR_KEY, error_message
from autograder.grading.runner import child, protocol
from autograder.grading.runner.phases import Phases, phase_names
from autograder.grading.runner.wire import EXIT_RESULTS_UNWRITABLE, RunCell
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE

SCALE = FAKE.question("test_scale")
CASES = {"test_scale": [{"x": torch.arange(3, dtype=torch.float64), "a": 2.0},
                        {"x": torch.ones(4, dtype=torch.float64), "a": -1.0}]}


def _run(cells: list[RunCell], questions: list[Any] | None = None, cases: dict[str, list[Any]] | None = None,
         close_results: bool = False, positions: list[int] | None = None) -> tuple[int, dict[str, Any]]:
    """(exit code, {phase name: result}) of child.run in a forked child, read as the worker reads frames."""
    questions = [SCALE] if questions is None else questions
    cases = CASES if cases is None else cases
    result_r, result_w = os.pipe()
    input_r, input_w = os.pipe()
    for index, question in enumerate(questions):  # a worker sends these one by one; here all at once
        protocol.write_all(input_w, protocol.frame(2 * index + 1, *plain.dumps(cases[question.grade_id])))
    os.close(input_w)
    if close_results:
        os.close(result_r)
    pid = os.fork()
    if pid == 0:  # the child: never returns (child.run ends with os._exit; anything else is exit 99)
        try:
            child.run(cells, questions, result_w, input_r, None, positions)
        finally:
            os._exit(99)
    os.close(result_w)
    os.close(input_r)
    phases = Phases(phase_names(len(questions)), [], lambda: 0, 1 << 26)
    while not close_results and (chunk := os.read(result_r, 4096)):
        phases.feed(chunk)
    if not close_results:
        os.close(result_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), {name: plain.loads(j, n) for name, j, n in phases.accepted}


def test_cells_and_a_question_leave_plain_results() -> None:
    cells = [RunCell("setup", "import torch", False), RunCell("ans_scale", "def scale(x, a):\n    return a * x", True)]
    code, results = _run(cells)
    assert code == 0 and list(results) == ["cells", "q0"]
    assert results["cells"] == {"errors": [], "memory": False}
    result = results["q0"]
    assert result["missing"] == [] and result["tripped"] == [] and result["memory"] is False
    assert [out["y"].tolist() for out in result["outputs"]] == [[0.0, 2.0, 4.0], [-1.0, -1.0, -1.0, -1.0]]


def test_each_question_sees_the_cells_before_its_test_cell_only() -> None:
    """positions [2, 3]: question 0 after the first two cells, question 1 after the third; the last cell (after
    every test cell) never runs. Each stretch of cells is a phase of its own, with its own errors."""
    cells = [RunCell("setup", "import torch", False), RunCell("ans", "def scale(x, a):\n    return a * x", True),
             RunCell("#5", "def scale(x, a):\n    return 0 * x\nundefined_name", True),
             RunCell("#9", "raise SystemExit(7)", True)]
    code, results = _run(cells, [SCALE, SCALE], positions=[2, 3])
    assert code == 0 and list(results) == ["cells", "q0", "cells1", "q1"]
    assert results["cells"]["errors"] == [] and results["cells1"]["errors"][0]["cell"] == "#5"
    assert [out["y"].tolist() for out in results["q0"]["outputs"]] == [[0.0, 2.0, 4.0], [-1.0, -1.0, -1.0, -1.0]]
    assert [out["y"].tolist() for out in results["q1"]["outputs"]] == [[0.0, 0.0, 0.0], [-0.0, -0.0, -0.0, -0.0]]


def test_a_cell_that_raises_or_exits_is_recorded_and_the_rest_still_runs() -> None:
    cells = [RunCell("ans_a", "raise SystemExit(3)", True), RunCell("ans_b", "def scale(x, a):\n    return x", True),
             RunCell("ans_c", "1 / 0", True)]
    code, results = _run(cells)
    errors = results["cells"]["errors"]
    # plain data, worded by the grader in the reader's language: the cell run, the exception, where it was raised
    assert code == 0 and errors[0] == {"cell": "ans_a", "type": "SystemExit", "text": "3", "where": "ans_a", "line": 1}
    assert errors[1] == {"cell": "ans_c", "type": "ZeroDivisionError", "text": "division by zero", "where": "ans_c",
                         "line": 1}
    assert len(results["q0"]["outputs"]) == 2  # scale was defined by the cell between


def test_a_missing_function_and_a_non_plain_return_are_data_not_crashes() -> None:
    code, results = _run([RunCell("ans", "x = 1", True)])
    assert code == 0 and results["q0"]["missing"] == ["scale"]
    odd = "class Odd:\n    pass\ndef scale(x, a):\n    return Odd()"
    code, results = _run([RunCell("ans", odd, True)])
    outputs = results["q0"]["outputs"]
    assert code == 0 and all(ERROR_KEY in out and "not plain data" in text(error_message(out)) for out in outputs)


def test_unwritable_results_end_with_the_named_exit_code() -> None:
    """Results that cannot be written are the grader's problem, told apart from a student's own exit code."""
    code, results = _run([RunCell("ans", "x = 1", True)], close_results=True)
    assert code == EXIT_RESULTS_UNWRITABLE and results == {}


def test_an_exception_names_the_students_cell_line_and_its_source() -> None:
    # The feedback quotes the failing line, as the notebook's own check does: linecache must know the cell.
    from autograder.checks import ASSIGNMENTS

    question = ASSIGNMENTS["clipping"].question("grad_norm")
    cases = {"grad_norm": question.make_cases(torch.Generator().manual_seed(0), False)}
    source = "def grad_norm(grads, norm_type=2.0):\n    total = 0\n    raise ValueError('boom ' * 3)\n"
    _, results = _run([RunCell("answer-grad_norm", source, True)], [question], cases)
    message = text(error_message(results["q0"]["outputs"][0]))  # the output is plain data, the message a code
    assert "cell answer-grad_norm, line 3: `raise ValueError('boom ' * 3)`" in message, message


#: An exception whose own text cannot be read: its __str__ raises.
UNPRINTABLE = "class Unprintable(Exception):\n    def __str__(self):\n        raise RuntimeError('no text')\n"


def test_a_cell_raising_an_exception_whose_str_raises_is_recorded_and_the_rest_still_runs() -> None:
    """As in Jupyter (nbgrader runs the next cells): the error is that cell's, not every later question's."""
    cells = [RunCell("ans_a", UNPRINTABLE + "raise Unprintable()", True),
             RunCell("ans_b", "def scale(x, a):\n    return a * x", True)]
    code, results = _run(cells)
    assert code == 0 and list(results) == ["cells", "q0"]
    assert results["cells"]["errors"] == [{"cell": "ans_a", "type": "Unprintable", "text": "<exception str() failed>",
                                           "where": "ans_a", "line": 4}]
    assert [out["y"].tolist() for out in results["q0"]["outputs"]] == [[0.0, 2.0, 4.0], [-1.0, -1.0, -1.0, -1.0]]


def test_what_escapes_the_call_fails_every_case_of_the_question_as_the_test_cell_raising_does() -> None:
    """A KeyboardInterrupt is not caught by the checks' call: under nbgrader it raises out of the test cell, which
    scores the question 0; here every case of that question fails with it, and the next question is still graded."""
    interrupting = ("def scale(x, a):\n    if a < 0:\n        raise KeyboardInterrupt\n    return a * x")
    code, results = _run([RunCell("ans", interrupting, True)], [SCALE, SCALE], positions=[1, 1])
    assert code == 0 and list(results) == ["cells", "q0", "cells1", "q1"]
    for phase in ("q0", "q1"):
        outputs = results[phase]["outputs"]
        assert len(outputs) == 2 and all(ERROR_KEY in out for out in outputs), outputs
        assert "KeyboardInterrupt" in text(error_message(outputs[0]))


def test_a_syntax_error_sends_its_cell_and_line_as_data() -> None:
    """Python's str() of a SyntaxError ends in "(<cell x>, line 2)", English the page cannot word: the cell and line
    travel as data, Python's own message alone as text, so a Chinese page says 第 2 行 like any other error."""
    _, results = _run([RunCell("adam-step", "def f(x):\n    return x +\n", True), RunCell("ok", "\tx = (\n", True)])
    errors = results["cells"]["errors"]
    assert [(e["cell"], e["type"], e["where"], e["line"]) for e in errors] == [
        ("adam-step", "SyntaxError", "adam-step", 2), ("ok", "IndentationError", "ok", 1)]
    assert all("<cell" not in e["text"] and "line" not in e["text"] for e in errors), errors


def test_a_syntax_error_whose_fields_raise_is_recorded_and_the_rest_still_runs() -> None:
    """A student's SyntaxError subclass whose `filename` raises, or an exception whose class name is no str: that
    cell's error like any other, never the child's end (every later question lost)."""
    hostile = ("class Odd(SyntaxError):\n    @property\n    def filename(self):\n        raise RuntimeError('x')\n"
               "    @filename.setter\n    def filename(self, value):\n        pass\nraise Odd('bad')")
    nameless = ("class Meta(type):\n    @property\n    def __name__(cls):\n        raise RuntimeError('x')\n"
                "class Nameless(Exception, metaclass=Meta):\n    pass\nraise Nameless()")
    code, results = _run([RunCell("ans_a", hostile, True), RunCell("ans_c", nameless, True),
                          RunCell("ans_b", "def scale(x, a):\n    return a * x", True)])
    assert code == 0 and list(results) == ["cells", "q0"]
    assert [e["cell"] for e in results["cells"]["errors"]] == ["ans_a", "ans_c"]
    assert [out["y"].tolist() for out in results["q0"]["outputs"]] == [[0.0, 2.0, 4.0], [-1.0, -1.0, -1.0, -1.0]]
