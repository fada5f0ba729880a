"""Build the fake assignment's source notebook and student submissions as nbformat-4 dicts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SETUP = "import math\nimport torch\n"
#: The correct answers, one per answer cell.
SOLUTIONS = {
    "ans_scale": "def scale(x, a):\n    return a * x\n",
    "ans_norm2": "def norm2(x):\n    return torch.sqrt((x * x).sum())\n",
    "ans_square_grad": "def square_grad(x):\n    return 2 * x\n",
}
TESTS = {
    "test_scale": "assert scale(torch.ones(2), 2.0).tolist() == [2.0, 2.0]\n",
    "test_norm2": "assert abs(float(norm2(torch.tensor([3.0, 4.0]))) - 5.0) < 1e-9\n",
    "test_square_grad": "assert square_grad(torch.ones(1)).tolist() == [2.0]\n",
}
HIDDEN = "### BEGIN HIDDEN TESTS\nassert True  # hidden\n### END HIDDEN TESTS\n"
POINTS = {"test_scale": 1.0, "test_norm2": 2.0, "test_square_grad": 2.0}


def _cell(cell_type: str, source: str, nbgrader: dict[str, Any] | None = None) -> dict[str, Any]:
    """One nbformat-4 cell."""
    cell: dict[str, Any] = {"cell_type": cell_type, "metadata": {}, "source": source}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, **nbgrader}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def source_notebook() -> dict[str, Any]:
    """The instructor's source notebook: setup, then answer + test cell per question."""
    cells = [_cell("markdown", "# Fake assignment\n"),
             _cell("code", SETUP, {"grade": False, "solution": False, "locked": True, "grade_id": "setup"})]
    for (answer_id, answer), (test_id, test) in zip(SOLUTIONS.items(), TESTS.items(), strict=True):
        body = "    ### BEGIN SOLUTION\n" + answer.split("\n", 1)[1].rstrip("\n") + "\n    ### END SOLUTION\n"
        cells.append(_cell("code", answer.split("\n", 1)[0] + "\n" + body,
                           {"grade": False, "solution": True, "locked": False, "grade_id": answer_id}))
        cells.append(_cell("code", test + HIDDEN, {"grade": True, "solution": False, "locked": True,
                                                   "grade_id": test_id, "points": POINTS[test_id]}))
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def submission(answers: dict[str, str] | None = None, extra_cells: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    """A student's notebook: the released notebook with `answers` (default: the correct ones) filled in."""
    nb = copy.deepcopy(source_notebook())
    answers = {**SOLUTIONS, **(answers or {})}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = answers[meta["grade_id"]]
        elif meta.get("grade"):
            cell["source"] = TESTS[meta["grade_id"]]
    nb["cells"].extend(extra_cells or [])
    return nb


def write(nb: dict[str, Any] | bytes, path: Path) -> Path:
    """Write a notebook dict (or raw bytes) to `path`, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(nb if isinstance(nb, bytes) else json.dumps(nb, indent=1).encode())
    return path
