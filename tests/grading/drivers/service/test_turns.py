"""The service's waiting line, in process (no sandbox): submissions are graded in turns by student, so one student's
backlog delays another by at most the grading under way, also for what a restart recovers from the database."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

from autograder.grading.core.model import Result, Row, Submission
from autograder.grading.drivers.service.db import Store, url_for
from autograder.grading.drivers.service.grading import Grading
from autograder.grading.drivers.service.turns import Turns
from autograder.message import say


def _drain(turns: Turns, count: int) -> list[int]:
    got = [turns.get() for _ in range(count)]
    assert None not in got
    return cast(list[int], got)


def test_a_backlog_waits_its_turn_behind_every_other_student() -> None:
    turns = Turns()
    for submission_id in range(1, 21):  # the spammer's twenty slow notebooks, sent first
        turns.put("spammer", submission_id)
    turns.put("alice", 21)
    turns.put("bob", 22)
    turns.put("alice", 23)
    turns.put("bob", 22)  # queued once
    assert len(turns) == 23
    assert _drain(turns, 5) == [1, 21, 22, 2, 23]  # each student's own in their order
    turns.put("carol", 24)  # arrives behind a backlog: next, not after it
    assert _drain(turns, 2) == [24, 3]
    turns.close()
    assert turns.get() is None and len(turns) == 17  # what waits stays in the database for the next start


def test_a_closed_line_wakes_every_waiting_thread() -> None:
    turns, got = Turns(), []
    threads = [threading.Thread(target=lambda: got.append(turns.get())) for _ in range(3)]
    for thread in threads:
        thread.start()
    turns.close()
    for thread in threads:
        thread.join(5)
    assert got == [None, None, None]


def test_a_restart_grades_the_recovered_backlog_in_turns(tmp_path: Path) -> None:
    """Submissions left ungraded by a stopped service are queued at start with their students: alice's one notebook
    is graded second, not after the spammer's five."""
    store = Store(url_for(str(tmp_path / "s.db")))
    ids = [store.add(student, "fake", b"{}", "0" * 64, False, float(n))
           for n, student in enumerate(["spammer"] * 5 + ["alice"])]
    order: list[str] = []
    finished = threading.Event()

    class Pool:
        def grade(self, sub: Submission) -> Result:
            order.append(sub.student_id)
            if len(order) == len(ids):
                finished.set()
            row = Row(sub.student_id, "fake", "fake.ipynb", "q", 1.0, 1.0, "passed",
                      say("upload.problem", reason="ok"))
            return Result(sub.student_id, "fake", "fake.ipynb", "x", False, 1, (), {}, 0.1, (row,))

        def warm(self, count: int) -> None:
            pass

        def close(self) -> None:
            pass
    grading = Grading(store, cast(Any, {"fake": Pool()}), 1, lambda i: None)
    assert grading.start() == 6
    assert finished.wait(10)
    grading.stop()
    assert order == ["spammer", "alice", "spammer", "spammer", "spammer", "spammer"]
    assert store.ungraded() == []
    store.close()
