"""One grading core for every driver: a pool of warm sandboxed workers and `Pool.grade(submission) -> Result`.

The batch pipeline (a thread per worker), each Dask worker (node.py) and the HTTP service's grading
threads all grade through a Pool: a worker is started on first use and kept warm, a worker that dies
is restarted and the job retried once, a grader bug becomes the internal-error result, and each result
names its sandbox (and, when the pool knows the run's key id, carries the batch's stamps).
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from autograder import plain
from autograder.grading.core import judging, sandbox
from autograder.grading.core.budget import Budget
from autograder.grading.core.model import SANDBOXED, UNSANDBOXED, Result, Submission
from autograder.grading.core.outcome import internal_error, stamped
from autograder.grading.core.starting import Early, Slot, slot_for, start_threads, stop_slot
from autograder.grading.core.student import Runner, grade_submission
from autograder.grading.inbox.notebook import Malformed, Notebook, parse
from autograder.grading.runner.wire import Job, Limits, Reply, RunCell


class Grader(Protocol):
    """What drivers need of a pool: `Pool` here, `remote.ClusterPool` on a Dask cluster (serve --scheduler)."""

    assignment: Any
    key_id: str | None
    stop: threading.Event

    @property
    def sandbox_name(self) -> str:
        """How results name the sandbox."""

    def grade(self, sub: Submission) -> Result:
        """One submission's result."""

    def warm(self, count: int) -> None:
        """Get ready for `count` submissions at once."""

    def warm_count(self) -> int:
        """How many workers are ready."""

    def close(self) -> None:
        """Stop grading and release the workers."""


class Cancelled(BaseException):
    """The pool is stopping: the submission in hand gets no result (BaseException: `except Exception` misses it)."""


def load_source(path: Path, assignment: Any = None) -> Notebook:
    """The instructor's parsed source notebook (of `assignment`, when given: a test cell for each of its questions);
    ValueError naming the file when it is missing, unreadable or another assignment's."""
    if path.is_dir():
        raise ValueError(f"source notebook {path}: a folder, not a notebook (give the .ipynb with --source)")
    if not path.is_file():
        raise ValueError(f"source notebook {path} not found (give it with --source)")
    try:
        source = parse(path.read_bytes())
    except Malformed as exc:
        raise ValueError(f"source notebook {path}: {exc}") from None
    cells = {cell.grade_id for cell in source.cells if cell.role == "test"}
    lacking = [q.grade_id for q in assignment.questions if q.grade_id not in cells] if assignment is not None else []
    if lacking:
        raise ValueError(f"source notebook {path}: no test cell for {len(lacking)} question(s) of assignment "
                         f"{assignment.id!r} ({', '.join(lacking[:4])}{', ...' if len(lacking) > 4 else ''}): "
                         "is it another assignment's source?")
    return source


def sandboxed(mode: str) -> bool:
    """Whether workers run in bubblewrap for --sandbox `mode` (auto, bwrap, none); ValueError if bwrap is unusable."""
    usable = mode != "none" and sandbox.bwrap_usable()
    if mode == "bwrap" and not usable:
        raise ValueError("--sandbox bwrap: bubblewrap is not usable on this machine")
    return usable


class Pool:
    """Warm sandboxed workers for one assignment; `grade` takes an idle one (or starts one) per submission.

    There are never more workers than submissions graded at once. Thread-safe: call `grade` from as many
    threads as workers are wanted. `close` (or setting `stop`) cancels what is in hand and stops them all.
    """

    def __init__(self, checks: str, assignment: Any, source: Notebook, seed: int, limits: Limits, sandboxed: bool,
                 tmp: Path, logs: Path, key_id: str | None = None, stop: threading.Event | None = None,
                 early: Early | None = None, budget: Budget | None = None) -> None:
        """`tmp` holds the exchange folders (hidden inputs: the caller removes it), `logs` the workers' stderr;
        `early`: workers already starting for this pool (same checks, tmp and logs), adopted as its first slots;
        `budget`: a cap on the workers alive shared with other pools (the service's)."""
        self.checks, self.assignment, self.source, self.seed, self.limits = checks, assignment, source, seed, limits
        self.sandboxed, self.tmp, self.logs, self.key_id = sandboxed, tmp, logs, key_id
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        adopted: Sequence[Slot] = early.slots if early is not None else ()
        self._idle: list[Slot] = list(reversed(adopted))  # slot 0 first
        self._started = max((slot.index + 1 for slot in adopted), default=0)  # new slots get folders of their own
        self._closed = False
        self._starter = early.starter if early is not None else start_threads()  # see starting.start_threads
        #: Set once a start of one of this pool's workers has ended (a batch starts its further workers only then: their
        #: start would slow down the first one's, and with it the first result; see pipeline._work).
        self.started = threading.Event()
        if early is not None:
            early.slots, early.adopted = [], True
        self.budget = budget
        self.last_used = 0.0  # time.monotonic() of the last checkout (the budget stops the least recent's first)
        if budget is not None:
            budget.join(self, len(adopted))

    @property
    def sandbox_name(self) -> str:
        """How results name this pool's sandbox."""
        return SANDBOXED if self.sandboxed else UNSANDBOXED

    def grade(self, sub: Submission) -> Result:
        """The result of one submission (stamped when the pool has a key id); Cancelled once the pool is stopping.

        Its `seconds` are the submission's own; the time it waited for a worker to start is its `startup`."""
        slot = self._checkout()
        waited = [0.0]
        try:
            result = grade_submission(sub, self.assignment, self.source, self.seed, self._runner(slot, waited),
                                      slot.exchange, self.limits)
        except sandbox.StartFailed:
            raise  # not this student's: the caller stops grading (or waits) instead of recording an error
        except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the student
            result = internal_error(sub, self.assignment, f"{type(exc).__name__}: {exc}")
        finally:
            self._checkin(slot)
        if self.stop.is_set():
            raise Cancelled
        result = dataclasses.replace(result, sandbox=result.sandbox or self.sandbox_name,
                                     seconds=round(max(0.0, result.seconds - waited[0]), 3),
                                     startup=round(waited[0], 3))
        return stamped(result, sub, self.key_id, self.sandbox_name) if self.key_id is not None else result

    def warm(self, count: int) -> None:
        """Start `count` workers now and run one empty job on each (a worker's first job pays one-off costs), so a
        service's first submissions find them warm; a failure here waits for `grade`, which records it. A start
        under way when the pool closes (a service that could not listen, say) is given up.

        Drawing one set of hidden inputs here also imports what judging needs (torch) into this process."""
        judging.draw_cases(self.assignment, self.seed)
        slots = [self._checkout() for _ in range(count)]
        try:
            for slot in slots:
                if self.stop.is_set():
                    break
                if slot.worker is None:
                    slot.worker = self._start(slot, self.stop.is_set)
                job_dir = slot.exchange / f"warm-{secrets.token_hex(4)}"
                job_dir.mkdir()
                plain.dump({}, job_dir / "cases")
                slot.worker.request(Job(job_dir.name, (RunCell("warm-up", "pass", False),), (), self.limits),
                                    self.limits.timeout + 60)
                shutil.rmtree(job_dir, ignore_errors=True)
        except (sandbox.WorkerDied, OSError):  # OSError: its folders went with a pool that closed meanwhile
            pass
        finally:
            for slot in slots:
                self._checkin(slot)

    def prestart(self, cancel: threading.Event) -> None:
        """Start one more worker now, ahead of work: `grade` finds it idle, so no submission waits for its start.
        Given up (the worker killed) once `cancel` or `stop` is set meanwhile; a failed start is left to `grade`,
        which starts it again and records what happened."""
        with self._lock:
            index, self._started = self._started, self._started + 1
        if self.budget is not None:
            self.budget.admit(self)
        slot = slot_for(index, self.tmp, self.logs)
        try:
            slot.worker = self._start(slot, lambda: cancel.is_set() or self.stop.is_set())
        except sandbox.WorkerDied:
            pass
        self._checkin(slot)

    def warm_count(self) -> int:
        """How many idle workers are started and waiting (the service's /healthz shows it)."""
        with self._lock:
            return sum(slot.worker is not None for slot in self._idle)

    def close(self) -> None:
        """Cancel what is in hand and stop every worker (a worker busy now is stopped when its job returns)."""
        self.stop.set()
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        if self.budget is not None:
            self.budget.release(len(idle))
        stopping = [threading.Thread(target=stop_slot, args=(slot,), name=f"grading-stop-{slot.index}")
                    for slot in idle]
        for thread in stopping:  # each waits for its sandbox to exit: all at once
            thread.start()
        for thread in stopping:
            thread.join()
        self._starter.shutdown(wait=False, cancel_futures=True)

    def detach(self) -> Early:
        """Stop grading as `close` does, but hand back the idle workers that are running, with the threads that
        started them, for a next pool of the same checks and assignment to adopt (Pool(early=...)): the caller
        owns them now (Early.abandon stops them). A worker busy now is stopped when its job returns."""
        self.stop.set()
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        if self.budget is not None:  # handed over, or stopped below: this budget's no longer
            self.budget.release(len(idle))
        alive = [slot for slot in idle
                 if slot.starting is None and slot.worker is not None and slot.worker.process.poll() is None]
        for slot in idle:
            if slot not in alive:
                stop_slot(slot)
        return Early(self.checks, self.assignment.id, self.sandboxed, self.tmp, self.logs, self._starter, alive)

    def _start(self, slot: Slot, cancel: Callable[[], bool] | None = None) -> sandbox.Worker:
        """The slot's worker: the one already starting (Early), else one started from the pool's own starter threads
        (see starting.start_threads; given up once `cancel()` says so); WorkerDied if it fails."""
        try:
            if slot.starting is not None:
                starting, slot.starting = slot.starting, None
                return starting.result()
            try:
                future = self._starter.submit(sandbox.start_worker, slot.index, self.checks, self.assignment.id,
                                              slot.exchange, self.sandboxed, slot.log, cancel=cancel)
            except RuntimeError:  # the pool closed meanwhile
                raise sandbox.WorkerDied("the grading pool is closing") from None
            return future.result()
        except OSError as exc:  # its cgroups, uid pool or process could not be made: it did not start
            raise sandbox.WorkerDied(f"worker {slot.index} could not be started ({exc})") from None
        finally:
            self.started.set()

    def give_up_idle(self) -> Slot | None:
        """Remove and return the idle slot used least recently (the budget stops it), or None when none is idle."""
        with self._lock:
            return None if self._closed or not self._idle else self._idle.pop(0)

    def _checkout(self) -> Slot:
        """An idle slot, or a new one (admitted by the budget, which may stop another pool's idle worker)."""
        with self._lock:
            self.last_used = time.monotonic()
            if self._idle:
                return self._idle.pop()
            index, self._started = self._started, self._started + 1
        if self.budget is not None:
            self.budget.admit(self)
        return slot_for(index, self.tmp, self.logs)

    def _checkin(self, slot: Slot) -> None:
        """Back to the idle list, or stopped when the pool closed meanwhile."""
        with self._lock:
            if not self._closed:
                self._idle.append(slot)
                return
        stop_slot(slot)
        if self.budget is not None:
            self.budget.release()

    def _runner(self, slot: Slot, waited: list[float]) -> Runner:
        """student.Runner for one slot: one job to its worker; restart it and retry once if it died. Seconds spent
        waiting for a worker to start are added to `waited[0]` (not the submission's own time)."""
        def run(job: Job) -> Reply:
            wait = self.limits.timeout * (2 * len(job.questions) + 1) + 60
            for attempt in (1, 2):
                if self.stop.is_set():
                    raise Cancelled
                starting = slot.worker is None
                try:
                    if starting:
                        begun = time.perf_counter()
                        try:
                            slot.worker = self._start(slot)
                        finally:
                            waited[0] += time.perf_counter() - begun
                    assert slot.worker is not None
                    return slot.worker.request(job, wait)
                except sandbox.WorkerDied as exc:
                    stop_slot(slot)
                    if self.stop.is_set():  # killed by the shutdown, not by the student: nothing to record
                        raise Cancelled from None
                    if attempt == 2 and starting:  # the sandbox itself does not start: no submission can be graded
                        raise sandbox.StartFailed(f"{exc} (twice; see {slot.log})") from None
                    if attempt == 2:
                        return Reply.failed(job.job, f"{exc} (twice)")
            raise AssertionError("unreachable")
        return run
