"""`make test` runs the suite in two lanes (tests/lanes.py): the split must keep every test, one book build, and
the grader's sandboxed workers out of the book lane."""

from __future__ import annotations

import re
from pathlib import Path

from tests import lanes

ROOT = Path(__file__).resolve().parent.parent


def test_the_book_lane_names_existing_modules_and_every_reader_of_the_built_book() -> None:
    for path in lanes.BOOK_LANE:
        assert (ROOT / path).is_file(), path
    readers = {f"tests/{p.name}" for p in (ROOT / "tests").glob("test_*.py")
               if re.search(r"def test_\w+\([^)]*\bbuilt_book\b|def \w+\([^)]*\bbuilt_book\b", p.read_text())}
    assert readers and readers <= set(lanes.BOOK_LANE), readers - set(lanes.BOOK_LANE)  # else two book builds


def test_the_book_lane_never_starts_the_graders_workers() -> None:
    """Tests of the other lane count the machine's workers, uids and cgroups: none may come from this lane, in
    `make test`'s split or in `make check`'s."""
    grading = re.compile(r"autograder\.grading\.(drivers|core\.(pool|sandbox|starting))\b"
                         r"|\"autograder\", \"(grade|serve)\"")  # the pipeline, a pool, or the grade/serve command
    starting = [path for path in lanes.book_lane(fast=True) if grading.search((ROOT / path).read_text())]
    assert starting == []


def test_make_checks_book_lane_adds_existing_modules_to_make_tests() -> None:
    assert lanes.book_lane(fast=False) == lanes.BOOK_LANE
    fast = lanes.book_lane(fast=True)
    assert fast[:len(lanes.BOOK_LANE)] == lanes.BOOK_LANE and len(set(fast)) == len(fast) > len(lanes.BOOK_LANE)
    for path in fast:
        assert (ROOT / path).is_file(), path


def test_one_status_for_the_lanes() -> None:
    assert lanes._status([0, 0]) == 0
    assert lanes._status([0, 1]) == 1 and lanes._status([2, 0]) == 2
    assert lanes._status([lanes.NO_TESTS, 0]) == 0  # `-k` left one lane nothing to run
    assert lanes._status([lanes.NO_TESTS, lanes.NO_TESTS]) == lanes.NO_TESTS


def test_named_tests_run_as_one_plain_pytest() -> None:
    assert lanes._names_tests(["tests/test_lanes.py::test_one_status_for_the_lanes", "-q"])
    assert lanes._names_tests(["tests/grading"])
    assert not lanes._names_tests(["--durations=15", "-k", "serve and not cluster", "-m", "not slow"])


def test_the_lanes_own_flags_never_reach_pytest() -> None:
    assert lanes._flags(["--mypy", "-q", "--durations=15"]) == (False, True, ["-q", "--durations=15"])
    assert lanes._flags(["--fast", "-m", "not slow"]) == (True, False, ["-m", "not slow"])
