"""sanitize's pure helpers against their definitions, and plan's flags and notes (mutation testing's survivors).

_moved: the test cells outside a longest common subsequence of the student's and the source's order
(a reordering costs as few questions as possible); _visible: a test cell as released, hidden region dropped.
"""

from __future__ import annotations

import itertools
import json
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

from autograder.checks.messages import text
from autograder.grading.inbox.notebook import parse
from autograder.grading.inbox.sanitize import _moved, _visible, plan
from autograder.grading.runner.wire import RunCell


def _is_subsequence(part: list[int], whole: list[int]) -> bool:
    items = iter(whole)
    return all(any(x == y for y in items) for x in part)


def _lcs_length(a: list[int], b: list[int]) -> int:
    """By brute force: the longest subsequence of `a` that is also one of `b`."""
    for size in range(len(a), -1, -1):
        if any(_is_subsequence(list(c), b) for c in itertools.combinations(a, size)):
            return size
    return 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=0, max_size=7, unique=True).flatmap(
    lambda ids: st.tuples(st.permutations(ids), st.permutations(ids))))
def test_moved_is_the_fewest_cells_outside_a_common_order(orders: tuple[list[int], list[int]]) -> None:
    student, source = (list(o) for o in orders)
    moved = _moved([str(x) for x in student], [str(x) for x in source])
    kept = [x for x in student if str(x) not in moved]
    assert _is_subsequence(kept, source)  # what stays is in the source's order
    assert len(kept) == _lcs_length(student, source)  # and as much as possible stays


def test_moved_examples() -> None:
    assert _moved(["a", "b", "c"], ["a", "b", "c"]) == set()
    assert _moved(["b", "a", "c", "d"], ["a", "b", "c", "d"]) in ({"a"}, {"b"})
    assert _moved(["d", "a", "b", "c"], ["a", "b", "c", "d"]) == {"d"}
    assert _moved(["a", "b", "c", "d"], ["b", "c", "d", "a"]) == {"a"}
    assert _moved([], []) == set()


def test_visible_drops_only_the_hidden_region() -> None:
    source = ("check(1)\n### BEGIN HIDDEN TESTS\nsecret(2)\n  ### END HIDDEN TESTS  \ncheck(3)\n"
              "### BEGIN HIDDEN TESTS\nsecret(4)\n### END HIDDEN TESTS\n")
    assert _visible(source) == "check(1)\ncheck(3)"
    assert _visible("  check(1)\n\n") == "check(1)"
    assert _visible("### BEGIN HIDDEN TESTS\nsecret()\n") == ""  # an unclosed region hides the rest
    assert _visible("### end hidden tests\nx") == "### end hidden tests\nx"  # markers are exact


def test_plan_marks_what_is_student_code_and_says_what_it_restored() -> None:
    """Which planned cells count as the student's (answer=True) and the exact notes: mutation survivors, pinned."""
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    nb = notebooks.submission()
    top = {"cell_type": "code", "metadata": {}, "source": "import math\n", "outputs": []}
    nb["cells"][3]["source"] = "pass  # my own test"  # test_scale edited
    nb["cells"][4]["cell_type"] = "markdown"  # ans_norm2 is no longer code
    del nb["cells"][1]  # the locked setup cell deleted
    nb["cells"].insert(0, top)  # a helper before everything
    built = plan(parse(json.dumps(nb).encode()), source, checks.ASSIGNMENT)
    assert built.cells[0] == RunCell("#1", "import math\n", True)
    assert built.cells[1] == RunCell("setup", notebooks.SETUP, False)  # restored from the source, not the student's
    assert [(c.label, c.answer) for c in built.cells[2:]] == [("ans_scale", True), ("ans_square_grad", True)]
    assert tuple(map(text, built.notes)) == ("read-only cell 'setup' was missing and was restored",
                           "test cell 'test_scale' was edited; tests always run from the original",
                           "answer cell 'ans_norm2' is missing (deleted or not a code cell)")
    assert built.answers == tuple(c.source for c in built.cells if c.answer)
