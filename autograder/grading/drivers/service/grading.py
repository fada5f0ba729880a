"""The service's grading threads: grade accepted submissions with the core pool, store each result once.

Submissions are graded in turns by student (turns.Turns), so one student's backlog never holds up the others. A
submission is in the database before its student hears it was accepted; at start every submission
without a result is queued again, so a crash or SIGKILL loses nothing. The results table allows one
result per submission, so a submission graded twice (two services on one database, say) is stored once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from autograder.grading.core import sandbox
from autograder.grading.core.model import Result, Submission
from autograder.grading.core.pool import Cancelled, Grader
from autograder.grading.drivers.service.db import Store
from autograder.grading.drivers.service.turns import Turns
from autograder.grading.outputs import records
from autograder.message import say

log = logging.getLogger("autograder.serve")


def warm_plan(served: list[str], queued: list[str], count: int) -> list[tuple[str, int]]:
    """How many workers to warm for which assignment, in order: `count` in all (as many as are graded at once, the
    pools' shared budget), one per assignment in turn, those with the most submissions queued first."""
    order = sorted(served, key=lambda a: -queued.count(a))  # stable: then in the order served
    counts = {a: 0 for a in order}
    for turn in range(count if order else 0):
        counts[order[turn % len(order)]] += 1
    return [(a, n) for a, n in counts.items() if n]


def refused(result: Result) -> bool:
    """True when the notebook is none of this assignment's (malformed on every question): answered 422."""
    return bool(result.rows) and all(row.status == "malformed" for row in result.rows)


class Grading:
    """N threads sharing one line of submission ids (in turns by student) and one pool per assignment (pool.Pool, or a
    ClusterPool)."""

    def __init__(self, store: Store, pools: dict[str, Grader], threads: int, done: Callable[[int], None]) -> None:
        """`done(submission_id)` is called (from a grading thread) once the result is stored."""
        self.store, self.pools, self.count, self.done = store, pools, threads, done
        self.queue = Turns()
        self.threads: list[threading.Thread] = []
        self._in_hand: set[int] = set()  # taken from the queue, being graded now

    @property
    def waiting(self) -> int:
        """Submissions accepted and not graded yet: queued, or being graded now."""
        return len(self.queue) + len(self._in_hand)

    def start(self) -> int:
        """Queue every submission still without a result (or with one of an older form), start the threads; how many
        were recovered."""
        self.store.forget_stale()
        waiting = self.store.backlog()
        for submission_id, student_id, _ in waiting:
            self.queue.put(student_id, submission_id)
        self.threads = [threading.Thread(target=self._loop, name=f"serve-grading-{i}", daemon=True)
                        for i in range(self.count)]
        for thread in self.threads:
            thread.start()
        # warm workers in the background (the service answers meanwhile), one after another: started together, the
        # sandboxes' imports would share the cores and none would be ready soon
        plan = warm_plan(list(self.pools), [assignment for _, _, assignment in waiting], self.count)
        threading.Thread(target=self._warm, args=(plan,), name="serve-warm", daemon=True).start()
        return len(waiting)

    def _warm(self, plan: list[tuple[str, int]]) -> None:
        """Warm each pool of `plan` in turn with its number of workers."""
        for assignment, count in plan:
            self.pools[assignment].warm(count)

    def put(self, student_id: str, submission_id: int) -> None:
        """Queue an accepted (stored) submission of this student."""
        self.queue.put(student_id, submission_id)

    def stop(self) -> None:
        """Stop the threads and every worker; what is in hand is graded again at the next start."""
        self.queue.close()  # first: no thread takes another submission to a pool being closed
        closing = [threading.Thread(target=pool.close, name=f"serve-close-{name}") for name, pool in self.pools.items()]
        for thread in closing:  # every assignment's workers at once: each waits for its sandboxes to exit
            thread.start()
        for thread in closing:
            thread.join()
        for thread in self.threads:
            thread.join(30)

    def _loop(self) -> None:
        """One grading thread."""
        while (submission_id := self.queue.get()) is not None:
            self._in_hand.add(submission_id)
            try:
                self._grade(submission_id)
            except Cancelled:
                return
            except sandbox.StartFailed as exc:  # not the student's: the submission waits, ungraded, for a restart
                log.error("submission %s not graded: the grading sandbox could not start: %s", submission_id, exc)
            except Exception:
                log.exception("could not grade or store submission %s", submission_id)
            finally:
                self._in_hand.discard(submission_id)

    def _grade(self, submission_id: int) -> None:
        """Grade one stored submission and store its result (unless it has one already)."""
        upload, notebook = self.store.notebook(submission_id)
        pool = self.pools.get(upload.assignment)
        if pool is None:  # served before, not now: it waits for a service that serves it
            log.warning("submission %s is for %s, which this service does not serve", submission_id,
                        upload.assignment)
            return
        sub = Submission(upload.student_id, f"submission {submission_id}", notebook)
        result = pool.grade(sub)
        if result.grader_failed:  # not the student's doing (a sandbox that failed mid-job): once more at once; a
            result = pool.grade(sub)  # failure again is stored, shown, and graded again at the next start
        if upload.late:
            result = _late(result)
        self.store.save(submission_id, result, records.result_bytes(result), refused(result))
        self.done(submission_id)


def _late(result: Result) -> Result:
    """The result marked late (the policy's deadline; the grade itself is unchanged)."""
    return dataclasses.replace(result, late=True, notes=(say("note.after_deadline"),) + result.notes)
