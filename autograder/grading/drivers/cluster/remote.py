"""The core Pool's interface on a Dask cluster, for `serve --scheduler`: each submission is one Dask task.

The same GradingNode plugin as a `grade --scheduler` batch grades it on a worker (its own warm sandboxes,
judging there); the reply is checked field by field and stamped here exactly as the batch does
(cluster._outcome), so the service stores the result a local pool or a batch would have given.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from autograder.grading.core.model import Result, RunContext, Submission
from autograder.grading.core.pool import Cancelled
from autograder.grading.drivers.cluster import batch as cluster
from autograder.grading.drivers.cluster import node
from autograder.grading.inbox.collect import loaded
from autograder.grading.runner.wire import Limits


class ClusterPool:
    """Grades one assignment's submissions on the Dask cluster `client` is connected to."""

    def __init__(self, client: Any, checks: str, assignment: Any, source: bytes, seed: int, limits: Limits,
                 mode: str, key_id: str, stream: TextIO | None = None) -> None:
        """Probe the workers (ClusterError naming one that cannot grade) and register the batch's plugin."""
        bwrap = cluster.check_workers(client, checks, assignment.id, mode)
        self.client, self.assignment, self.limits = client, assignment, limits
        self.key_id: str | None = key_id
        self.sandbox_name = cluster._sandbox_name(bwrap, mode, stream or sys.stderr)  # stderr as it is now
        self.plugin = cluster.register(client, checks, assignment.id, source, seed, mode, limits, sorted(bwrap))
        self.stop = threading.Event()
        self._ctx = RunContext(assignment, None, seed, key_id, True, self.sandbox_name, Path(), self.stop)

    def grade(self, sub: Submission) -> Result:
        """One submission graded on a Dask worker, checked and stamped; ClusterError if the cluster is unusable."""
        if self.stop.is_set():
            raise Cancelled
        future = self.client.submit(node.grade_remote, self.plugin, loaded(sub).to_plain(), pure=False)
        # a worker that dies mid-task has its task moved by Dask; only a cluster gone for long ends this
        longest = self.limits.timeout * (len(self.assignment.questions) + 2) + cluster.NO_WORKERS_GRACE
        try:
            future.result(timeout=longest)
        except TimeoutError:
            future.cancel()
            raise cluster.ClusterError("the Dask cluster did not grade a submission in time") from None
        except Exception:  # noqa: BLE001 - the task failed: _outcome reads why from the future
            pass
        try:
            return cluster._outcome(future, sub, self._ctx, self.limits)
        finally:
            future.release()

    def warm(self, count: int) -> None:
        """Nothing to do here: each Dask worker starts its sandboxes on its first task."""

    def warm_count(self) -> int:
        """How many Dask workers the cluster has now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        """Stop taking submissions and remove the plugin from the workers (they stop their sandboxes)."""
        self.stop.set()
        try:
            self.client.unregister_worker_plugin(self.plugin)
        except Exception:  # noqa: BLE001 - the cluster may be gone; its workers clean up on exit
            pass
