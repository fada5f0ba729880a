"""autograder.grading.core.budget: pools sharing one cap on live workers (the service's --workers across its
assignments); the least recently used pool's idle worker is stopped to make room, never a busy one."""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

from autograder.grading.core.budget import Budget
from autograder.grading.core.model import Submission
from autograder.grading.core.pool import Pool
from autograder.grading.core.starting import Slot
from autograder.grading.drivers.service.grading import Grading, warm_plan
from autograder.grading.inbox.notebook import parse
from autograder.grading.runner.assignments import load_assignment
from autograder.grading.runner.wire import Limits
from tests.paths import CORPUS
from tests.sandbox_required import sandbox_marks

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks


class _Worker:
    """Stands in for a sandbox.Worker: records that it was stopped."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class _Holder:
    """A pool as the budget sees it: idle slots, and when it was last used."""

    def __init__(self, idle: int) -> None:
        self.last_used = 0.0
        self.idle = [Slot(i, Path("x"), Path("y"), worker=cast(Any, _Worker())) for i in range(idle)]

    def give_up_idle(self) -> Slot | None:
        return self.idle.pop(0) if self.idle else None


def _wait_stopped(slot: Slot) -> bool:
    worker = slot.worker
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if slot.worker is None:
            return True
        time.sleep(0.01)
    return bool(worker is not None and cast(Any, worker).stopped)


def test_at_the_cap_the_least_recently_used_pools_idle_worker_makes_room() -> None:
    budget = Budget(2)
    old, recent, new = _Holder(1), _Holder(1), _Holder(0)
    for holder in (old, recent, new):
        budget.join(holder)
    budget.admit(old)
    time.sleep(0.01)
    budget.admit(recent)
    assert budget.alive == 2
    old_slot, recent_slot = old.idle[0], recent.idle[0]
    budget.admit(new)  # a third assignment's first worker: the one used longest ago goes
    assert budget.alive == 2 and old.idle == [] and recent.idle == [recent_slot]
    assert _wait_stopped(old_slot) and cast(Any, recent_slot.worker).stopped is False


def test_a_pool_never_gives_up_its_own_worker_nor_waits_when_every_other_is_busy() -> None:
    budget = Budget(1)
    mine, busy = _Holder(1), _Holder(0)  # `busy` has no idle worker
    budget.join(mine)
    budget.join(busy)
    budget.admit(busy)
    budget.admit(mine)  # nothing idle elsewhere: one over the cap for a moment, never blocked
    assert budget.alive == 2 and len(mine.idle) == 1 and cast(Any, mine.idle[0].worker).stopped is False
    budget.release(2)
    assert budget.alive == 0


def test_the_warm_up_spreads_the_workers_over_the_assignments_queued_ones_first() -> None:
    assert warm_plan(["a", "b", "c", "d"], [], 2) == [("a", 1), ("b", 1)]
    assert warm_plan(["a", "b", "c", "d"], ["c", "b", "c"], 5) == [("c", 2), ("b", 1), ("a", 1), ("d", 1)]
    assert warm_plan(["a"], [], 2) == [("a", 2)] and warm_plan([], [], 2) == []


class _Store:
    def forget_stale(self) -> list[int]:
        return []

    def backlog(self) -> list[tuple[int, str, str]]:
        return [(7, "alice", "d")]

    def notebook(self, submission_id: int) -> Any:
        raise AssertionError("not read at start")


class _Pool:
    def __init__(self, name: str, calls: list[tuple[str, int]]) -> None:
        self.name, self.calls = name, calls

    def warm(self, count: int) -> None:
        self.calls.append((self.name, count))

    def close(self) -> None:
        pass


def test_a_service_warms_as_many_workers_as_it_grades_at_once_not_that_many_per_assignment() -> None:
    calls: list[tuple[str, int]] = []
    pools = {name: _Pool(name, calls) for name in "abcd"}
    grading = Grading(cast(Any, _Store()), cast(Any, pools), 2, lambda i: None)
    grading.queue.close()  # the threads' loops end at once; the queued submission stays in the database
    assert grading.start() == 1
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert calls == [("d", 1), ("a", 1)]  # the assignment with a submission waiting first, 2 workers in all
    grading.stop()


SLOW, NEEDS_BWRAP = sandbox_marks("the shared budget's sandboxed workers")


@SLOW
@NEEDS_BWRAP
def test_two_pools_sharing_a_budget_of_one_keep_one_worker_alive() -> None:
    """Grade in pool A, then B, then A: each switch stops the other pool's idle worker, and grades stay right."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    budget = Budget(1)
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        for name in ("a", "b"):
            (Path(tmp) / name).mkdir()
            made.append(Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True,
                             Path(tmp) / name, Path(tmp) / name, budget=budget))
        first, second = made
        try:
            data = json.dumps(notebooks.submission()).encode()
            assert first.grade(Submission("ann", "x", data)).total == 5.0
            worker_a = first._idle[0].worker
            assert worker_a is not None
            assert second.grade(Submission("bob", "x", data)).total == 5.0
            deadline = time.monotonic() + 30
            while worker_a.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert worker_a.process.poll() is not None and first._idle == [] and budget.alive == 1
            worker_b = second._idle[0].worker
            assert worker_b is not None and worker_b.process.poll() is None
            assert first.grade(Submission("cy", "x", data)).total == 5.0 and budget.alive == 1
        finally:
            first.close()
            second.close()
        assert budget.alive == 0


def test_a_stopping_service_stops_every_assignments_workers_at_once() -> None:
    """Each pool's close waits for its sandboxes to exit: the service closes them together, not one after another
    (every close here waits for the others to have begun)."""
    barrier = threading.Barrier(4, timeout=5)
    met: list[bool] = []

    class Closing(_Pool):
        def close(self) -> None:
            barrier.wait()  # raises BrokenBarrierError if the closes ran one after another
            met.append(True)

    pools = {name: Closing(name, []) for name in "abcd"}
    grading = Grading(cast(Any, _Store()), cast(Any, pools), 0, lambda i: None)
    grading.stop()
    assert met == [True] * 4
