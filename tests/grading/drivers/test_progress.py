"""autograder.grading.drivers.progress: piped progress is a line per student, never more than one a second."""

from __future__ import annotations

import io

import pytest

from autograder.grading.drivers import progress
from autograder.grading.drivers.progress import Progress


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_piped_progress_is_a_line_per_student_at_most_one_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    log = io.StringIO()
    bar = Progress(5, log)
    for gap in (6.0, 6.0, 0.2, 0.3, 6.0):  # a slow 5-student run: never silent for long
        clock.now += gap
        bar.step("s")
    lines = [line.split(" (")[0] for line in log.getvalue().splitlines()]
    assert lines == ["graded 1/5", "graded 2/5", "graded 5/5"]  # 3/5 and 4/5 came within a second of 2/5
    fast, many = io.StringIO(), Progress(300, io.StringIO())
    many.stream = fast
    for _ in range(300):  # 300 students in 3 s: about one line a second, and the last
        clock.now += 0.01
        many.step("s")
    assert 3 <= len(fast.getvalue().splitlines()) <= 5 and fast.getvalue().splitlines()[-1].startswith("graded 300/300")


def test_a_terminal_gets_a_bar_not_lines() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = Progress(2, out)
    bar.step("alice")
    bar.step("bob")
    bar.close()
    assert "graded 1/2" not in out.getvalue() and "2/2" in out.getvalue()
