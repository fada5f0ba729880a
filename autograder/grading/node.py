"""What runs on a Dask worker: warm sandboxed grading workers for one batch, and the task grading one student.

The instructor's process registers one `GradingNode` plugin per batch (plain data only: where the checks
live, the source notebook's bytes, the run seed, the limits, the sandbox mode); every Dask worker gets
it, one that joins or restarts mid-batch included. `grade_remote` takes one submission as plain data,
grades it exactly as the local pipeline does (sandbox.start_worker + student.grade_submission, judging
in this trusted process) and returns plain, JSON-able data. Nothing is written outside this node's own
temporary folder, and a task can run twice (after a worker died) with the same outcome.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin, get_worker

from autograder.grading import sandbox
from autograder.grading.assignments import import_root, load_assignment
from autograder.grading.model import SANDBOXED, UNSANDBOXED, Job, Limits, Reply, Submission
from autograder.grading.notebook import parse
from autograder.grading.student import Runner, grade_submission


def _tree_hash(root: Path) -> str:
    """SHA-256 over the relative paths and bytes of every .py file under `root` (or of `root` itself)."""
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def environment(checks: str) -> dict[str, str]:
    """What must match between the instructor's machine and every worker for grades to be identical."""
    import torch

    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "torch": str(torch.__version__),
            "autograder source": _tree_hash(import_root("autograder.grading.node:environment")[1]),
            "checks source": _tree_hash(import_root(checks)[1])}


def probe(checks: str, assignment_id: str) -> dict[str, Any]:
    """Run on each worker before a batch: its environment, whether bubblewrap works, the assignment loads."""
    try:
        load_assignment(checks, assignment_id)
    except ValueError as exc:
        return {"error": str(exc)}
    return {"environment": environment(checks), "bwrap": sandbox.bwrap_usable()}


@dataclass
class _Slot:
    """One warm sandboxed grading worker (started on first use) and its exchange folder."""

    index: int
    exchange: Path
    log: Path
    worker: sandbox.Worker | None = None


@dataclass
class _State:
    """Per-Dask-worker state of a batch, built lazily on the first task."""

    assignment: Any
    source: Any
    sandboxed: bool
    environment: dict[str, str]
    tmp: Path
    idle: list[_Slot] = field(default_factory=list)
    started: int = 0


class GradingNode(WorkerPlugin):
    """Hosts the sandboxed grading workers of one batch on one Dask worker; stops them on teardown."""

    def __init__(self, batch: dict[str, Any]) -> None:
        """`batch`: checks, assignment_id, source (bytes), seed, limits (dict), sandbox, environment, probed."""
        self.batch = batch
        self.address, self.scratch = "", tempfile.gettempdir()
        self.lock, self.one_at_a_time = threading.Lock(), threading.Lock()
        self.state: _State | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Only the plain batch description travels (a lock cannot be pickled)."""
        return {"batch": self.batch}

    def __setstate__(self, data: dict[str, Any]) -> None:
        """Rebuilt on the worker: no state until the first task."""
        self.batch, self.address, self.lock, self.state = data["batch"], "", threading.Lock(), None
        # One submission at a time per worker process, whatever its --nthreads: the trusted side parses
        # notebooks with `ast`, which is not thread-safe in Python 3.11 (python/cpython#106905).
        self.one_at_a_time = threading.Lock()
        self.scratch = tempfile.gettempdir()

    def setup(self, worker: Any) -> None:
        """Remember which worker this is (the report names it) and its scratch folder; start nothing yet."""
        self.address = str(worker.address)
        # Inside the worker's own scratch space: Dask removes it when the worker closes, and a worker
        # killed outright has its folder (hidden inputs of the job in hand included) purged by the
        # next worker that starts on the node.
        self.scratch = str(getattr(worker, "local_directory", "") or tempfile.gettempdir())

    def teardown(self, worker: Any) -> None:
        """Stop every grading worker and wipe the node's temporary folder."""
        with self.lock:
            state, self.state = self.state, None
        if state is not None:
            for slot in state.idle:
                if slot.worker is not None:
                    slot.worker.stop()
            shutil.rmtree(state.tmp, ignore_errors=True)

    def _ready(self) -> _State:
        """The batch state, built on first use (assignment, parsed source, sandbox decision)."""
        with self.lock:
            if self.state is None:
                batch = self.batch
                usable = batch["sandbox"] != "none" and sandbox.bwrap_usable()
                if batch["sandbox"] == "bwrap" and not usable:
                    raise RuntimeError("--sandbox bwrap: bubblewrap is not usable on this worker")
                self.state = _State(load_assignment(batch["checks"], batch["assignment_id"]),
                                    parse(batch["source"]), usable, environment(batch["checks"]),
                                    Path(tempfile.mkdtemp(prefix="grading-node-", dir=self.scratch)))
            return self.state

    def _checkout(self, state: _State) -> _Slot:
        """An idle slot, or a new one (there are never more slots than tasks running at once)."""
        with self.lock:
            if state.idle:
                return state.idle.pop()
            index, state.started = state.started, state.started + 1
        return _Slot(index, state.tmp / f"exchange-{index}", state.tmp / f"worker-{index}.log")

    def _runner(self, slot: _Slot, state: _State, limits: Limits) -> Runner:
        """student.Runner for one slot: one job to its worker; restart once if it died (as pipeline._work)."""
        def run(job: Job) -> Reply:
            wait = limits.timeout * (len(job.questions) + 1) + 60
            for attempt in (1, 2):
                if self.state is not state:  # the batch ended (Ctrl-C, say): start nothing more
                    return Reply.failed(job.job, "the batch was stopped")
                try:
                    if slot.worker is None:
                        slot.worker = sandbox.start_worker(slot.index, self.batch["checks"],
                                                           self.batch["assignment_id"], slot.exchange,
                                                           state.sandboxed, slot.log)
                    return slot.worker.request(job, wait)
                except sandbox.WorkerDied as exc:
                    if slot.worker is not None:
                        slot.worker.stop()
                    slot.worker = None
                    if attempt == 2:
                        return Reply.failed(job.job, f"{exc} (twice)")
            raise AssertionError("unreachable")
        return run

    def grade(self, sub: dict[str, Any]) -> dict[str, Any]:
        """One student's result as plain data, or {'refused': why} when this worker's environment differs."""
        state = self._ready()
        if self.address not in self.batch["probed"] and state.environment != self.batch["environment"]:
            differs = [k for k in state.environment if state.environment[k] != self.batch["environment"].get(k)]
            return {"refused": f"worker {self.address} differs from the instructor's machine in {', '.join(differs)}"}
        with self.one_at_a_time:
            return self._grade(state, sub)

    def _grade(self, state: _State, sub: dict[str, Any]) -> dict[str, Any]:
        """grade() for one submission at a time."""
        limits = Limits(**self.batch["limits"])
        submission = Submission.from_plain(sub)
        slot = self._checkout(state)
        try:
            result = grade_submission(submission, state.assignment, state.source, self.batch["seed"],
                                      self._runner(slot, state, limits), slot.exchange, limits)
        except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the student (as pipeline._work)
            return {"internal_error": f"{type(exc).__name__}: {exc}", "worker": self.address}
        finally:
            with self.lock:
                torn_down = self.state is not state
                if not torn_down:
                    state.idle.append(slot)
            if torn_down:  # the plugin was removed while this task ran: leave nothing behind
                if slot.worker is not None:
                    slot.worker.stop()
                shutil.rmtree(state.tmp, ignore_errors=True)
        return dataclasses.replace(result, worker=self.address,
                                   sandbox=SANDBOXED if state.sandboxed else UNSANDBOXED).to_json()


def grade_remote(plugin: str, sub: dict[str, Any]) -> dict[str, Any]:
    """The Dask task: grade one submission (plain dict in, plain dict out) with this worker's GradingNode."""
    node = get_worker().plugins.get(plugin)
    if not isinstance(node, GradingNode):
        raise RuntimeError(f"this Dask worker has no grading plugin {plugin!r} (was it registered?)")
    return node.grade(sub)
