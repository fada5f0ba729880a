"""autograder.grading.core.pool: the one grading core. A worker it starts belongs to the pool, not to the thread that
happened to start it (bubblewrap's --die-with-parent follows the starting thread), so warm workers survive."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.grading.core import sandbox, starting
from autograder.grading.core.model import Submission
from autograder.grading.core.pool import Pool
from autograder.grading.inbox.notebook import parse
from autograder.grading.runner import cgroups
from autograder.grading.runner.assignments import load_assignment
from autograder.grading.runner.wire import Limits
from tests.paths import CORPUS
from tests.processes import WORKER_MODULE, mentioning
from tests.sandbox_required import sandbox_marks

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

pytestmark = sandbox_marks("the grading core's worker test")


def test_a_warm_worker_outlives_the_thread_that_started_it() -> None:
    """Warm from a thread that then ends, grade from two other threads: the same worker process grades both."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    with tempfile.TemporaryDirectory() as tmp:
        pool = Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True, Path(tmp), Path(tmp))
        try:
            warm = threading.Thread(target=pool.warm, args=(1,))
            warm.start()
            warm.join()
            assert pool.warm_count() == 1
            worker = pool._idle[0].worker
            assert worker is not None
            totals = []
            for name in ("ann", "bob"):
                thread = threading.Thread(target=lambda n=name: totals.append(
                    pool.grade(Submission(n, "x", json.dumps(notebooks.submission()).encode())).total))
                thread.start()
                thread.join()
            assert totals == [5.0, 5.0]
            assert worker.process.poll() is None and pool._idle[0].worker is worker  # never restarted
        finally:
            pool.close()
        assert worker.process.poll() is not None  # close() stopped it


def test_waiting_for_a_worker_to_start_is_not_the_students_time() -> None:
    """The first submission on a fresh worker waits for it to start: that is its `startup`, apart from `seconds`."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    with tempfile.TemporaryDirectory() as tmp:
        pool = Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True, Path(tmp), Path(tmp))
        try:
            first, second = (pool.grade(Submission(n, "x", json.dumps(notebooks.submission()).encode()))
                             for n in ("ann", "bob"))
        finally:
            pool.close()
    assert first.total == second.total == 5.0
    assert first.startup is not None and first.startup > 0.2 and first.seconds < first.startup
    assert second.startup == 0.0 and second.seconds < 10


def test_a_pool_adopts_a_worker_started_early_and_an_unadopted_one_is_stopped(tmp_path: Path) -> None:
    """starting.begin starts worker 0 before anything is known; a Pool grades with that very process, and
    abandoning one no pool took stops it and removes the output folders it made for its log."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    early = starting.begin("fakecourse.checks:get_assignment", "fake", "auto", tmp_path / "out")
    assert early is not None and (tmp_path / "out" / "logs").is_dir()
    pending = early.slots[0].starting
    assert pending is not None
    pool = Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True, early.tmp, early.logs,
                early=early)
    try:
        result = pool.grade(Submission("ann", "x", json.dumps(notebooks.submission()).encode()))
        assert result.total == 5.0 and pool._idle[0].worker is pending.result()
    finally:
        pool.close()
        early.abandon()  # adopted: nothing to do
    assert pending.result().process.poll() is not None
    unused = starting.begin("fakecourse.checks:get_assignment", "fake", "auto", tmp_path / "new" / "out")
    assert unused is not None
    worker = unused.slots[0].starting
    assert worker is not None
    unused.abandon()
    assert worker.result().process.poll() is not None
    assert not (tmp_path / "new").exists() and not unused.tmp.exists()


def test_a_pool_closed_while_it_warms_up_gives_the_start_up_quietly(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A service that cannot listen closes its pools, and removes their folder, while they warm up (here: just as
    the worker's runner folder is being built there): no exception escapes the warming thread, no worker is left."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    folder = tmp_path / "pool"
    folder.mkdir()
    pool = Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True, folder, folder)
    def closed_meanwhile(src: Path, dst: Path) -> None:  # the folder goes while the runner is copied there
        pool.close()
        shutil.rmtree(folder)
        raise FileNotFoundError(2, "No such file or directory", str(dst))

    monkeypatch.setattr(sandbox, "_copy_source", closed_meanwhile)
    escaped: list[BaseException | None] = []
    previous, threading.excepthook = threading.excepthook, lambda hook: escaped.append(hook.exc_value)
    try:
        warming = threading.Thread(target=pool.warm, args=(1,))
        warming.start()
        warming.join(60)
    finally:
        threading.excepthook = previous
    assert not warming.is_alive() and escaped == []
    assert not mentioning(str(folder))


def test_a_start_given_up_leaves_nothing_running() -> None:
    """A worker started ahead of work is killed at once when nobody needs it any more: no process, no cgroup."""
    with tempfile.TemporaryDirectory() as tmp:
        calls = []

        def cancel() -> bool:
            calls.append(time.monotonic())
            return len(calls) > 2  # given up while the worker is importing torch
        layout = sandbox.cgroup_layout()
        mine = cgroups.worker_group_name(os.getpid(), 0).removesuffix("0") + "*"

        def groups() -> set[Path]:
            return {g for base in layout.own.values() for g in base.glob(mine)} if layout is not None else set()
        before = groups()
        begun = time.monotonic()
        with pytest.raises(sandbox.WorkerDied, match="start cancelled"):
            sandbox.start_worker(0, "fakecourse.checks:get_assignment", "fake", Path(tmp) / "exchange-0", True,
                                 Path(tmp) / "log", cancel=cancel)
        assert time.monotonic() - begun < 1.0  # not after the start it gave up
        assert groups() <= before  # its cgroups are gone
        assert not mentioning(tmp)


def test_a_worker_stopped_at_any_moment_of_its_start_leaves_no_process() -> None:
    """Stopped at once 0-5 ms after its launch, whatever bubblewrap is doing then (its clone of the sandbox
    included, whose first process waits for bubblewrap's go-ahead): nothing of the worker is left running."""
    for attempt in range(60):
        with tempfile.TemporaryDirectory() as tmp:
            worker = sandbox.launch_worker(0, "fakecourse.checks:get_assignment", "fake", Path(tmp) / "exchange-0",
                                           True, Path(tmp) / "log")
            time.sleep((attempt % 6) / 1000)
            worker.stop(at_once=True)
            deadline = time.monotonic() + 2.0  # SIGKILLed processes take a moment to be gone from /proc
            while mentioning(tmp) and time.monotonic() < deadline:
                time.sleep(0.01)
            left = mentioning(tmp)
            for pid in left:
                os.kill(pid, 9)
            assert not left, f"attempt {attempt}: {left} still running"


def test_a_batch_never_makes_a_submission_wait_for_a_second_worker(tmp_path: Path) -> None:
    """Two workers, two submissions: the second worker starts only once the first has, takes work only once ready,
    and is given up when the queue runs dry first, so only the very first submission ever waited for a start."""
    from autograder.grading.drivers import pipeline

    before = mentioning(WORKER_MODULE)
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for student in ("ann", "bob"):
        notebooks.write(notebooks.submission(), tmp_path / "subs" / student / "fake" / "fake.ipynb")
    results = pipeline.grade(pipeline.Settings(submissions=tmp_path / "subs", assignment_id="fake",
                                               out=tmp_path / "out", workers=2,
                                               checks="fakecourse.checks:get_assignment", source=source),
                             io.StringIO())
    assert [r.total for r in results.values()] == [5.0, 5.0]
    waited = sorted(r.startup or 0.0 for r in results.values())
    assert waited[0] == 0.0 and waited[1] > 0.2, waited
    # no worker of this run is left running, started or not. A start given up is killed with its bubblewrap; the
    # sandbox's first process dies of bubblewrap's death a moment later (--die-with-parent), as in the test above
    deadline = time.monotonic() + 2.0
    while mentioning(WORKER_MODULE) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not mentioning(WORKER_MODULE) - before


def test_begin_launches_the_first_worker_before_it_returns(tmp_path: Path) -> None:
    """The first worker's process runs as soon as begin() returns: launched from the calling thread, it does not
    wait for a starter thread to get the interpreter lock from the grader's own torch import (half a second)."""
    early = starting.begin("fakecourse.checks:get_assignment", "fake", "auto", tmp_path / "out")
    assert early is not None
    try:
        assert mentioning(str(early.tmp))
    finally:
        early.abandon()
    assert not mentioning(str(early.tmp))


def test_pools_of_one_process_never_touch_each_others_workers(tmp_path: Path) -> None:
    """The service has a pool per assignment, each with a worker 0: starting one pool's worker never removes the
    cgroups (killing the processes) of another's, which goes on grading with the same worker."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        made.append(Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True, tmp_path / name,
                         tmp_path / name))
    first, second = made
    data = json.dumps(notebooks.submission()).encode()
    try:
        assert first.grade(Submission("ann", "x", data)).total == 5.0
        worker = first._idle[0].worker
        assert worker is not None
        assert second.grade(Submission("bob", "x", data)).total == 5.0
        assert worker.process.poll() is None  # still running: bob's worker 0 left it alone
        assert first.grade(Submission("cy", "x", data)).total == 5.0 and first._idle[0].worker is worker
    finally:
        first.close()
        second.close()
