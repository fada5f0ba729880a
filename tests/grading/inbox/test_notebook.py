"""notebook.parse: amplifying notebooks are refused before json.loads builds them; values kept are capped."""

from __future__ import annotations

import json
import sys

import pytest

from tests.paths import CORPUS, REPO

sys.path.insert(0, str(CORPUS))
import containers
from fakecourse import notebooks

from autograder.checks.messages import text
from autograder.grading.inbox.notebook import Malformed, json_values, parse
from autograder.grading.runner import limits


def _nb(cells: list) -> bytes:
    """A v4 notebook with these cells."""
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


def test_value_scan_counts_outside_strings_and_stops_at_the_cap() -> None:
    """Commas and brackets inside strings (escaped quotes too) are not values; the count stops at stop + 1."""
    assert json_values(b'{"a": "x,[{\\"],,", "b": [1, 2]}', 100) == 7  # { "a" "x..." , "b" [ ,
    assert json_values(b"[" + b"0," * 1000 + b"0]", 10) == 11


@pytest.mark.parametrize("raw", [
    containers.junk_cells(2_000_000), containers.tiny_cells(), containers.huge_metadata(300_000),
    b'{"nbformat": 4, "cells": [' + b"[]," * 300_000 + b"[]]}",
    b'{"nbformat": 4, "cells": [], "x": ["' + b'","' * 300_000 + b'"]}',
])
def test_junk_is_malformed_naming_the_limit(raw: bytes) -> None:
    """Millions of empty objects or arrays, tiny cells or metadata keys: malformed, the limit named."""
    with pytest.raises(Malformed, match=f"more than the {limits.JSON_VALUES} JSON values"):
        parse(raw)


def test_the_cell_cap() -> None:
    """More cells than limits.CELLS (under the value cap) is malformed, naming the cap."""
    with pytest.raises(Malformed, match=f"{limits.CELLS + 1 + len(notebooks.submission()['cells'])} cells, "
                                        f"more than the {limits.CELLS}"):
        parse(containers.many_cells())


def test_big_strings_are_not_junk() -> None:
    """A 20 MB output or metadata string is few values: the notebook is read and its cells kept."""
    for raw in (containers.huge_output(), containers.huge_string_metadata()):
        assert len(parse(raw).cells) == len(notebooks.submission()["cells"])


def test_every_course_notebook_is_far_below_the_caps() -> None:
    """Honest notebooks (the released exercises and the solutions) use a small fraction of each cap."""
    paths = sorted(REPO.glob("solutions/*/*.ipynb")) + sorted(REPO.glob("exercises/*/*.ipynb"))
    assert paths
    for path in paths:
        raw = path.read_bytes()
        assert json_values(raw, limits.JSON_VALUES) < limits.JSON_VALUES // 50, path
        assert len(parse(raw).cells) < limits.CELLS // 50, path


def test_kept_values_are_type_checked_and_capped() -> None:
    """A huge or non-string grade_id or cell_type, or a huge nbformat value, never travels further."""
    cells = [{"cell_type": "code" * 1000, "source": "x", "metadata": {"nbgrader": {"grade_id": "g" * 10_000}}},
             {"cell_type": {"a": 1}, "source": "y", "metadata": {"nbgrader": {"grade_id": ["list"]}}}]
    parsed = parse(_nb(cells))
    assert [c.grade_id for c in parsed.cells] == [None, None]
    assert len(parsed.cells[0].cell_type) <= 20 and parsed.cells[1].cell_type == ""
    with pytest.raises(Malformed) as info:
        parse(json.dumps({"nbformat": "9" * 100_000, "cells": []}).encode())
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("points", ["1" + "0" * 400, "NaN", "-Infinity", "2.5"])
def test_any_points_value_is_read_never_raised_on(points: str) -> None:
    """A test cell's points of 10**400 (no float holds it), NaN or Infinity (Python's JSON reader accepts both) are
    read as 0: they used to raise OverflowError out of parse, an "internal grader error" row (no grade, regraded by
    every --resume and service restart) instead of the student's grade. Nothing grades with these points anyway."""
    raw = _nb([{"cell_type": "code", "source": "x", "metadata": {"nbgrader": {"grade": True, "grade_id": "t"}}}])
    raw = raw.replace(b'"grade": true', b'"grade": true, "points": ' + points.encode())
    (cell,) = parse(raw).cells
    assert cell.grade_id == "t" and cell.points == (2.5 if points == "2.5" else 0.0)


def test_notes_do_not_grow_with_bad_cells() -> None:
    """Thousands of unusable cells give one note per kind of problem, not one per cell."""
    parsed = parse(_nb([1] * 5000 + [{"cell_type": "code", "source": 5}] * 3000))
    assert len(parsed.notes) == 2
    assert "and 4995 more are not cell objects" in text(parsed.notes[0])
    assert "and 2995 more have an unreadable source" in text(parsed.notes[1])

