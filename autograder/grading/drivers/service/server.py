"""Start the service: open the database (migrations run), build one pool per assignment (local sandboxed
workers, or a Dask cluster with --scheduler), grade what a previous run left ungraded, and serve HTTP with
uvicorn until SIGINT or SIGTERM."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from autograder import key
from autograder.grading.core import locks, sandbox, tmpdir
from autograder.grading.core.budget import Budget
from autograder.grading.core.pool import Grader, Pool, load_source, sandboxed
from autograder.grading.drivers.service import policy
from autograder.grading.drivers.service.app import Service, build
from autograder.grading.drivers.service.db import Store, url_for
from autograder.grading.drivers.service.grading import Grading
from autograder.grading.runner.assignments import DEFAULT_CHECKS, load_assignment
from autograder.grading.runner.wire import Limits

REPO = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class Options:
    """Everything `serve` needs (the command's options)."""

    host: str = "127.0.0.1"
    port: int = 8000
    db: str = "autograder-serve.db"
    assignments: tuple[str, ...] = ()
    policy: Path | None = None
    workers: int = 2
    timeout: float = 10.0
    memory_mb: int = 1024
    output_kb: int = 64
    max_bytes: int = 32 << 20
    wait: float = 60.0
    public_url: str = ""
    source: Path | None = None
    checks: str = DEFAULT_CHECKS
    sandbox: str = "auto"
    scheduler: str | None = None  # a Dask scheduler address: grade there (remote.ClusterPool)


def scratch_path(url: str, parent: Path | None = None) -> Path:
    """The service's own temporary folder (exchange folders, worker logs), the same for the same database, in
    `parent` (tmpdir.default_parent() when not given)."""
    return (parent or tmpdir.default_parent()) / f"autograder-serve-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def scratch(url: str) -> Path:
    """scratch_path(url), wiped and made again, and guarded: removed when the service ends, however it ends."""
    folder = scratch_path(url)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    return tmpdir.guard(folder)


def pools(options: Options, tmp: Path, client: Any = None) -> dict[str, Grader]:
    """One pool per served assignment: a core Pool (workers start in the background once serving), or a
    remote.ClusterPool on the Dask cluster `client` is connected to (--scheduler)."""
    if client is None:
        use_bwrap = sandboxed(options.sandbox)
        if not use_bwrap:
            print(sandbox.NO_SANDBOX_WARNING, file=sys.stderr)
        if sandbox.cgroup_warning():
            print(sandbox.cgroup_warning(), file=sys.stderr)
    grading_key = key.load_key()
    limits = Limits(timeout=options.timeout, memory_mb=options.memory_mb, output_bytes=options.output_kb * 1024)
    made: dict[str, Grader] = {}
    budget = Budget(options.workers)  # --workers sandboxes alive in all, not per assignment
    for assignment_id in options.assignments:
        assignment = load_assignment(options.checks, assignment_id)
        source_file = options.source or REPO / "solutions" / assignment.id / assignment.notebook
        source = load_source(source_file, assignment)  # the same checks and messages as the batch's
        seed, key_id = key.assignment_seed(grading_key, assignment.id), key.key_id(grading_key)
        if client is not None:
            from autograder.grading.drivers.cluster.remote import ClusterPool

            made[assignment.id] = ClusterPool(client, options.checks, assignment, source_file.read_bytes(), seed,
                                              limits, options.sandbox, key_id)
            continue
        (tmp / assignment.id).mkdir()
        made[assignment.id] = Pool(options.checks, assignment, source, seed, limits, use_bwrap,
                                   tmp / assignment.id, tmp / assignment.id, key_id=key_id, budget=budget)
    return made


class _Stopped(BaseException):
    """SIGINT or SIGTERM, once uvicorn has shut down (BaseException: nothing on the way swallows it)."""

    def __init__(self, signum: int) -> None:
        """Remember the signal."""
        super().__init__(signum)
        self.signum = signum


def claimed(url: str, shown: str) -> contextlib.AbstractContextManager[None]:
    """Hold the database `url` (given as `shown`) for this service: a second one would wipe the first one's
    temporary folder (its jobs in hand) and grade the same submissions; ValueError naming the first one's pid."""
    # in the system's temporary folder whatever room /dev/shm has now: two services must find the same lock
    return locks.held(Path(f"{scratch_path(url, Path(tempfile.gettempdir()))}.lock"),
                      lambda pid: f"--db {shown}: another `serve` (pid {pid}) is using this database: stop it "
                                  "first, or give another --db")


def serve(options: Options) -> int:
    """Run the service until a signal stops it; 0."""
    with claimed(url_for(options.db), options.db):
        check_address(options.host, options.port)
        return _serve(options)


def check_address(host: str, port: int) -> None:
    """ValueError in one line when the service could not listen on host:port (taken, or not this machine's),
    before any worker starts; uvicorn would only say so after the service had started."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        hint = {errno.EADDRINUSE: "another program listens there: choose another --port",
                errno.EADDRNOTAVAIL: "not an address of this machine: give one of its own with --host",
                errno.EACCES: "ports below 1024 need root: choose another --port"}.get(exc.errno or 0, "")
        raise ValueError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"
                         + (f"; {hint}" if hint else "")) from None


def _serve(options: Options) -> int:
    """serve() once this service holds its database."""
    import uvicorn

    url = url_for(options.db)
    tmp = scratch(url)
    store = Store(url)
    client = None
    if options.scheduler is not None:
        from autograder.grading.drivers.cluster.batch import connect

        client = connect(options.scheduler)
    served = pools(options, tmp, client)
    service = Service(store, Grading(store, served, options.workers, lambda i: service.graded(i)), served,
                      policy.load(options.policy, list(served)), options.max_bytes, options.wait, options.public_url)
    recovered = service.grading.start()
    where = options.db if "://" not in options.db else url.split("://")[0] + "://..."
    print(f"serving {', '.join(served)} on http://{options.host}:{options.port}/ (database {where}; "
          f"{recovered} submission(s) from before queued for grading)", file=sys.stderr, flush=True)
    def stopped(signum: int, frame: FrameType | None) -> None:
        raise _Stopped(signum)

    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the handler it found:
    # this one, so the workers are stopped and the hidden inputs removed below instead of dying on the spot.
    previous = {s: signal.signal(s, stopped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.run(build(service), host=options.host, port=options.port, log_level="warning",
                    timeout_graceful_shutdown=5)
    except _Stopped as stop:
        print(f"stopped by {signal.Signals(stop.signum).name}; submissions not yet graded are graded at the next "
              "start", file=sys.stderr)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        service.grading.stop()
        if client is not None:
            client.close()
        store.close()
        tmpdir.remove(tmp)
    return 0
