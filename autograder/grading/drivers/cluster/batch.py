"""Grade a batch on an existing Dask cluster (`--scheduler`): connect, check every worker, stream results back.

The instructor's process keeps all it does locally (collecting, choosing who is graded, the seed,
writing every output) and sends each submission as plain data to `node.grade_remote`, which grades
it in the worker's own sandboxes. Results come back as they finish, are checked field by field here
(`accept`) and go through the pipeline's own `save`, so --resume and the report behave as locally.
Every way the cluster can be unusable (unreachable, no workers, a worker with another environment)
is a ClusterError: one line, exit 2, after a bounded wait.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from autograder.grading.core import model, sandbox
from autograder.grading.core.judging import one_line
from autograder.grading.core.model import Result, RunContext
from autograder.grading.core.outcome import internal_error, stamped
from autograder.grading.drivers.cluster import node
from autograder.grading.drivers.cluster.replies import BadResult, accept
from autograder.grading.inbox.collect import Submission, loaded
from autograder.grading.runner.wire import Limits

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler
WORKER_WAIT = 15.0  # seconds to wait for a first worker to join
PROBE_TIMEOUT = 180.0  # every worker imports torch and tries bubblewrap once
NO_WORKERS_GRACE = 120.0  # mid-batch, a cluster without any worker this long ends the batch
T = TypeVar("T")


class ClusterError(ValueError):
    """The cluster cannot grade this batch; the message is the one line the CLI prints (exit 2)."""


def _check_reachable(address: str) -> None:
    """Fail fast (refused, unknown host) or after CONNECT_TIMEOUT when nothing answers on HOST:PORT."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls"):
        return  # other transports (inproc, ucx) are Dask's to check
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--scheduler {address!r}: expected tcp://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {why} "
                           "(is `dask scheduler` running there?)") from None


def _within(seconds: float, what: str, call: Callable[[], T]) -> T:
    """call() in a helper thread; ClusterError naming `what` if it takes longer than `seconds`."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ClusterError(f"{what} did not finish within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def connect(address: str) -> Any:
    """A distributed.Client on `address` with at least one worker; ClusterError otherwise."""
    _check_reachable(address)
    from distributed import Client

    try:
        client = _within(CONNECT_TIMEOUT + 5, f"connecting to the Dask scheduler at {address}",
                         lambda: Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False))
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot connect to the Dask scheduler at {address}: {one_line(str(exc), 200)}") from None
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {address} has no workers after {WORKER_WAIT:.0f} s "
                           f"(start some with `dask worker {address} --nthreads 1`)") from None
    return client


def _problem(address: str, answer: Any, local: dict[str, str], mode: str) -> str:
    """Why one worker cannot grade this batch ('' when it can)."""
    if isinstance(answer, BaseException):
        return (f"worker {address} cannot run the course's grader ({type(answer).__name__}: "
                f"{one_line(str(answer), 120)}); install the course environment there")
    if not isinstance(answer, dict):
        return f"worker {address} answered the environment probe with a {type(answer).__name__}"
    if answer.get("error"):
        return f"worker {address}: {one_line(str(answer['error']), 160)}"
    theirs = answer.get("environment") or {}
    for key, ours in local.items():
        if theirs.get(key) != ours:
            return f"worker {address} has {key} {theirs.get(key)}, this machine {ours}: install the same course there"
    if mode == "bwrap" and not answer.get("bwrap"):
        return f"worker {address} cannot run bubblewrap, which --sandbox bwrap requires (apt-get install bubblewrap)"
    if mode == "auto" and not answer.get("bwrap"):
        # unlike one machine, a cluster falls back to no sandbox only when told to: student code there shares the
        # Dask worker's network, and the scheduler (no authentication by default) runs code on every worker, so one
        # submission could change every student's grade
        return (f"worker {address} cannot run bubblewrap: on a cluster student code without a sandbox can reach the "
                f"scheduler and every worker; install bubblewrap there (apt-get install bubblewrap), or pass "
                f"--sandbox none to grade without one")
    return ""


def check_workers(client: Any, checks: str, assignment_id: str, mode: str) -> dict[str, bool]:
    """worker address -> bubblewrap usable there; ClusterError naming the first worker that cannot grade."""
    for _ in range(3):  # probe again if this machine's files changed while the workers were probed
        local = node.environment(checks)
        answers = _within(PROBE_TIMEOUT, "the environment probe of the Dask workers",
                          lambda: client.run(node.probe, checks, assignment_id, on_error="return"))
        if node.environment(checks) == local:
            break
    if not answers:
        raise ClusterError("the Dask cluster lost all its workers before grading began")
    problems = [p for address, answer in sorted(answers.items()) if (p := _problem(address, answer, local, mode))]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ClusterError(f"{len(problems)} of {len(answers)} Dask worker(s) cannot grade: {problems[0]}{more}")
    return {address: bool(answer.get("bwrap")) for address, answer in answers.items()}


def _sandbox_name(bwrap: dict[str, bool], mode: str, stream: TextIO) -> str:
    """What the summary says about the sandbox; a loud warning when some workers grade without one."""
    bare = sorted(address for address, usable in bwrap.items() if mode == "none" or not usable)
    if not bare:
        return model.SANDBOXED
    if mode != "none":  # with --sandbox none the pipeline has warned already
        names = ", ".join(bare[:3]) + (" ..." if len(bare) > 3 else "")
        print(f"{sandbox.NO_SANDBOX_WARNING} (Dask workers without it: {names})", file=stream)
    return (model.UNSANDBOXED if len(bare) == len(bwrap)
            else f"{model.UNSANDBOXED} on {len(bare)} of {len(bwrap)} workers")


def _outcome(future: Any, sub: Submission, ctx: RunContext, limits: Limits) -> Result:
    """The result to save for one finished task (an error row per question when the task failed)."""
    assignment = ctx.assignment
    failed = internal_error  # the same error rows and stamps as a local worker (grading/core/outcome.py)
    if future.status == "finished":
        raw = future.result()
        if isinstance(raw, dict) and "refused" in raw:
            raise ClusterError(f"{one_line(str(raw['refused']), 200)}; the grades saved so far are kept: "
                               "fix that worker and rerun with --resume")
        if isinstance(raw, dict) and "internal_error" in raw:
            result = failed(sub, assignment, str(raw["internal_error"]), str(raw.get("worker", "")))
        else:
            try:
                result = accept(raw, sub, assignment, limits)
            except BadResult as exc:
                result = failed(sub, assignment, f"unusable reply from the Dask worker: {exc}")
    elif future.status == "error":
        error = future.exception()
        if type(error).__name__ == "KilledWorker":  # the scheduler gave up: every worker it tried died
            result = failed(sub, assignment, "each Dask worker that tried to grade this submission died "
                                             f"({one_line(str(error), 200)})")
        else:
            result = failed(sub, assignment, f"{type(error).__name__}: {one_line(str(error), 200)}")
    else:
        raise ClusterError(f"lost the Dask scheduler (a task was {future.status}); the grades saved so far are "
                           "kept: rerun with --resume")
    return stamped(result, sub, ctx.key_id, ctx.sandbox_name)


class _EmptyClusterWatch:
    """Ends a batch whose cluster has had no worker at all for NO_WORKERS_GRACE seconds (never a hang)."""

    def __init__(self, client: Any) -> None:
        """Watch `client`'s scheduler."""
        self.client, self.checked = client, 0.0
        self.empty_since: float | None = None

    def check(self, saved: int) -> None:
        """Look at most every 2 s; ClusterError once the cluster has been empty too long."""
        now = time.monotonic()
        if now - self.checked < 2.0:
            return
        self.checked = now
        try:
            workers = self.client.scheduler_info()["workers"]
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"lost the Dask scheduler ({one_line(str(exc), 120)}); {saved} grades saved so far "
                               "are kept: rerun with --resume") from None
        self.empty_since = None if workers else (self.empty_since or now)
        if self.empty_since is not None and now - self.empty_since > NO_WORKERS_GRACE:
            raise ClusterError(f"the Dask cluster has had no workers for {NO_WORKERS_GRACE:.0f} s; {saved} grades "
                               "saved so far are kept: start workers and rerun with --resume")


def _stream(client: Any, plugin: str, todo: list[Submission], ctx: RunContext, limits: Limits,
            save: Callable[[Result], None], window: int) -> None:
    """Keep `window` tasks (one per student, keyed by student) in flight; save each result once, as it arrives.

    The window bounds what is in memory at once (each task carries its notebook's bytes), here and on the
    scheduler, however large the cohort.
    """
    from distributed import as_completed

    waiting, subs, saved = iter(todo), {}, set[str]()
    pending, watch = as_completed(loop=client.loop), _EmptyClusterWatch(client)

    def submit_next() -> None:
        sub = next(waiting, None)
        if sub is not None:
            key = f"{plugin}-{sub.student_id}"
            subs[key] = sub
            pending.add(client.submit(node.grade_remote, plugin, loaded(sub).to_plain(), key=key, pure=False))

    for _ in range(window):
        submit_next()
    while not pending.is_empty():
        ready = pending.next_batch(block=False)
        if not ready:
            watch.check(len(saved))
            time.sleep(0.05)
            continue
        for future in ready:
            if future.status == "lost":  # it finished on a worker that died before its result was fetched: the
                pending.add(future)  # scheduler runs it again, and it comes back here once it has
                continue
            sub = subs.pop(future.key)
            result = _outcome(future, sub, ctx, limits)
            future.release()
            if sub.student_id not in saved:  # never twice, even if a task ran twice
                saved.add(sub.student_id)
                save(result)
            submit_next()


def register(client: Any, checks: str, assignment_id: str, source: bytes, seed: int, mode: str, limits: Limits,
             probed: list[str]) -> str:
    """Register one batch's GradingNode plugin on every worker (plain data only); its name."""
    batch = {"checks": checks, "assignment_id": assignment_id, "source": source, "seed": seed, "sandbox": mode,
             "environment": node.environment(checks),
             "probed": probed,  # these passed the probe just now; a worker that joins later is checked
             "limits": {"timeout": limits.timeout, "memory_mb": limits.memory_mb, "output_bytes": limits.output_bytes}}
    plugin = f"autograder-{secrets.token_hex(6)}"
    client.register_plugin(node.GradingNode(batch), name=plugin)
    return plugin


def grade_on_cluster(settings: Any, source: bytes, todo: list[Submission], ctx: RunContext,
                     save: Callable[[Result], None], stream: TextIO) -> RunContext:
    """Grade `todo` on the Dask cluster at settings.scheduler; `save` gets each result as it finishes.

    Returns `ctx` naming the sandbox the cluster's workers had."""
    if not todo:
        return ctx
    client = connect(settings.scheduler)
    try:
        bwrap = check_workers(client, settings.checks, settings.assignment_id, settings.sandbox)
        ctx = dataclasses.replace(ctx, sandbox_name=_sandbox_name(bwrap, settings.sandbox, stream))
        threaded = sorted(address for address, n in client.nthreads().items() if n > 1)
        if threaded:
            print(f"note: {len(threaded)} Dask worker(s) have several threads but grade one submission at a time "
                  f"(e.g. {threaded[0]}); start workers with --nthreads 1 and more --nworkers", file=stream)
        plugin = register(client, settings.checks, settings.assignment_id, source, ctx.seed, settings.sandbox,
                          settings.limits, sorted(bwrap))
        try:
            _stream(client, plugin, todo, ctx, settings.limits, save, window=2 * sum(client.nthreads().values()) + 2)
        finally:
            with contextlib.suppress(Exception):  # the cluster may be gone; its workers clean up on exit
                client.unregister_worker_plugin(plugin)
    finally:
        client.close()
    return ctx
