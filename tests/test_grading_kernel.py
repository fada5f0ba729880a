"""grading.kernel.run in a plain forked child (no bubblewrap, no confinement): what it writes, as plain data."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from autograder import plain
from autograder.checks.spec import ERROR_KEY
from autograder.grading import kernel
from autograder.grading.model import EXIT_RESULTS_UNWRITABLE, Cell

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from fakecourse.checks import ASSIGNMENT as FAKE

SCALE = FAKE.question("test_scale")
CASES = {"test_scale": [{"x": torch.arange(3, dtype=torch.float64), "a": 2.0},
                        {"x": torch.ones(4, dtype=torch.float64), "a": -1.0}]}


def _run(cells: list[Cell], out_dir: Path, questions: list[Any] | None = None) -> tuple[int, list[str]]:
    """(exit code, progress lines) of kernel.run in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns (kernel.run ends with os._exit; anything else is exit 99)
        try:
            os.close(read)
            kernel.run(cells, [SCALE] if questions is None else questions, CASES, out_dir, write, None)
        finally:
            os._exit(99)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 4096):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode().split()


def test_cells_and_a_question_leave_plain_results(tmp_path: Path) -> None:
    cells = [Cell("setup", "import torch", False), Cell("ans_scale", "def scale(x, a):\n    return a * x", True)]
    code, progress = _run(cells, tmp_path)
    assert code == 0 and progress == ["cells", "q0"]
    assert plain.load(tmp_path / "cells") == {"errors": [], "memory": False}
    result = plain.load(tmp_path / "q0")
    assert result["missing"] == [] and result["tripped"] == [] and result["memory"] is False
    assert [out["y"].tolist() for out in result["outputs"]] == [[0.0, 2.0, 4.0], [-1.0, -1.0, -1.0, -1.0]]


def test_a_cell_that_raises_or_exits_is_recorded_and_the_rest_still_runs(tmp_path: Path) -> None:
    cells = [Cell("ans_a", "raise SystemExit(3)", True), Cell("ans_b", "def scale(x, a):\n    return x", True),
             Cell("ans_c", "1 / 0", True)]
    code, _ = _run(cells, tmp_path)
    errors = plain.load(tmp_path / "cells")["errors"]
    assert code == 0 and errors[0].startswith("cell ans_a: SystemExit: 3")
    assert errors[1].startswith("cell ans_c: ZeroDivisionError") and "(cell ans_c, line 1)" in errors[1]
    assert len(plain.load(tmp_path / "q0")["outputs"]) == 2  # scale was defined by the cell between


def test_a_missing_function_and_a_non_plain_return_are_data_not_crashes(tmp_path: Path) -> None:
    code, _ = _run([Cell("ans", "x = 1", True)], tmp_path)
    assert code == 0 and plain.load(tmp_path / "q0")["missing"] == ["scale"]
    odd = "class Odd:\n    pass\ndef scale(x, a):\n    return Odd()"
    code, _ = _run([Cell("ans", odd, True)], tmp_path)
    outputs = plain.load(tmp_path / "q0")["outputs"]
    assert code == 0 and all(ERROR_KEY in out and "not plain data" in out[ERROR_KEY] for out in outputs)


def test_unwritable_results_end_with_the_named_exit_code(tmp_path: Path) -> None:
    """Results that cannot be written are the grader's problem, told apart from a student's own exit code."""
    code, progress = _run([Cell("ans", "x = 1", True)], tmp_path / "absent")
    assert code == EXIT_RESULTS_UNWRITABLE and progress == []


def test_an_exception_names_the_students_cell_line_and_its_source(tmp_path: Path) -> None:
    # The feedback quotes the failing line, as the notebook's own check does: linecache must know the cell.
    from autograder.checks import ASSIGNMENTS

    question = ASSIGNMENTS["clipping"].question("grad_norm")
    cases = {"grad_norm": question.make_cases(torch.Generator().manual_seed(0), False)}
    source = "def grad_norm(grads, norm_type=2.0):\n    total = 0\n    raise ValueError('boom ' * 3)\n"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            kernel.run([Cell("answer-grad_norm", source, True)], [question], cases, tmp_path, write, None)
        finally:
            os._exit(99)
    os.close(write)
    while os.read(read, 4096):
        pass
    os.close(read)
    os.waitpid(pid, 0)
    message = plain.load(tmp_path / "q0")["outputs"][0][ERROR_KEY]
    assert "cell answer-grad_norm, line 3: `raise ValueError('boom ' * 3)`" in message, message
