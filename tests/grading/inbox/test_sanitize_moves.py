"""sanitize's pure helpers against their definitions, and plan's flags and notes (mutation testing's survivors).

_visible: a test cell as released, hidden region dropped.
"""

from __future__ import annotations

import json
import sys

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

from autograder.checks.messages import text
from autograder.grading.inbox.notebook import parse
from autograder.grading.inbox.sanitize import _visible, plan
from autograder.grading.runner.wire import RunCell


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
    nb["cells"][4]["cell_type"] = "markdown"  # ans_norm2 is no longer code: it runs as code, as under nbgrader
    del nb["cells"][1]  # the locked setup cell deleted
    nb["cells"].insert(0, top)  # a helper before everything
    built = plan(parse(json.dumps(nb).encode()), source, checks.ASSIGNMENT)
    assert built.cells[0] == RunCell("#1", "import math\n", True)  # the deleted setup cell does not run
    assert [(c.label, c.answer) for c in built.cells[1:]] == [("ans_scale", True), ("ans_norm2", True),
                                                              ("ans_square_grad", True)]
    assert tuple(map(text, built.notes)) == ("read-only cell 'setup' was deleted, so it did not run (as under "
                                             "nbgrader): copy it back from the released notebook",
                           "test cell 'test_scale' was edited; tests always run from the original",
                           "cell 'ans_norm2' was changed into a markdown cell; it ran as the code cell it is, as "
                           "under nbgrader")
    assert built.answers == tuple(c.source for c in built.cells if c.answer)
