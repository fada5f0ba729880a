"""The batch: collect submissions, grade them on N warm sandboxed workers, write every output.

N threads grade through one `pool.Pool` (warm workers; a worker that dies is restarted and the job
retried once, so one submission can never stop the batch; the same core grades on a Dask node and in
the HTTP service). Results are saved per student as they finish.
Hidden inputs come from the course key (autograder.key), so every rerun, `--resume` and `--student`
regrade reproduces the same grades. SIGINT/SIGTERM stop cleanly: workers are killed, the temporary
folder with the hidden inputs is removed, finished results stay, and `Interrupted` says what to do.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

from autograder import key
from autograder.grading.core import model, preflight, sandbox, tmpdir
from autograder.grading.core.model import Result, RunContext, RunSummary
from autograder.grading.core.outcome import internal_error
from autograder.grading.core.pool import Cancelled, Pool, load_source, sandboxed
from autograder.grading.core.starting import Early, begin
from autograder.grading.drivers.progress import Progress
from autograder.grading.inbox.collect import Submission, collect
from autograder.grading.inbox.roster import roster as read_roster
from autograder.grading.outputs import records
from autograder.grading.runner.assignments import DEFAULT_CHECKS, load_assignment, without_collections
from autograder.grading.runner.wire import Limits

# internal_error: kept where callers found it
__all__ = ["Interrupted", "Settings", "WriteFailed", "grade", "internal_error"]

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Settings:
    """Everything one grading run needs (the CLI's options)."""

    submissions: Path
    assignment_id: str
    out: Path
    workers: int = 2
    limits: Limits = field(default_factory=Limits)
    resume: bool = False
    checks: str = DEFAULT_CHECKS
    source: Path | None = None
    sandbox: str = "auto"  # auto | bwrap | none
    roster: Path | None = None
    students: tuple[str, ...] = ()  # regrade only these (every other result is left as it is)
    scheduler: str | None = None  # a Dask scheduler address: grade on that cluster (grading/drivers/cluster/batch.py)


class Interrupted(Exception):
    """The run was stopped by a signal after a clean shutdown; the message is the one line to print."""

    def __init__(self, signum: int, graded: int, todo: int, regrade: bool = False) -> None:
        """Record which signal and how far the run got (`regrade`: a --student run, which --resume would skip)."""
        self.signum, self.graded, self.todo = signum, graded, todo
        name = signal.Signals(signum).name
        how = "rerun the same command to regrade" if regrade else "rerun the same command with --resume to grade"
        super().__init__(f"stopped by {name}: {graded} of {todo} submission(s) graded and saved in this run; "
                         f"{how} the other {todo - graded}")

    @property
    def exit_code(self) -> int:
        """The shell's convention for death by signal: 128 + signal number (130 for Ctrl-C)."""
        return 128 + self.signum


class WriteFailed(ValueError):
    """A file of OUT could not be written (a full disk, a quota, a file size limit): the one line to print."""

    def __init__(self, exc: OSError, kept: str) -> None:
        """Name the file and the system's reason, then say what is `kept` and what to do."""
        super().__init__(f"cannot write {exc.filename or 'a file of OUT'}: {exc.strerror or exc}; {kept}")


class _Stop(BaseException):
    """Raised in the main thread by the signal handler (BaseException: no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        """Remember the signal."""
        super().__init__(signum)
        self.signum = signum


def _source_path(settings: Settings, notebook: str) -> Path:
    """The instructor's source notebook: --source, else solutions/<id>/<notebook> in the repository."""
    return settings.source or REPO / "solutions" / settings.assignment_id / notebook


def _with_roster(subs: list[Submission], roster: Path | None) -> list[Submission]:
    """Add a 'missing' submission for every roster id without one (ids are unique already: collect.unique_ids)."""
    seen = {sub.student_id for sub in subs}
    unique = list(subs)
    for student, name in read_roster(roster) if roster else []:
        if student not in seen:
            unique.append(Submission(student, str(roster), None, problem="no submission found", name=name))
            seen.add(student)
    return unique


def _work(pool: Pool, jobs: queue.Queue, save: Callable[[Result], None], first: bool, drained: threading.Event,
          failed: list[Exception]) -> None:
    """One worker thread: grade submissions from the queue with the pool until it is empty or stopping.

    Only the `first` thread grades at once. Every other one starts its worker once the first worker has started
    (two starts side by side would delay the first result), and takes submissions only when that worker is ready,
    so none waits for a start while a ready worker could grade it; a start still under way when the last
    submission is taken (`drained`) is given up."""
    if not first:
        while not (pool.started.wait(0.05) or drained.is_set() or pool.stop.is_set()):
            pass
        if drained.is_set() or pool.stop.is_set():
            return
        pool.prestart(drained)
    while not pool.stop.is_set():
        try:
            sub = jobs.get_nowait()
        except queue.Empty:
            return
        if jobs.empty():
            drained.set()
        try:
            result = pool.grade(sub)
        except Cancelled:
            return
        except sandbox.StartFailed as exc:  # no worker can grade anyone here: stop, record nothing for this student
            failed.append(exc)
            pool.stop.set()
            return
        try:
            save(result)
        except WriteFailed as exc:  # OUT cannot take it (disk full): stop, the grades saved so far are kept
            failed.append(exc)
            pool.stop.set()
            return


def _kill_children() -> None:
    """SIGKILL every child process group of this process (the workers run in sessions of their own)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[1]) == me:
            pid, pgrp = int(entry.name), int(fields[2])
            try:
                os.killpg(pgrp, signal.SIGKILL) if pgrp == pid else os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _select(subs: list[Submission], done: dict[str, Result], settings: Settings,
            stale: frozenset[str] = frozenset()) -> list[Submission]:
    """The submissions this run grades: the --student ones, else those without a result (--resume), else all;
    with either option also every student without a stored result (the outputs list everyone uploaded), whose
    stored result was graded from another upload or records a failure of the grader (records.matches), or was
    stored in an older form (`stale`, records.stale)."""
    if settings.students:
        known = {sub.student_id for sub in subs}
        unknown = [s for s in settings.students if s not in known]
        if unknown:
            raise ValueError(f"--student {', '.join(unknown)}: no such student in {settings.submissions}"
                             + (f" or {settings.roster}" if settings.roster else ""))
    if settings.students:  # and any student whose stored result is not this upload's grade, or who has none
        return [sub for sub in subs if sub.student_id in set(settings.students) or sub.student_id in stale
                or not records.matches(done.get(sub.student_id), sub)]
    if settings.resume:
        return [sub for sub in subs if not records.matches(done.get(sub.student_id), sub)]
    return subs


def _check_key(done: dict[str, Result], kept: set[str], key_id: str, out: Path) -> None:
    """Refuse to mix grades from two keys: results kept from before must come from this key."""
    other = sorted(student for student in kept if done[student].key_id != key_id)
    if other:
        found = sorted({str(done[s].key_id or "none (graded before course keys)") for s in other})
        raise ValueError(f"{len(other)} result(s) in {out / 'results'} (e.g. {other[0]}) were graded with another "
                         f"grading key (key id {', '.join(found)}; this run: {key_id}). Restore that key "
                         f"({key.ENV} or {key.key_path()}) or regrade everyone without --resume/--student")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """While grading, SIGINT and SIGTERM raise _Stop in the main thread (elsewhere: left as they are)."""
    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run_threads(count: int, jobs: queue.Queue, settings: Settings, ctx: RunContext,
                 save: Callable[[Result], None], early: Early | None = None) -> threading.Thread:
    """Run the worker threads to the end (the pool adopts the `early` workers); on _Stop (a signal) stop them,
    kill the workers, re-raise. Returns the thread that stops the workers meanwhile (join it before removing
    ctx.tmp): the outputs need no worker, so they are written while the sandboxes exit."""
    pool = Pool(settings.checks, ctx.assignment, ctx.source, ctx.seed, settings.limits, ctx.sandboxed, ctx.tmp,
                settings.out / "logs", key_id=ctx.key_id, stop=ctx.stop, early=early)
    drained = threading.Event()
    failed: list[Exception] = []
    threads = [threading.Thread(target=_work, args=(pool, jobs, save, i == 0, drained, failed), daemon=True,
                                name=f"grading-worker-{i}") for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(0.2)
    except _Stop:
        if threading.current_thread() is threading.main_thread():  # a second Ctrl-C must not stop the clean-up
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, signal.SIG_IGN)
        ctx.stop.set()
        _kill_children()
        for thread in threads:
            thread.join(30)
        _kill_children()  # a worker a thread was starting while we killed the others
        pool.close()
        raise
    except BaseException:
        pool.close()
        raise
    if failed:
        pool.close()
        if isinstance(failed[0], WriteFailed):
            raise failed[0]
        raise ValueError(f"the grading sandbox could not start: {failed[0]}; nothing was recorded for the "
                         "submissions not graded (the grades saved so far are kept): once it is fixed, rerun with "
                         "--resume") from None
    closing = threading.Thread(target=pool.close, name="grading-close")
    closing.start()
    return closing


def _warm_outputs() -> None:
    """Import the outputs' modules and compile their templates while the workers grade (not after the last one)."""
    from autograder.grading.outputs import batch as outputs
    from autograder.grading.outputs import pages

    for template in ("feedback.html.j2", "report.html.j2"):
        pages.environment().get_template(template)
    del outputs


def grade(settings: Settings, stream: TextIO | None = None, early: Early | None = None) -> dict[str, Result]:
    """Grade every submission not yet graded (all unless --resume); return all results of the assignment.

    The first worker starts at once, while the assignment is loaded and the submissions read (`early`: already
    started by the caller, starting.begin); the pool adopts it, or it is stopped when the run ends before."""
    if early is None and settings.scheduler is None:
        early = begin(settings.checks, settings.assignment_id, settings.sandbox, settings.out)
    try:
        with contextlib.ExitStack() as held:
            # sys.stderr as it is now (a default taken at import would keep a stream replaced since)
            return _grade(settings, stream or sys.stderr, early, held)
    finally:
        if early is not None:
            early.abandon()  # nothing once a pool adopted it


def _grade(settings: Settings, stream: TextIO, early: Early | None, held: contextlib.ExitStack) -> dict[str, Result]:
    """grade() once the first worker is starting; `held` keeps OUT claimed until the run has ended."""
    with without_collections():  # torch and the checks, while the first worker imports them too
        assignment = load_assignment(settings.checks, settings.assignment_id)
    source_file = _source_path(settings, assignment.notebook)
    source = load_source(source_file, assignment)
    collected = collect(settings.submissions, assignment.id, assignment.notebook)
    for line in getattr(collected, "log", ()):  # files in the upload that belong to no student
        print(line, file=stream)
    subs = _with_roster(list(collected), settings.roster)
    grading_key = key.load_key()
    key_id = key.key_id(grading_key)
    settings.out.mkdir(parents=True, exist_ok=True)
    held.enter_context(records.claimed(settings.out))
    done = records.load_results(settings.out, assignment.id) if settings.resume or settings.students else {}
    older = records.stale(settings.out) if settings.resume or settings.students else set()
    todo = _select(subs, done, settings, frozenset(older))
    if settings.resume or settings.students:
        others = [s.student_id for s in todo if s.student_id not in settings.students and s.student_id not in older]
        stale = [s for s in others if s in done and not done[s].grader_failed]
        if stale:
            print(f"{len(stale)} stored result(s) were graded from another upload than the one there now (e.g. "
                  f"{stale[0]}): regraded", file=stream)
        failed = [s for s in others if s in done and done[s].grader_failed]
        if failed:
            print(f"{len(failed)} stored result(s) record a failure of the grader, not a grade (e.g. {failed[0]}): "
                  "graded again", file=stream)
        new = [s for s in others if s not in done]
        if new and settings.students:
            print(f"{len(new)} student(s) without a stored result (e.g. {new[0]}): graded too", file=stream)
        regraded = sorted(older & {s.student_id for s in todo})
        if regraded:
            print(f"{len(regraded)} stored result(s) were written by an older version of the grader (e.g. "
                  f"{regraded[0]}): regraded", file=stream)
    # only results the outputs will list must share the key (files of names no longer uploaded are not listed)
    _check_key(done, {sub.student_id for sub in subs if sub.student_id in done} - {sub.student_id for sub in todo},
               key_id, settings.out)
    # on a cluster, bubblewrap is checked on every Dask worker instead (grading/drivers/cluster/batch.py)
    use_bwrap = (settings.sandbox != "none" if settings.scheduler is not None else
                 early is not None or sandboxed(settings.sandbox))
    if not use_bwrap:
        problem = preflight.unsandboxed_problem()
        if problem is not None:  # every honest notebook would score 0: refuse instead
            raise ValueError(problem)
        print(sandbox.NO_SANDBOX_WARNING, file=stream)
    if settings.scheduler is None and sandbox.cgroup_warning():  # per-submission accounting (grading/runner/cgroups.py)
        print(sandbox.cgroup_warning(), file=stream)
    (settings.out / "logs").mkdir(exist_ok=True)
    ctx = RunContext(assignment, source, key.assignment_seed(grading_key, assignment.id), key_id, use_bwrap,
                     model.SANDBOXED if use_bwrap else model.UNSANDBOXED,
                     early.tmp if early is not None else tmpdir.make(), threading.Event())
    jobs: queue.Queue = queue.Queue()
    for sub in todo:
        jobs.put(sub)
    progress, lock = Progress(len(todo), stream), threading.Lock()
    graded = [0]

    def save(result: Result) -> None:
        try:
            records.save_result(settings.out, result)
        except OSError as exc:
            raise WriteFailed(exc, f"{graded[0]} grade(s) saved in {settings.out / 'results'} in this run are kept: "
                                   "once it is fixed (free space, say), rerun with --resume") from None
        with lock:
            graded[0] += 1
        progress.step(result.student_id)

    started = time.perf_counter()
    closing: threading.Thread | None = None
    threading.Thread(target=_warm_outputs, daemon=True, name="grading-warm-outputs").start()
    try:
        with _stop_on_signals():
            if settings.scheduler is not None:
                from autograder.grading.drivers.cluster import (
                    batch as cluster,  # distributed is imported only for a cluster run
                )

                ctx = cluster.grade_on_cluster(settings, source_file.read_bytes(), todo, ctx, save, stream)
            else:
                closing = _run_threads(max(1, min(settings.workers, len(todo))), jobs, settings, ctx, save, early)
    except _Stop as stop:
        raise Interrupted(stop.signum, graded[0], len(todo), regrade=bool(settings.students)) from None
    finally:
        progress.close()
        if closing is None:
            tmpdir.remove(ctx.tmp)
    try:
        everything = records.current(settings.out, assignment, subs)
        # uploads graded (a malformed one included), not the students the roster adds who sent nothing
        uploads = sum(bool(sub.status) or sub.data is not None or sub.locator is not None for sub in todo)
        summary = RunSummary(key_id, ctx.sandbox_name, uploads, len(everything) - len(todo),
                             time.perf_counter() - started, roster=settings.roster is not None)
        from autograder.grading.outputs import batch as outputs

        try:
            everything = outputs.write_all(settings.out, assignment, everything, summary)
        except OSError as exc:  # every grade is saved already: only the outputs are incomplete
            raise WriteFailed(exc, f"every grade is saved in {settings.out / 'results'}, but the outputs in "
                                   f"{settings.out} are incomplete: once it is fixed (free space, say), rerun with "
                                   "--resume to write them (nobody is graded again)") from None
        where = f"{settings.workers} worker(s)" if settings.scheduler is None else f"Dask cluster {settings.scheduler}"
        print(outputs.summary_line(everything, summary, where), file=stream)
        failed = sorted(student for student, result in everything.items() if result.grader_failed)
        if failed:  # an error row of the grader's, not the student's: no grade in the LMS files, and not final
            print(f"warning: {len(failed)} student(s) have no grade because the grader failed on them (e.g. "
                  f"{failed[0]}: see grades.csv; left empty in lms/): once it is fixed, rerun with --resume to grade "
                  "them again", file=stream)
    finally:
        if closing is not None:  # the workers stopped while the outputs were written
            closing.join()
            tmpdir.remove(ctx.tmp)
    return everything
