"""The service's waiting line: submissions handed to the grading threads in turns by student, not in arrival order.

First in, first out, one student sending twenty slow notebooks (each using every question's time limit) made every
other student wait for all twenty. Here the next submission is always the oldest one of the student whose last
turn was longest ago (a student never served first), so one student's backlog delays another's submission by at
most the grading already under way: about one submission per grading thread.
"""

from __future__ import annotations

import threading
from collections import deque


class Turns:
    """Submission ids waiting to be graded, handed out in turns by student; thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: dict[str, deque[int]] = {}  # student -> their submissions, oldest first (in the order put)
        self._queued: set[int] = set()  # every id in _waiting: one put twice is queued once
        self._last_turn: dict[str, int] = {}  # student -> the number of the last turn they were given
        self._turns = 0
        self._closed = False

    def __len__(self) -> int:
        """How many submissions wait."""
        with self._changed:
            return len(self._queued)

    def put(self, student_id: str, submission_id: int) -> None:
        """Queue a submission of this student (after those of theirs already waiting); nothing if it waits already."""
        with self._changed:
            if submission_id in self._queued:
                return
            self._queued.add(submission_id)
            self._waiting.setdefault(student_id, deque()).append(submission_id)
            self._changed.notify()

    def get(self) -> int | None:
        """The next submission to grade, waiting for one; None once closed (what waits stays in the database)."""
        with self._changed:
            while not self._waiting and not self._closed:
                self._changed.wait()
            if self._closed:
                return None
            # min keeps the first of equals: among students never served (or served at the same turn), the one
            # whose submission has waited longest
            student = min(self._waiting, key=lambda s: self._last_turn.get(s, -1))
            mine = self._waiting[student]
            submission_id = mine.popleft()
            if not mine:
                del self._waiting[student]
            self._queued.discard(submission_id)
            self._turns += 1
            self._last_turn[student] = self._turns
            return submission_id

    def close(self) -> None:
        """Wake every waiting get() with None, now and from now on."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
