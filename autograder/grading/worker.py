"""A persistent grading worker: imports torch once, then runs each submission in a fresh forked child.

Runs inside the sandbox (normally as PID 1 of its own PID namespace, so no student process can signal
it). For every job it makes the submission's cgroups, forks a child (autograder.grading.kernel) that
joins them, enters fresh IPC and mount namespaces and takes a uid of its own, polices its wall-clock
time (extended once per finished phase: the cells, then each question), caps its output, then kills
every process of the submission (the cgroups, then all else it can see), drops results of phases
during which the submission as a whole ran out of memory, copies the child's result files
(size-checked, no symlinks) to the exchange folder and wipes the scratch space. Talks to the grader
with length-prefixed JSON on fds 0/1.
"""

from __future__ import annotations

import argparse
import ctypes
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

from autograder.grading import cgroups, isolation, model
from autograder.grading.model import Job, Reply

MAX_RESULT_BYTES = 64 << 20


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


def _kill_others(child: int, uid: int) -> None:
    """SIGKILL every process but this worker: all of the PID namespace, else the child's group and uid."""
    for _ in range(200):
        if os.getpid() == 1:
            victims = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != 1]
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


def _wipe(folder: Path, keep: frozenset[Path] = frozenset()) -> None:
    """Remove everything inside `folder` except the mounts in `keep` and the root-owned folders above them."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry in keep:  # bwrap made these 0755 root folders: the student's uid cannot write into them
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            try:
                entry.unlink()
            except OSError:
                pass


def _copy_result(src: Path, dst: Path) -> bool:
    """Copy a regular file written by the child, refusing symlinks, devices and oversize files."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RESULT_BYTES:
            return False
        with os.fdopen(os.dup(fd), "rb") as f:
            dst.write_bytes(f.read(MAX_RESULT_BYTES + 1)[:MAX_RESULT_BYTES])
        return True
    finally:
        os.close(fd)


def _watch(pid: int, pipes: dict[int, str], timeout: float, phases: int, cap: int,
           oom_kills: Callable[[], int]) -> dict[str, Any]:
    """Wait for the child: collect capped output, extend the deadline per finished phase, kill at it.

    A progress line `setup <seconds>` (the child's isolation time) is recorded, not counted as a phase.
    `oom_phase` is the first phase during which the submission's cgroup had a process OOM-killed.
    """
    pidfd = os.pidfd_open(pid)
    kept = {"out": bytearray(), "err": bytearray()}
    total = {"out": 0, "err": 0}
    done_phases, timed_out, status = 0, False, None
    oom_phase: int | None = None
    setup: float | None = None
    partial = b""
    deadline = time.monotonic() + timeout
    open_fds = set(pipes)
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([pidfd, *open_fds], [], [], left)
        for fd in ready:
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                open_fds.discard(fd)
            elif pipes[fd] == "progress":
                *lines, partial = (partial + data).split(b"\n")
                partial = partial[-64:]
                for line in lines:
                    if line.startswith(b"setup ") and setup is None:
                        setup = _seconds(line[6:])
                    elif done_phases < phases:  # a child cannot buy more time than there are phases
                        if oom_phase is None and oom_kills():
                            oom_phase = done_phases
                        done_phases += 1
                        deadline = time.monotonic() + timeout
            else:
                name = pipes[fd]
                total[name] += len(data)
                kept[name] += data[: max(0, cap - len(kept[name]))]
    os.close(pidfd)
    return {"status": status, "timed_out": timed_out, "phases": done_phases, "kept": kept, "total": total,
            "open_fds": open_fds, "oom_phase": oom_phase, "setup": setup or 0.0}


def _seconds(text: bytes) -> float:
    """A non-negative float from the child's setup line (0.0 when garbled)."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value < 60.0 else 0.0


def _drain(fds: set[int], pipes: dict[int, str], kept: dict[str, bytearray], total: dict[str, int], cap: int) -> None:
    """Read what is left in the pipes once every writer is dead."""
    for fd in fds:
        while pipes[fd] != "progress":
            ready, _, _ = select.select([fd], [], [], 0)
            data = os.read(fd, 1 << 16) if ready else b""
            if not data:
                break
            total[pipes[fd]] += len(data)
            kept[pipes[fd]] += data[: max(0, cap - len(kept[pipes[fd]]))]


def _rss_anon() -> int:
    """Bytes of anonymous memory this worker holds: the most a forked child can copy-on-write of it."""
    for line in Path("/proc/self/status").read_text().splitlines():
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
    tripwire: Callable[[], Any] | None
    scratch: list[Path]
    mounts: frozenset[Path]
    hide: list[Path]
    groups: dict[str, Path]  # this worker's cgroup folders (KEY=PATH), empty without cgroups
    cgroup_version: int
    sandboxed: bool
    jobs: int = 0
    #: The next submission's cgroups, made while idle, and how long that took.
    next: cgroups.Job | None = None
    prepared_seconds: float = 0.0


def prepare_groups(state: State) -> None:
    """Make the next submission's cgroups and move this worker into them (done while idle: see cgroups)."""
    if not state.groups or state.next is not None:
        return
    started = time.perf_counter()
    job = cgroups.Job.create(state.groups, state.cgroup_version, f"job-{state.jobs + 1}")
    try:
        job.enter()
    except OSError:
        job.destroy()
        raise
    state.next, state.prepared_seconds = job, time.perf_counter() - started


def _job_groups(job: Job, state: State) -> cgroups.Job | None:
    """The submission's cgroups: memory_mb on top of what the forked interpreter may copy, 64 processes, the CPU
    weight of one process. None without cgroups."""
    if not state.groups:
        return None
    from autograder.grading import kernel

    prepare_groups(state)
    groups, state.next = state.next, None
    assert groups is not None  # prepare_groups made it or raised
    groups.limit((job.limits.memory_mb << 20) + _rss_anon(), kernel.Confinement.processes)
    return groups


def run_job(job: Job, state: State) -> Reply:
    """Run one submission in a forked child and report what happened (results stay in files)."""
    from autograder import plain
    from autograder.grading import kernel

    started = time.monotonic()
    job_dir = state.exchange / job.job
    questions = [state.assignment.question(g) for g in job.questions]
    cases = plain.load(job_dir / "cases")
    isolating = time.perf_counter()
    groups = _job_groups(job, state)  # before the job number moves on: prepared as job-<jobs + 1>
    created = time.perf_counter() - isolating
    state.jobs += 1
    home = state.home
    uid = isolation.uid_for(state.uid_base, state.jobs) if state.uid_base >= 0 else -1
    out_dir, work = home / ".out", home / "work"
    for folder in state.scratch:
        _wipe(folder, state.mounts)
    limits = kernel.Confinement(memory_mb=job.limits.memory_mb, uid=uid,
                                cpu_seconds=int(job.limits.timeout * (len(questions) + 1)) + 1,
                                hide=tuple(state.hide),
                                namespaces=state.uid_base >= 0 or state.sandboxed)
    for folder in (work, out_dir):  # made here: the child cannot create folders in the root-owned home
        folder.mkdir(mode=0o700)
        if uid >= 0:
            os.chown(folder, uid, uid)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    prog_r, prog_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: confine, then run student code; never returns
        try:
            for fd in (out_r, err_r, prog_r):
                os.close(fd)
            entered = time.perf_counter()
            kernel.confine(limits, out_w, err_w, prog_w, work)
            os.write(prog_w, f"setup {time.perf_counter() - entered:.6f}\n".encode())
            kernel.run(list(job.cells), questions, cases, out_dir, prog_w, state.tripwire)
        except BaseException:  # noqa: BLE001 - the confinement itself failed: say why, in the child's stderr
            import traceback

            traceback.print_exc()
        finally:
            os._exit(model.EXIT_RESULTS_UNWRITABLE)
    for fd in (out_w, err_w, prog_w):
        os.close(fd)
    leaving = time.perf_counter()
    if groups:
        groups.leave()  # the child runs meanwhile: this wait costs the submission nothing
    background = time.perf_counter() - leaving + state.prepared_seconds
    state.prepared_seconds = 0.0
    pipes = {out_r: "out", err_r: "err", prog_r: "progress"}
    cap = job.limits.output_bytes
    seen = _watch(pid, pipes, job.limits.timeout, len(questions) + 1, cap,
                  groups.oom_kills if groups else lambda: 0)
    tearing_down = time.perf_counter()
    oom_kills = groups.oom_kills() if groups else 0
    if groups:
        groups.destroy()  # every process of the submission, however it detached itself
    destroyed = time.perf_counter() - tearing_down
    _kill_others(pid, uid)
    if seen["status"] is None:
        try:
            _, seen["status"] = os.waitpid(pid, 0)
        except ChildProcessError:
            seen["status"] = -1
    _drain(seen["open_fds"], pipes, seen["kept"], seen["total"], cap)
    for fd in pipes:
        os.close(fd)
    # Only what the child left in its own out folder counts: anything else in the exchange folder (which a
    # child can reach when the grader does not run as root) is removed before the copies are made.
    _wipe(state.exchange, frozenset({job_dir}))
    _wipe(job_dir, frozenset({job_dir / "cases.json", job_dir / "cases.npz"}))
    # A phase during which the kernel killed one of the submission's processes for memory earns nothing,
    # even if the process it killed was a helper and the main one went on to finish.
    oom_phase = seen["oom_phase"] if seen["oom_phase"] is not None else (seen["phases"] if oom_kills else None)
    names = ["cells"] + [f"q{i}" for i in range(len(questions))]
    files = []
    for name in names[:oom_phase]:
        if all(_copy_result(out_dir / f"{name}{s}", job_dir / f"{name}{s}") for s in (".json", ".npz")):
            files.append(name)
    for folder in state.scratch:
        _wipe(folder, state.mounts)
    status = seen["status"]
    exited = status >= 0 and os.WIFEXITED(status)
    died = os.WTERMSIG(status) if status >= 0 and os.WIFSIGNALED(status) else None
    return Reply("done", job.job, timed_out=seen["timed_out"], phases=seen["phases"],
                 exit=os.WEXITSTATUS(status) if exited and oom_phase is None else None,
                 signal=signal.SIGKILL.value if oom_phase is not None and not seen["timed_out"] else died,
                 oom_kills=oom_kills,
                 stdout=seen["kept"]["out"].decode("utf-8", "replace"), stdout_bytes=seen["total"]["out"],
                 stderr=seen["kept"]["err"].decode("utf-8", "replace"), stderr_bytes=seen["total"]["err"],
                 files=tuple(files), seconds=time.monotonic() - started,
                 isolation_seconds=created + seen["setup"] + destroyed, cgroups=groups is not None,
                 isolation_parts={"limit": created, "enter": seen["setup"], "destroy": destroyed,
                                  "background": background})


def main(argv: list[str] | None = None) -> int:
    """Serve jobs from fd 0, answer on fd 1, until told to exit or the pipe closes."""
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
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    import torch

    from autograder.grading import protocol
    from autograder.grading.assignments import load_assignment

    torch.set_num_threads(1)
    assignment = load_assignment(args.checks, args.assignment)
    tripwire = None
    if assignment.forbidden:  # armed once, here: every child inherits it, and no original is left to find
        from autograder.checks.forbidden import arm_for_good

        tripwire = arm_for_good
        arm_for_good()
    from autograder import plain  # noqa: F401 - imported before the runner is covered in the children
    from autograder.grading import kernel

    kernel.COURSE_PACKAGES.append(args.checks.partition(":")[0].split(".")[0])
    groups = {key: Path(path) for key, _, path in (g.partition("=") for g in args.cgroup)}
    state = State(args.exchange, args.home, args.uid_base, assignment, tripwire, [args.home, *args.scratch],
                  _mounts_and_parents(), args.hide, groups, args.cgroup_version, sandboxed=os.getpid() == 1)
    protocol.send(proto_out, {"op": "ready", "pid": os.getpid()})
    while True:
        try:
            message = protocol.receive(proto_in)
        except protocol.ProtocolError:
            return 0
        if message.get("op") != "job":
            return 0
        try:
            reply = run_job(Job.from_json(message), state)
        except Exception as exc:  # noqa: BLE001 - report (a malformed job included), keep serving
            reply = Reply.failed(str(message.get("job"))[:100], f"{type(exc).__name__}: {exc}"[:500])
        protocol.send(proto_out, reply.to_json())
        try:
            prepare_groups(state)  # while the grader judges this reply
        except OSError:
            pass  # the next job tries again and reports what the kernel said


if __name__ == "__main__":
    sys.exit(main())
