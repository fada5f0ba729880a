"""What runs on a Dask worker: warm sandboxed grading workers for one batch, and the task grading one student.

The instructor's process registers one `GradingNode` plugin per batch (plain data only: where the checks
live, the source notebook's bytes, the run seed, the limits, the sandbox mode); every Dask worker gets
it, one that joins or restarts mid-batch included. `grade_remote` takes one submission as plain data,
grades it with the same core as the local pipeline (a `pool.Pool` of warm sandboxed workers, judging
in this trusted process) and returns plain, JSON-able data. Nothing is written outside this node's own
temporary folder, and a task can run twice (after a worker died) with the same outcome.

A sandboxed worker takes ~1.5 s to start (it imports torch), as long as grading ten submissions: when a batch
ends its idle workers stay warm for the next batch of the same checks, assignment, sandbox mode and course
environment (the latest batch's only; `_WARM`), as they stay warm between the submissions of one batch. They
hold no student's data (each submission runs in a child of the worker's clean template) and no hidden inputs
(each job's folder is removed when it is judged); they are stopped when another batch's are kept, and when
this Dask worker's process exits.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin, get_worker

from autograder import simd
from autograder.grading.core import sandbox, tmpdir
from autograder.grading.core.model import Submission
from autograder.grading.core.pool import Cancelled, Pool
from autograder.grading.core.starting import Early
from autograder.grading.inbox.notebook import parse
from autograder.grading.runner.assignments import import_root, load_assignment
from autograder.grading.runner.wire import Limits


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
            "autograder source": _tree_hash(import_root("autograder.grading.drivers.cluster.node:environment")[1]),
            "checks source": _tree_hash(import_root(checks)[1])}


def probe(checks: str, assignment_id: str) -> dict[str, Any]:
    """Run on each worker before a batch: its environment, whether bubblewrap works, the assignment loads."""
    try:
        load_assignment(checks, assignment_id)
    except ValueError as exc:
        return {"error": str(exc)}
    problem = simd.forced_problem()  # this worker's own environment: torch there would die of SIGILL mid-batch
    if problem:
        return {"error": problem}
    return {"environment": environment(checks), "bwrap": sandbox.bwrap_usable()}


@dataclass
class _State:
    """Per-Dask-worker state of a batch, built lazily on the first task: the core's pool and its folder."""

    pool: Pool
    environment: dict[str, str]
    tmp: Path
    #: What the pool's sandboxed workers were started for (the key of _WARM).
    warm_key: tuple[str, ...] = ()


#: Idle sandboxed workers kept from the latest batch on this Dask worker, by what they were started for (checks,
#: assignment, sandbox, environment), with their folder and the threads that started them (see the module's doc).
_WARM: dict[tuple[str, ...], Early] = {}
_WARM_LOCK = threading.Lock()


def _keep_warm(key: tuple[str, ...], early: Early) -> None:
    """Keep `early`'s workers for the next batch of `key`, stopping any others kept (and `early`'s folder if it has
    no worker to keep)."""
    with _WARM_LOCK:
        older = list(_WARM.values())
        _WARM.clear()
        if early.slots:
            _WARM[key] = early
    for stale in older + ([] if early.slots else [early]):
        stale.abandon()  # stops its workers, removes its folder


def _take_warm(key: tuple[str, ...]) -> Early | None:
    """The workers kept for `key`, now the caller's, or None."""
    with _WARM_LOCK:
        return _WARM.pop(key, None)


def _is_warm(tmp: Path) -> bool:
    """Whether `tmp` is the folder of workers kept warm (then it is not removed with its batch)."""
    with _WARM_LOCK:
        return any(early.tmp == tmp for early in _WARM.values())


@atexit.register
def _stop_warm() -> None:
    """Stop the workers kept warm when this Dask worker's process exits."""
    with _WARM_LOCK:
        kept = list(_WARM.values())
        _WARM.clear()
    for early in kept:
        early.abandon()


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
        """End the batch: its idle sandboxed workers stay warm for the next batch of the same kind (_keep_warm), any
        others are stopped, and the node's temporary folder goes with them."""
        with self.lock:
            state, self.state = self.state, None
        if state is not None:
            _keep_warm(state.warm_key, state.pool.detach())

    def _ready(self) -> _State:
        """The batch state, built on first use (assignment, parsed source, sandbox decision, the pool)."""
        with self.lock:
            if self.state is None:
                batch = self.batch
                usable = batch["sandbox"] != "none" and sandbox.bwrap_usable()
                if batch["sandbox"] != "none" and not usable:  # a worker that joined after the probe (batch._problem)
                    raise RuntimeError(f"--sandbox {batch['sandbox']}: bubblewrap is not usable on this worker, and "
                                       f"on a cluster only --sandbox none grades without it")
                here = environment(batch["checks"])
                key = (batch["checks"], batch["assignment_id"], str(usable), json.dumps(here, sort_keys=True))
                early = _take_warm(key)  # the previous batch's workers, already warm
                tmp = early.tmp if early is not None else tmpdir.make("grading-node-", Path(self.scratch))
                pool = Pool(batch["checks"], load_assignment(batch["checks"], batch["assignment_id"]),
                            parse(batch["source"]), batch["seed"], Limits(**batch["limits"]), usable, tmp, tmp,
                            early=early)
                self.state = _State(pool, here, tmp, key)
            return self.state

    def grade(self, sub: dict[str, Any]) -> dict[str, Any]:
        """One student's result as plain data, or {'refused': why} when this worker's environment differs."""
        state = self._ready()
        if self.address not in self.batch["probed"] and state.environment != self.batch["environment"]:
            differs = [k for k in state.environment if state.environment[k] != self.batch["environment"].get(k)]
            return {"refused": f"worker {self.address} differs from the instructor's machine in {', '.join(differs)}"}
        with self.one_at_a_time:
            try:
                result = state.pool.grade(Submission.from_plain(sub))
            except Cancelled:  # the plugin was removed while this task ran (Ctrl-C, say)
                return {"internal_error": "the batch was stopped", "worker": self.address}
            except sandbox.StartFailed as exc:  # this machine cannot grade anyone: not the student's result
                return {"refused": f"worker {self.address}: its grading sandbox does not start ({exc})"}
            finally:
                if self.state is not state and not _is_warm(state.tmp):  # torn down meanwhile: leave nothing behind
                    tmpdir.remove(state.tmp)
        return dataclasses.replace(result, worker=self.address).to_json()


def grade_remote(plugin: str, sub: dict[str, Any]) -> dict[str, Any]:
    """The Dask task: grade one submission (plain dict in, plain dict out) with this worker's GradingNode."""
    node = get_worker().plugins.get(plugin)
    if not isinstance(node, GradingNode):
        raise RuntimeError(f"this Dask worker has no grading plugin {plugin!r} (was it registered?)")
    return node.grade(sub)
