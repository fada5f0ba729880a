"""The README's names-travel table is true: each topic's chapter label, exercise function, reference kernel,
check, named mistakes and tests exist and name one another."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import autograder
from autograder import diagnostics, reference

REPO = Path(__file__).resolve().parents[1]
CODE = re.compile(r"`([^`]+)`")
QUOTED = re.compile(r'"([^"]+)"')


def _rows() -> list[list[str]]:
    """The table's body rows, split into cells."""
    text = (REPO / "README.md").read_text("utf-8")
    start = text.index("| Topic | Chapter (label) |")
    lines = text[start:].split("\n\n", 1)[0].splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


ROWS = _rows()


def test_every_exercise_question_has_a_row() -> None:
    from autograder.checks import ASSIGNMENTS

    named = {f for row in ROWS for f in CODE.findall(row[2])[1:]}
    functions = {f for a in ASSIGNMENTS.values() for q in a.questions for f in q.functions
                 if not f.endswith("_forward")}
    assert functions - named == set(), "exercise functions without a names-travel row"


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_row_names_exist(row: list[str]) -> None:
    topic, chapter, exercise, kernel, check, tests = row
    path, label = CODE.findall(chapter)
    assert f"({label})=" in (REPO / path).read_text("utf-8"), f"{topic}: no label {label} in {path}"
    if CODE.findall(exercise):
        assignment, *functions = CODE.findall(exercise)
        source = json.loads((REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text("utf-8"))
        code = "\n".join("".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code")
        for function in functions:
            assert f"def {function}(" in code, f"{topic}: solutions/{assignment} defines no {function}"
    owner, _, attr = CODE.findall(kernel)[0].split("(")[0].partition(".")
    assert hasattr({"reference": reference, "diagnostics": diagnostics}[owner], attr), f"{topic}: no {owner}.{attr}"
    package = Path(autograder.__file__).parent
    check_files = [f for f in CODE.findall(check) if f.endswith(".py")]
    sources = "\n".join((package / ("checks" if f.startswith("mistakes/") else "") / f).read_text("utf-8")
                        for f in check_files)
    for diagnosis in QUOTED.findall(check):
        assert diagnosis in sources, f"{topic}: diagnosis {diagnosis!r} is named nowhere in {check_files}"
    test_files = [f for f in CODE.findall(tests) if f.endswith(".py")]
    for name in test_files:
        assert (REPO / "tests" / name).is_file(), f"{topic}: tests/{name} missing"
