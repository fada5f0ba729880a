"""A persistent grading worker: imports torch once, then runs each submission in a fresh forked child.

Runs inside the sandbox (normally as PID 1 of its own PID namespace, so no student process can signal
it). At start-up, before any job, it forks the clean template (autograder.grading.runner.template), which
forks every submission's child, so that no child is ever a copy of a process that held another
student's data. While it waits for a job it makes the next submission's cgroups and has the template fork
that submission's child (autograder.grading.runner.child) inside them; the job is handed to that child,
which enters fresh IPC and mount namespaces and takes a uid of its own. The worker polices the child's
wall-clock time (extended once per phase it accepted: each chunk of cells, each question), caps its output, then
kills every process of the submission (the cgroups, then all else it can see), writes the phases it
accepted (autograder.grading.runner.phases) to the exchange folder and wipes the scratch space. Talks to the
grader with length-prefixed JSON on fds 0/1.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import select
import shutil
import signal
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.grading.runner import cgroups, isolation, limits, protocol, wire
from autograder.grading.runner.assignments import without_collections
from autograder.grading.runner.phases import Phases, phase_names
from autograder.grading.runner.template import ChildJob, Template, TemplateError
from autograder.grading.runner.template import start as start_template
from autograder.grading.runner.wire import Job, Reply


def _blank_command_line() -> None:
    """Overwrite our argv in memory, so /proc/<pid>/cmdline says 'python3' and not which grader runs here."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end: fields 48 and 49 of proc(5)
        name = b"python3\0"
        with open("/proc/self/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            memory.write(name + b"\0" * max(0, end - start - len(name)))
    except (OSError, ValueError, IndexError):
        pass  # cosmetic: the sandbox does not depend on it


def _nondumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): a student process cannot ptrace or read the worker's memory."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill_others(child: int, uid: int, spare: int) -> None:
    """SIGKILL every process but this worker and `spare` (the template): all of the PID namespace, else the
    child's group and uid."""
    for _ in range(200):
        if os.getpid() == 1:
            victims = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, spare)]
        else:  # no PID namespace: only what is certainly the submission's
            victims = [child] + (_pids_of_uid(uid) if uid >= 0 else [])
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        while True:
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                reaped = 0
            if reaped <= 0:
                break
        # without a PID namespace, done only once the child and every live process of its uid are gone
        # (a daemon in a session of its own is in neither the child's group nor, at first, the list above)
        if not victims or (os.getpid() != 1 and not _alive(child) and not (uid >= 0 and _pids_of_uid(uid))):
            return
        time.sleep(0.005)


def _alive(pid: int) -> bool:
    """True if `pid` still exists (zombies included until reaped)."""
    return Path(f"/proc/{pid}").exists()


def _pids_of_uid(uid: int) -> list[int]:
    """Every live process owned by `uid` (zombies left out: they are dead, only waiting for their parent)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    if stat[stat.rfind(")") + 2:][:1] != "Z":
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _mounts_and_parents() -> frozenset[Path]:
    """Every mount point in this sandbox and its parent folders (a read-only venv under /tmp, say)."""
    mounts = set()
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = Path(line.split()[4].replace("\\040", " "))
            mounts.update([point, *point.parents])
    except OSError:
        pass
    return frozenset(mounts)


def _remove_tree(folder: Path) -> None:
    """Remove the folder `folder` however deep a student nested it, never raising. shutil.rmtree recurses once per
    level (RecursionError past ~1,000, which ignore_errors does not catch) and holds a descriptor per level; here
    each sub-folder is first moved up beside `folder`, so the tree is emptied one level at a time with at most two
    folders open."""
    try:
        shutil.rmtree(folder)  # the usual, shallow case
        return
    except (OSError, RecursionError):
        pass
    try:
        parent = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flat = f".wiped-{os.urandom(8).hex()}"
        os.rename(folder.name, flat, src_dir_fd=parent, dst_dir_fd=parent)
        if not stat.S_ISDIR(os.stat(flat, dir_fd=parent, follow_symlinks=False).st_mode):
            os.unlink(flat, dir_fd=parent)  # a link or a file after all
            return
        pending, moved = [flat], 0
        while pending:
            name = pending.pop()
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            except OSError:
                continue
            try:
                with os.scandir(fd) as entries:
                    found = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
                for entry, is_dir in found:
                    try:
                        if is_dir:
                            moved += 1
                            os.rename(entry, f"{flat}.{moved}", src_dir_fd=fd, dst_dir_fd=parent)
                            pending.append(f"{flat}.{moved}")
                        else:
                            os.unlink(entry, dir_fd=fd)
                    except OSError:
                        continue
            finally:
                os.close(fd)
            try:
                os.rmdir(name, dir_fd=parent)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        os.close(parent)


def _wipe(folder: Path, keep: frozenset[Path] = frozenset()) -> bool:
    """Remove everything inside `folder` except the mounts in `keep` and the root-owned folders above them; True
    when nothing else is left (whatever a student made there, however deep)."""
    if not folder.is_dir():
        return True
    for entry in list(folder.iterdir()):  # a listing taken first: _remove_tree works beside what it removes
        if entry in keep:  # bwrap made these 0755 root folders: the student's uid cannot write into them
            continue
        if entry.is_dir() and not entry.is_symlink():
            _remove_tree(entry)
        else:
            try:
                entry.unlink()
            except OSError:
                pass
    try:
        return all(entry in keep for entry in folder.iterdir())
    except OSError:
        return False


def _read_inputs(job_dir: Path, count: int) -> list[bytes]:
    """What to send after each phase (phases.Phases): after the cells before question i (phase 2i), the frame with
    question i's cases (phase 2i + 1), from the files the grader wrote (cases-<i>.json/.npz); nothing after a
    question's phase."""
    frames = []
    for index in range(count):
        parts = [(job_dir / f"cases-{index}{suffix}").read_bytes() for suffix in (".json", ".npz")]
        frames += [protocol.frame(2 * index + 1, *parts), b""]
    return frames


def _watch(pidfd: int, status_of: Callable[[], int], pipes: dict[int, str], timeout: float, phases: Phases,
           inputs_fd: int, cap: int) -> dict[str, Any]:
    """Wait for the child (`pidfd`, closed here): collect capped output, accept phases, feed inputs, extend the
    deadline per accepted phase, stop at it. `status_of()` gives the child's wait status once it has exited."""
    kept = {"out": bytearray(), "err": bytearray()}
    total = {"out": 0, "err": 0}
    timed_out, status = False, None
    deadline = time.monotonic() + timeout
    open_fds = set(pipes)
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        writing = [inputs_fd] if phases.outgoing else []
        ready, writable, _ = select.select([pidfd, *open_fds], writing, [], left)
        if writable:
            phases.send(inputs_fd)
        for fd in ready:
            if fd == pidfd:
                status = status_of()
                for results in [f for f in open_fds if pipes[f] == "results"]:
                    for _ in range(4096):  # what it sent before it exited (bounded: its helpers may write on)
                        data = _read_now(results)
                        if not data or phases.closed:
                            break
                        phases.feed(data)
                # the results pipe, ready in this same round, was just emptied: reading it again would wait for a
                # process of the submission still holding it (a daemon) for good; the other pipes are drained later
                break
            data = os.read(fd, 1 << 16)
            if not data:
                open_fds.discard(fd)
            elif pipes[fd] == "results":
                if phases.feed(data):
                    deadline = time.monotonic() + timeout
                if phases.closed and status is None:  # nothing it does from now on can count: stop it at once
                    status = -1
                    break
            else:
                name = pipes[fd]
                total[name] += len(data)
                kept[name] += data[: max(0, cap - len(kept[name]))]
    os.close(pidfd)
    return {"status": status, "timed_out": timed_out, "kept": kept, "total": total, "open_fds": open_fds}


def _read_now(fd: int) -> bytes:
    """What can be read from `fd` without waiting (b'' if nothing)."""
    ready, _, _ = select.select([fd], [], [], 0)
    return os.read(fd, 1 << 16) if ready else b""


def _drain(fds: set[int], pipes: dict[int, str], kept: dict[str, bytearray], total: dict[str, int], cap: int) -> None:
    """Read what is left in the output pipes once every writer is dead (result frames are no longer accepted)."""
    for fd in fds:
        while pipes[fd] != "results":
            data = _read_now(fd)
            if not data:
                break
            total[pipes[fd]] += len(data)
            kept[pipes[fd]] += data[: max(0, cap - len(kept[pipes[fd]]))]


def _rss_anon(pid: int) -> int:
    """Bytes of anonymous memory process `pid` holds: the most a child forked from it can copy-on-write."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class State:
    """This worker's settings (from its command line) and what it carries from one job to the next."""

    exchange: Path
    home: Path
    uid_base: int
    assignment: Any  # autograder.checks.spec.Assignment
    scratch: list[Path]
    mounts: frozenset[Path]
    groups: dict[str, Path]  # this worker's cgroup folders (KEY=PATH), empty without cgroups
    cgroup_version: int
    template: Template
    jobs: int = 0
    #: A child was forked whose wait status the template has not handed over yet (then the worker must stop).
    pending: bool = False
    #: The next submission's cgroups, made while idle (the template already in them), and how long that took.
    next: cgroups.SubmissionGroups | None = None
    prepared_seconds: float = 0.0
    #: The last submission left something the wipe could not remove: the worker stops after its reply (the
    #: grader starts a fresh sandbox), so the next submission never finds it nor pays for it.
    dirty: bool = False
    #: How long the last preparation took (the profile's 'prepared': done while idle, off the submission's time).
    prepared_last: float = 0.0


def prepare_next(state: State) -> None:
    """While idle: the next submission's cgroups made, the template moved into them, the next child forked there
    (it waits for its job: template.prefork) and the template moved back out (see cgroups). Without cgroups, just
    the child. The child and the cgroups are made together or not at all; TemplateError when the template fails."""
    if state.template.waiting is not None:
        if state.groups and state.next is None:  # its job failed before the hand-over, which took its cgroups
            raise TemplateError("a child is waiting without cgroups of its own")
        return
    started = time.perf_counter()
    job = None
    if state.groups:
        job = cgroups.SubmissionGroups.create(state.groups, state.cgroup_version, f"job-{state.jobs + 1}")
        try:
            job.enter(state.template.pid)
        except OSError:
            job.destroy()
            raise
    state.template.prefork()
    if job is not None:
        try:
            job.leave()
        except OSError as exc:  # the child is in these cgroups: without them it must not run at all
            raise TemplateError(f"cannot move the template out of the submission's cgroups: {exc}") from None
    state.next, state.prepared_seconds = job, time.perf_counter() - started
    state.prepared_last = state.prepared_seconds


def _job_groups(job: Job, state: State) -> cgroups.SubmissionGroups | None:
    """The submission's cgroups, its child already waiting in them: memory_mb on top of what the forked interpreter
    may copy, 64 processes, the CPU weight of one process. None without cgroups."""
    from autograder.grading.runner import child

    prepare_next(state)
    if not state.groups:
        return None
    groups, state.next = state.next, None
    assert groups is not None  # prepare_next made it or raised
    groups.limit((job.limits.memory_mb << 20) + _rss_anon(state.template.pid), child.Confinement.processes)
    return groups


def _pipe_pairs() -> tuple[dict[int, str], list[int], int]:
    """({read end: stream}, the child's ends (stdout, stderr, results, inputs), the worker's inputs end)."""
    ends = {name: os.pipe() for name in ("out", "err", "results", "inputs")}
    os.set_blocking(ends["inputs"][1], False)  # a child that stops reading must never block the worker
    pipes = {ends[name][0]: name for name in ("out", "err", "results")}
    child = [ends["out"][1], ends["err"][1], ends["results"][1], ends["inputs"][0]]
    return pipes, child, ends["inputs"][1]


class _Clock:
    """Seconds per stage of one job, in the order they happened (Reply.stages: the benchmark's profile)."""

    def __init__(self) -> None:
        """Start the first stage now."""
        self.stages: dict[str, float] = {}
        self.last = time.perf_counter()

    def mark(self, stage: str, now: float | None = None) -> float:
        """End `stage` now (or at `now`) and start the next; return the stage's seconds."""
        now = time.perf_counter() if now is None else now
        took = max(0.0, now - self.last)
        self.stages[stage] = self.stages.get(stage, 0.0) + took
        self.last = max(self.last, now)
        return took


def run_job(job: Job, state: State) -> Reply:
    """Run one submission in a child forked by the template and report what happened (results stay in files)."""
    from autograder.grading.runner import child

    started = time.monotonic()
    clock = _Clock()
    job_dir = state.exchange / job.job
    count = len([state.assignment.question(g) for g in job.questions])  # KeyError for an unknown question
    _wipe(job_dir, frozenset(job_dir / f"cases-{i}{s}" for i in range(count) for s in (".json", ".npz")))
    inputs = _read_inputs(job_dir, count)
    (job_dir / child.CODE).write_text(json.dumps([wire.cell_json(c) for c in job.cells]))
    clock.mark("prepare")
    groups = _job_groups(job, state)  # before the job number moves on: prepared as job-<jobs + 1>
    created = clock.mark("limit")
    state.jobs += 1
    uid = isolation.uid_for(state.uid_base, state.jobs) if state.uid_base >= 0 else -1
    for folder in state.scratch:
        _wipe(folder, state.mounts)
    work = state.home / "work"
    work.mkdir(mode=0o700)  # made here: the child cannot create folders in the root-owned home
    if uid >= 0:
        os.chown(work, uid, uid)
    pipes, child_ends, inputs_fd = _pipe_pairs()
    names = phase_names(count)
    # CPU seconds: the wall-clock limit of every phase (each chunk of cells and each question gets its own)
    descriptor = {"job": job.job, "questions": list(job.questions), "positions": list(job.placed),
                  "memory_mb": job.limits.memory_mb, "uid": uid,
                  "cpu_seconds": int(job.limits.timeout * len(names)) + 1}
    clock.mark("scratch")
    state.pending = True
    try:
        if state.template.waiting is None:  # prepare_next made it: a child forked now would be in no cgroup of its own
            raise TemplateError("no child is waiting in the submission's cgroups")
        pid, pidfd = state.template.spawn(descriptor, child_ends)
    finally:
        for fd in child_ends:
            os.close(fd)
    spawned = clock.mark("spawn")
    background = state.prepared_seconds
    state.prepared_seconds = 0.0
    cap = job.limits.output_bytes
    phases = Phases(names, inputs, groups.oom_kills if groups else lambda: 0, limits.RESULT_FILE_BYTES)
    seen = _watch(pidfd, state.template.status, pipes, job.limits.timeout, phases, inputs_fd, cap)
    for index, at in enumerate(phases.accepted_at):  # the child's start, isolation and the first cells; then the
        clock.mark("cells" if index % 2 == 0 else "questions", at)  # later chunks of cells and every question
    clock.mark("exit")
    oom_kills = groups.oom_kills() if groups else 0
    if groups:
        groups.destroy()  # every process of the submission, however it detached itself
    destroyed = clock.mark("destroy")
    _kill_others(pid, uid, spare=state.template.pid)
    if seen["status"] in (None, -1):
        seen["status"] = state.template.status()
    state.pending = False
    phases.finish()
    _drain(seen["open_fds"], pipes, seen["kept"], seen["total"], cap)
    for fd in [*pipes, inputs_fd]:
        os.close(fd)
    clock.mark("kill")
    # Only what the worker accepted counts: it becomes the job's files now that every process of the
    # submission is dead; anything else in the exchange folder (which a child can reach when the grader
    # does not run as root) is removed first.
    exchange_clean = _wipe(state.exchange, frozenset({job_dir}))
    _wipe(job_dir)
    files = []
    for name, json_bytes, npz_bytes in phases.accepted[:phases.oom_phase]:
        (job_dir / f"{name}.npz").write_bytes(npz_bytes)
        (job_dir / f"{name}.json").write_bytes(json_bytes)
        files.append(name)
    clock.mark("copy")
    wiped = [_wipe(folder, state.mounts) for folder in state.scratch]
    state.dirty = not (all(wiped) and exchange_clean)
    clock.mark("wipe")
    status = seen["status"]
    oom_phase = phases.oom_phase
    exited = status >= 0 and os.WIFEXITED(status)
    died = os.WTERMSIG(status) if status >= 0 and os.WIFSIGNALED(status) else None
    return Reply("done", job.job, timed_out=seen["timed_out"], phases=len(files),
                 exit=os.WEXITSTATUS(status) if exited and oom_phase is None else None,
                 signal=signal.SIGKILL.value if oom_phase is not None and not seen["timed_out"] else died,
                 oom_kills=oom_kills,
                 stdout=seen["kept"]["out"].decode("utf-8", "replace"), stdout_bytes=seen["total"]["out"],
                 stderr=seen["kept"]["err"].decode("utf-8", "replace"), stderr_bytes=seen["total"]["err"],
                 files=tuple(files), refused=phases.refused, seconds=time.monotonic() - started,
                 isolation_seconds=created + (phases.setup or 0.0) + destroyed, cgroups=groups is not None,
                 isolation_parts={"limit": created, "enter": phases.setup or 0.0, "destroy": destroyed,
                                  "background": background, "spawn": spawned},
                 stages={**clock.stages, "enter": phases.setup or 0.0, "prepared": state.prepared_last})


def _settings(args: argparse.Namespace) -> Any:
    """Load torch, the assignment and everything each child needs, arm the tripwire: the children's child.Settings."""
    import numpy
    import numpy.random  # loaded once here, not in each child (45 ms): every graded call seeds it (generators)
    import torch

    from autograder.grading.runner.assignments import load_assignment

    torch.set_num_threads(1)
    assignment = load_assignment(args.checks, args.assignment)
    tripwire = None
    hide = list(args.hide)
    if assignment.forbidden:  # armed once, here: every child inherits it, and no original is left to find
        from autograder.checks.forbidden import arm_for_good
        from autograder.checks.pinning import pin_forbidden_modules

        # first: every module that holds a shortcut is loaded before arming, and stays the one loaded
        pinned = pin_forbidden_modules()
        tripwire = arm_for_good
        arm_for_good()
        if os.getpid() == 1:  # in the sandbox: cover their files once, here (no child can see them again)
            isolation.new_namespaces(pinned, isolation.CLONE_NEWNS)
        else:  # bare: each child covers them in its own mount namespace, where it can make one
            hide += pinned
    from autograder import plain  # imported before the runner is covered in the children

    # Children decode their inputs after dropping root: load now, once, every module that takes (zipfile's
    # cp437 codec, numpy's .npy reader, which plain falls back to), which a child's uid may not be able to read
    # (a Python under /root).
    json_bytes, npz_bytes = plain.dumps([{"x": torch.zeros(1)}])
    plain.loads(json_bytes, npz_bytes)
    with numpy.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
        npz["a0"]
    from autograder.grading.runner import child

    child.COURSE_PACKAGES.append(args.checks.partition(":")[0].split(".")[0])
    sandboxed = os.getpid() == 1
    # bare as root: no sandbox took the network away, so each child leaves it (the grader's service port, a Dask
    # scheduler, anything the machine reaches); in bubblewrap the worker's namespace already has none
    # likewise each gets /tmp, /var/tmp and /dev/shm of its own (bubblewrap gives the worker its own /tmp and /dev/shm,
    # wiped after each job), with what it needs from there bound back: a Python, checkout or OUT folder under /tmp
    # and, as bubblewrap binds Python with traversable parents, each reaches the interpreter's folders behind one its
    # uid cannot cross (a Python under /root, 0700): else a module not imported by now fails to import there only
    bare_root = args.uid_base >= 0 and not sandboxed
    needed = [args.home, *hide, *map(Path, (sys.prefix, sys.base_prefix, sys.exec_prefix)),
              *[Path(p) for p in sys.path if p]]
    keep = isolation.scratch_keeps(needed) if bare_root else None
    reach = isolation.reach_binds(needed) if bare_root else ()
    return child.Settings(args.exchange, args.home, assignment, tripwire, tuple(hide),
                          namespaces=args.uid_base >= 0 or sandboxed, network=bare_root, keep=keep, reach=reach)


def main(argv: list[str] | None = None) -> int | ChildJob:
    """Serve jobs from fd 0, answer on fd 1, until told to exit or the pipe closes.

    Returns the exit status; in a child the template forked, its job instead (see the end of this file).
    """
    parser = argparse.ArgumentParser(description="sandboxed grading worker (started by the grader)")
    parser.add_argument("--checks", required=True)
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--exchange", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--scratch", type=Path, action="append", default=[])
    parser.add_argument("--uid-base", type=int, default=-1, help="first uid of this worker's pool (-1: no switch)")
    parser.add_argument("--hide", type=Path, action="append", default=[],
                        help="folders each child covers before running student code (the runner)")
    parser.add_argument("--cgroup", action="append", default=[], help="KEY=PATH of this worker's cgroup folders")
    parser.add_argument("--cgroup-version", type=int, default=0)
    args = parser.parse_args(argv)
    proto_in, proto_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # stray prints must never corrupt the protocol
    _blank_command_line()
    _nondumpable()
    # a child that closed its inputs pipe must not kill the worker: writes fail with EPIPE instead
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    with without_collections():  # torch, the checks, the tripwire and the children's modules
        settings = _settings(args)
    forked = start_template(settings, keep=(1, 2))
    if isinstance(forked, ChildJob):
        return forked  # a submission's child: the template's frames are gone now
    groups = {key: Path(path) for key, _, path in (g.partition("=") for g in args.cgroup)}
    state = State(args.exchange, args.home, args.uid_base, settings.assignment, [args.home, *args.scratch],
                  _mounts_and_parents(), groups, args.cgroup_version, forked)
    del settings, forked
    try:
        prepare_next(state)  # the first job's child too, before the grader sends it
    except OSError:
        pass  # the first job tries again and reports what the kernel said
    protocol.send(proto_out, {"op": "ready", "pid": os.getpid()})
    while True:
        try:
            message = protocol.receive(proto_in)
        except protocol.ProtocolError:
            return 0
        if message.get("op") != "job":
            return 0
        stop = False
        try:
            reply = run_job(Job.from_json(message), state)
        except Exception as exc:  # noqa: BLE001 - report (a malformed job included), keep serving
            reply = Reply.failed(str(message.get("job"))[:limits.JOB_NAME_CHARS],
                                 f"{type(exc).__name__}: {exc}"[:limits.MESSAGE_CHARS])
            # no template (or one out of step with us): no more children here; the grader starts a new worker
            stop = isinstance(exc, TemplateError) or state.pending
        del message
        try:
            protocol.send(proto_out, reply.to_json())
        except OSError:
            return 0  # the grader is gone
        if stop or state.dirty:
            return 1
        del reply
        try:
            prepare_next(state)  # while the grader judges this reply
        except OSError:
            pass  # the next job tries again and reports what the kernel said
        except TemplateError:
            return 1  # no child can be trusted here any more: the grader starts a new worker


if __name__ == "__main__":
    # A child forked by the template returns here, with no frame of the worker or the template above it:
    # student code that walks its stack up reaches only the child module (child.py), this module's top level and runpy.
    _outcome = main()
    if not isinstance(_outcome, ChildJob):
        # nothing is left to clean up in here (the grader removes the cgroups), and tearing down an interpreter
        # that holds torch takes ~0.6 s, which the grader would wait for at the end of every batch
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_outcome)
    from autograder.grading.runner.child import child_main

    child_main(_outcome)
