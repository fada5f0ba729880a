"""One grading core for every driver: a pool of warm sandboxed workers and `Pool.grade(submission) -> Result`.

The batch pipeline (a thread per worker), each Dask worker (node.py) and the HTTP service's grading
threads all grade through a Pool: a worker is started on first use and kept warm, a worker that dies
is restarted and the job retried once, a grader bug becomes the internal-error result, and each result
names its sandbox (and, when the pool knows the run's key id, carries the batch's stamps).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.grading import sandbox
from autograder.grading.model import SANDBOXED, UNSANDBOXED, Job, Limits, Reply, Result, Submission
from autograder.grading.notebook import Malformed, Notebook, parse
from autograder.grading.outcome import internal_error, stamped
from autograder.grading.student import Runner, grade_submission


class Cancelled(BaseException):
    """The pool is stopping: the submission in hand gets no result (BaseException: `except Exception` misses it)."""


def load_source(path: Path) -> Notebook:
    """The instructor's parsed source notebook; ValueError naming the file when it is missing or unreadable."""
    if not path.is_file():
        raise ValueError(f"source notebook {path} not found (give it with --source)")
    try:
        return parse(path.read_bytes())
    except Malformed as exc:
        raise ValueError(f"source notebook {path}: {exc}") from None


def sandboxed(mode: str) -> bool:
    """Whether workers run in bubblewrap for --sandbox `mode` (auto, bwrap, none); ValueError if bwrap is unusable."""
    usable = mode != "none" and sandbox.bwrap_usable()
    if mode == "bwrap" and not usable:
        raise ValueError("--sandbox bwrap: bubblewrap is not usable on this machine")
    return usable


@dataclass
class _Slot:
    """One warm sandboxed worker (started on first use), its exchange folder and its log."""

    index: int
    exchange: Path
    log: Path
    worker: sandbox.Worker | None = None


class Pool:
    """Warm sandboxed workers for one assignment; `grade` takes an idle one (or starts one) per submission.

    There are never more workers than submissions graded at once. Thread-safe: call `grade` from as many
    threads as workers are wanted. `close` (or setting `stop`) cancels what is in hand and stops them all.
    """

    def __init__(self, checks: str, assignment: Any, source: Notebook, seed: int, limits: Limits, sandboxed: bool,
                 tmp: Path, logs: Path, key_id: str | None = None, stop: threading.Event | None = None) -> None:
        """`tmp` holds the exchange folders (hidden inputs: the caller removes it), `logs` the workers' stderr."""
        self.checks, self.assignment, self.source, self.seed, self.limits = checks, assignment, source, seed, limits
        self.sandboxed, self.tmp, self.logs, self.key_id = sandboxed, tmp, logs, key_id
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._idle: list[_Slot] = []
        self._started = 0
        self._closed = False

    @property
    def sandbox_name(self) -> str:
        """How results name this pool's sandbox."""
        return SANDBOXED if self.sandboxed else UNSANDBOXED

    def grade(self, sub: Submission) -> Result:
        """The result of one submission (stamped when the pool has a key id); Cancelled once the pool is stopping."""
        slot = self._checkout()
        try:
            result = grade_submission(sub, self.assignment, self.source, self.seed, self._runner(slot),
                                      slot.exchange, self.limits)
        except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the student
            result = internal_error(sub, self.assignment, f"{type(exc).__name__}: {exc}")
        finally:
            self._checkin(slot)
        if self.stop.is_set():
            raise Cancelled
        result = dataclasses.replace(result, sandbox=result.sandbox or self.sandbox_name)
        return stamped(result, sub, self.key_id, self.sandbox_name) if self.key_id is not None else result

    def warm(self, count: int) -> None:
        """Start `count` workers now (a service's first submissions then find them warm); failures wait for use."""
        slots = [self._checkout() for _ in range(count)]
        try:
            for slot in slots:
                if slot.worker is None and not self.stop.is_set():
                    slot.worker = sandbox.start_worker(slot.index, self.checks, self.assignment.id, slot.exchange,
                                                       self.sandboxed, slot.log)
        except sandbox.WorkerDied:
            pass  # grade() starts it again and records the failure if it persists
        finally:
            for slot in slots:
                self._checkin(slot)

    def close(self) -> None:
        """Cancel what is in hand and stop every worker (a worker busy now is stopped when its job returns)."""
        self.stop.set()
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for slot in idle:
            _stop(slot)

    def _checkout(self) -> _Slot:
        """An idle slot, or a new one."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            index, self._started = self._started, self._started + 1
        return _Slot(index, self.tmp / f"exchange-{index}", self.logs / f"worker-{index}.log")

    def _checkin(self, slot: _Slot) -> None:
        """Back to the idle list, or stopped when the pool closed meanwhile."""
        with self._lock:
            if not self._closed:
                self._idle.append(slot)
                return
        _stop(slot)

    def _runner(self, slot: _Slot) -> Runner:
        """student.Runner for one slot: one job to its worker; restart it and retry once if it died."""
        def run(job: Job) -> Reply:
            wait = self.limits.timeout * (len(job.questions) + 1) + 60
            for attempt in (1, 2):
                if self.stop.is_set():
                    raise Cancelled
                try:
                    if slot.worker is None:
                        slot.worker = sandbox.start_worker(slot.index, self.checks, self.assignment.id,
                                                           slot.exchange, self.sandboxed, slot.log)
                    return slot.worker.request(job, wait)
                except sandbox.WorkerDied as exc:
                    _stop(slot)
                    if self.stop.is_set():  # killed by the shutdown, not by the student: nothing to record
                        raise Cancelled from None
                    if attempt == 2:
                        return Reply.failed(job.job, f"{exc} (twice)")
            raise AssertionError("unreachable")
        return run


def _stop(slot: _Slot) -> None:
    """Stop the slot's worker, if it has one."""
    if slot.worker is not None:
        slot.worker.stop()
    slot.worker = None
