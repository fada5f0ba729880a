"""Start and talk to sandboxed workers: bubblewrap when it works here, else rlimits only (with a LOUD warning).

The sandbox sees a read-only system (/usr, /etc, the Python install and the virtual environment),
a runner folder with only what the worker imports (the worker and its child, plain data, the tripwire and
the checks' calling side; the reference kernels and known-mistake kernels are replaced by empty
stubs, and the course repository, submissions, gradebook, grading key and solutions are not there),
a private /tmp and home on size-capped tmpfs, one exchange folder that only its root worker can
open, the worker's own cgroup folders, no network, its own PID/IPC/UTS namespaces and a neutral
hostname and environment. Each submission then gets its own IPC and mount namespaces, uid and
cgroups inside it (autograder.grading.runner.isolation, autograder.grading.runner.cgroups).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import py_compile
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from autograder import simd
from autograder.grading.runner import cgroups, fields, isolation, protocol, wire
from autograder.grading.runner.assignments import import_root

HOME = "/home/user"
#: matplotlib's and fontconfig's config and cache in the submission's own scratch /tmp (wiped after it): the
#: home is not the child's to write, and their complaints about it must not reach the student's feedback.
SCRATCH_CACHES = {"MPLCONFIGDIR": "/tmp/.matplotlib", "XDG_CACHE_HOME": "/tmp/.cache",
                  "XDG_CONFIG_HOME": "/tmp/.config"}
EXCHANGE = "/srv/io"
RUNNER = "/srv/runner"
CGROUP_DIR = "/srv/cgroup"
NO_SANDBOX_WARNING = ("WARNING: bubblewrap (bwrap) is not usable here: student code runs WITHOUT a sandbox "
                      "(rlimits and a separate process only; it can read your files and use the network). "
                      "Install bubblewrap before grading real submissions.")
NO_CGROUP_WARNING = ("WARNING: no usable cgroups (v2 with memory, pids and cpu delegated, or v1 with those "
                     "controllers writable as root): memory, process count and CPU are capped PER PROCESS only "
                     "(rlimits), so a submission can use more in total through many processes or shared memory, "
                     "and slow the other workers down. Run the grader as root on a machine with cgroups (with "
                     "cgroup v2 under systemd: systemd-run --scope -p Delegate=yes python -m autograder grade ...).")
#: Capabilities the root worker keeps inside the sandbox to confine, signal and clean up after the child;
#: the child loses all of them when it switches to its unprivileged uid.
#: CAP_SYS_ADMIN lets the child enter fresh IPC and mount namespaces (and hide the runner) before that.
WORKER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
               "CAP_SYS_ADMIN")
#: Parts of the course package the sandbox must not contain: a stub with no code stands in for each.
WITHHELD = ("reference", "checks/mistakes")
#: The folder of the course package that ships into the sandbox whole: the worker, the template, the child
#: and what they import (runner/__init__.py); nothing else of autograder/grading.
RUNNER_FOLDER = "grading/runner"
#: The other course files the runner imports (the package markers, two plain-data helpers, message records).
RUNNER_FILES = ("__init__.py", "plain.py", "device.py", "message.py", "grading/__init__.py")


def runner_modules() -> list[str]:
    """Every file that ships into the sandbox as the runner, relative to the course package."""
    package = import_root("autograder.grading.runner.worker:main")[1]
    folder = sorted(p.relative_to(package).as_posix() for p in (package / RUNNER_FOLDER).rglob("*.py"))
    return [*RUNNER_FILES, *folder]
#: What student code sees in place of the runner: what the released notebooks' setup cells import, and
#: no-op `check`/`grade` (test cells never run in the sandbox). No checks, reference or known mistakes.
FACADE_MODULES = ("device.py", "checks/exploding_task.py")
FACADE_CHECKS = '''"""In the grading sandbox test cells do not run: the grader judges the answers outside it."""


def check(*args, **kwargs):
    """Does nothing here."""


def grade(*args, **kwargs):
    """Does nothing here."""
'''
STUB = '''"""Withheld from the grading sandbox: answers are judged outside it, so nothing here computes anything."""


class _Withheld:
    """Stands in for every name: calling, indexing or iterating it gives nothing usable."""

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key):
        return self

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __repr__(self):
        return "<withheld from the grading sandbox>"


WITHHELD = _Withheld()


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return WITHHELD
'''


#: Grading runs on the CPU: a GPU would not fit the per-submission memory limit (CUDA reserves far more
#: address space than RLIMIT_AS allows) and the reference comparison is float64 on the CPU anyway.
CPU_ONLY = {"COURSE_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": ""}
#: glibc's malloc asks for transparent huge pages: torch's ~85 MB of heap then takes ~40 page-table entries
#: instead of ~21,000, which is what forking each submission's child from the template, and its exit, spend
#: their time copying and tearing down (~5 ms each -> ~2 ms). A child's write still copies 4 KiB (the kernel
#: splits a shared huge page first), so what a submission is charged for is unchanged.
HUGE_HEAP = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
#: Where glibc reads whether the kernel gives huge pages on request (without it, HUGE_HEAP does nothing).
THP_SETTINGS = "/sys/kernel/mm/transparent_hugepage"


def simd_level() -> dict[str, str]:
    """The grader's torch SIMD level, passed on to its workers: student code and the judge must run the same
    kernels (ATEN_CPU_CAPABILITY), or a float32 history near convergence differs by more than its tolerance."""
    level = os.environ.get(simd.ENV, "")
    return {simd.ENV: level} if level.isalnum() else {}


class WorkerDied(RuntimeError):
    """The worker process stopped answering (crashed, was killed, or broke the protocol)."""


class StartFailed(WorkerDied):
    """A sandboxed worker could not be started, again: the machine's fault, never a submission's (its log says why);
    grading stops instead of recording an error for every student."""


def bwrap_usable() -> bool:
    """True when `bwrap` exists and can start a minimal sandbox on this machine."""
    if shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--die-with-parent"]
    if os.geteuid() != 0:
        probe.append("--unshare-user")
    try:
        return subprocess.run([*probe, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def interpreter() -> str:
    """This Python as a sandbox can run it: the folder holding the executable resolved (a virtual environment
    reached through a symlink, a home folder that is a link, is bound at its real place), the executable's own name
    kept (the environment's pyvenv.cfg is found from it)."""
    executable = Path(sys.executable)
    return str(executable.parent.resolve() / executable.name)


def _readonly_binds() -> list[str]:
    """--ro-bind arguments for the system, Python and the virtual environment (never the course's own code)."""
    args: list[str] = []
    for top in ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin", "/lib32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.exists():
            args += ["--ro-bind", top, top]
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sysconfig.get_paths()["purelib"])}
    resolved = sorted({p.resolve() for p in paths})
    outer = [p for p in resolved if not str(p).startswith(("/usr/", "/etc/"))
             and not any(q != p and q in p.parents for q in resolved)]
    # bwrap would create the parents of a bind as 0700 root dirs the student's uid cannot cross
    parents = sorted({a for p in outer for a in p.parents if a != Path("/")}, key=lambda a: len(a.parts))
    for parent in parents:
        args += ["--perms", "0755", "--dir", str(parent)]
    for path in outer:
        args += ["--ro-bind", str(path), str(path)]
    if Path(THP_SETTINGS).is_dir():  # read-only: the machine's huge-page policy, nothing of anyone's
        sys_dirs = ("/sys", "/sys/kernel", "/sys/kernel/mm")
        args += [a for folder in sys_dirs for a in ("--perms", "0755", "--dir", folder)]
        args += ["--ro-bind", THP_SETTINGS, THP_SETTINGS]
    return args


def _fresh_bytecode(source: Path) -> Path | None:
    """The interpreter's cached bytecode of `source` when it was compiled from this very file (same mtime and
    size, the default timestamp check), compiling it there first if need be; None when it cannot be had."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    stat = source.stat()
    wanted = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little") \
        + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")

    def fresh() -> bool:
        try:
            with cached.open("rb") as file:
                return file.read(16) == wanted
        except OSError:
            return False
    if not fresh():
        try:
            py_compile.compile(str(source), str(cached), doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        except (OSError, py_compile.PyCompileError):  # a read-only install: the sandbox compiles it then
            return None
    return cached if fresh() else None


def _copy_source(src: Path, dst: Path) -> None:
    """Copy one module and its bytecode: the sandbox's Python writes none (read-only, PYTHONDONTWRITEBYTECODE), so
    without it every worker compiles the runner again, and every child the modules student code imports."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    stat = src.stat()
    os.utime(dst, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the bytecode's header names the source's mtime
    cached = _fresh_bytecode(src)
    if cached is not None:
        target = Path(importlib.util.cache_from_source(str(dst)))
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(cached, target)


def _copy_package(src: Path, dst: Path, withheld: tuple[str, ...] = ()) -> None:
    """Copy the .py files of a package tree, with a stub package in place of each withheld sub-folder."""
    for file in sorted(src.rglob("*.py")):
        relative = file.relative_to(src)
        if any(relative.as_posix().startswith(w + "/") for w in withheld):
            continue
        _copy_source(file, dst / relative)
    for name in withheld:
        (dst / name).mkdir(parents=True, exist_ok=True)
        (dst / name / "__init__.py").write_text(STUB)


def build_runner(dest: Path, checks: str) -> Path:
    """Write the folder the sandbox imports from: the runner's modules, the checks (minus withheld parts)."""
    shutil.rmtree(dest, ignore_errors=True)
    package = import_root("autograder.grading.runner.worker:main")[1]
    for name in runner_modules():
        _copy_source(package / name, dest / "autograder" / name)
    _copy_package(package / "checks", dest / "autograder" / "checks",
                  tuple(w.removeprefix("checks/") for w in WITHHELD if w.startswith("checks/")))
    for name in WITHHELD:
        if not name.startswith("checks/"):
            (dest / "autograder" / name).mkdir(parents=True, exist_ok=True)
            (dest / "autograder" / name / "__init__.py").write_text(STUB)
    top = import_root(checks)[1]
    if top != package:  # a course whose checks live in their own package (the tests' fake course)
        if top.is_dir():
            _copy_package(top, dest / top.name)
        else:
            _copy_source(top, dest / top.name)
    facade = dest / isolation.FACADE / "autograder"
    (facade / "checks").mkdir(parents=True)
    (facade / "__init__.py").write_text('"""What the grading sandbox shows of the course: the device, the task."""\n')
    (facade / "checks" / "__init__.py").write_text(FACADE_CHECKS)
    for name in FACADE_MODULES:
        if (package / name).exists():
            _copy_source(package / name, facade / name)
    for folder in [dest, *[d for d in dest.rglob("*") if d.is_dir()]]:
        folder.chmod(0o755)
    return dest


def worker_argv(checks: str, assignment_id: str, exchange: Path, index: int, sandboxed: bool,
                runner: Path | None = None, groups: dict[str, Path] | None = None, cgroup_version: int = 0,
                uid_base: int = -1) -> list[str]:
    """The command line of worker `index`: inside bubblewrap, or bare (fallback).

    `runner` is the folder from `build_runner` (default: next to the exchange folder); `groups` are the
    worker's own cgroup folders from `cgroups.create_worker_groups`, bound into the sandbox; `uid_base`
    the first uid of the pool the worker holds (isolation.claim_slot; -1: submissions keep our uid).
    """
    runner = runner or exchange.parent / f"runner-{index}"
    groups = groups or {}
    inner_runner = RUNNER if sandboxed else str(runner)
    inner_groups = {key: (f"{CGROUP_DIR}/{key}" if sandboxed else str(path)) for key, path in groups.items()}
    python = [interpreter(), "-s", "-m", "autograder.grading.runner.worker", "--checks", checks,
              "--assignment", assignment_id, "--uid-base", str(uid_base), "--hide", inner_runner,
              "--cgroup-version", str(cgroup_version),
              *[a for key, path in inner_groups.items() for a in ("--cgroup", f"{key}={path}")]]
    if not sandboxed:
        return [*python, "--exchange", str(exchange), "--home", str(exchange.parent / f"home-{index}")]
    namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    # As real root a user namespace would map us to uid 0 again (exempt from RLIMIT_NPROC); instead
    # the worker keeps a few capabilities and the child switches to an unprivileged uid.
    privileges = ["--cap-drop", "ALL", *[a for cap in WORKER_CAPS for a in ("--cap-add", cap)]] \
        if os.geteuid() == 0 else ["--unshare-user"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": HOME, "USER": "user", "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", **CPU_ONLY, **simd_level(),
           **HUGE_HEAP,
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": RUNNER, **SCRATCH_CACHES}
    setenv = [a for key, value in env.items() for a in ("--setenv", key, value)]
    cgroup_binds = [a for key, path in groups.items() for a in ("--bind", str(path), f"{CGROUP_DIR}/{key}")]
    # The private /tmp and home come first: bwrap applies mounts in order, so a virtual environment
    # or checkout that lives under /tmp (a CI clone, say) is bound on top of the tmpfs, not hidden by it.
    return ["bwrap", "--die-with-parent", "--new-session", "--as-pid-1", *namespaces, *privileges,
            "--perms", "1777", "--size", str(256 << 20), "--tmpfs", "/tmp",
            "--size", str(512 << 20), "--tmpfs", HOME,
            *_readonly_binds(), "--perms", "0755", "--dir", "/srv", "--perms", "0700", "--dir", CGROUP_DIR,
            "--ro-bind", str(runner), RUNNER, "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm",  # bwrap's own is uncapped
            "--bind", str(exchange), EXCHANGE, *cgroup_binds,
            "--hostname", "localhost", "--chdir", HOME, "--clearenv", *setenv,
            *python, "--exchange", EXCHANGE, "--home", HOME, "--scratch", "/tmp", "--scratch", "/dev/shm"]


@functools.cache
def cgroup_layout() -> cgroups.Layout | None:
    """The cgroup layout workers get their per-submission groups from, or None (then NO_CGROUP_WARNING)."""
    layout = cgroups.discover()
    if layout is not None:
        _kill_sandboxes_binding(cgroups.remove_stale(layout))
    return layout


def _kill_sandboxes_binding(folders: list[Path]) -> None:
    """SIGKILL every bubblewrap still binding one of a dead grader's worker cgroup `folders`: a sandbox whose
    bubblewrap the grader's death killed right after the clone waits for its go-ahead for ever (see Worker._kill)."""
    wanted = {b"\0--bind\0" + bytes(folder) + b"\0" for folder in folders}
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            if command.startswith(b"bwrap\0") and any(w in command for w in wanted):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to kill
            continue


def cgroup_warning() -> str | None:
    """NO_CGROUP_WARNING when submissions cannot be accounted as a whole here, else None."""
    return None if cgroup_layout() is not None else NO_CGROUP_WARNING


@dataclass
class Worker:
    """One running worker process, the pipes to it, and its cgroup folders."""

    index: int
    process: subprocess.Popen[bytes]
    exchange: Path
    groups: dict[str, Path] = field(default_factory=dict)
    cgroup_version: int = 0
    #: The pool of uids this worker holds while it lives (None: not root, submissions keep our uid).
    uids: isolation.SlotClaim | None = None

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        """(stdin, stdout) of the worker process (always piped: see start_worker)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def request(self, job: wire.Job, wait: float) -> wire.Reply:
        """Send a job and wait at most `wait` seconds for its reply; WorkerDied otherwise."""
        stdin, stdout = self._pipes()
        try:
            protocol.send(stdin.fileno(), job.to_json())
            ready, _, _ = select.select([stdout.fileno()], [], [], wait)
            if not ready:
                raise WorkerDied(f"worker {self.index} did not answer within {wait:.0f} s")
            raw = protocol.receive(stdout.fileno())
        except (OSError, protocol.ProtocolError) as exc:
            raise WorkerDied(f"worker {self.index} stopped: {exc}") from None
        try:
            reply = wire.Reply.from_json(raw)
        except fields.BadRecord as exc:
            raise WorkerDied(f"worker {self.index} sent a malformed reply: {exc}") from None
        if reply.job != job.job:
            raise WorkerDied(f"worker {self.index} answered out of turn: {str(raw)[:200]}")
        return reply

    def _kill(self) -> None:
        """SIGKILL the worker's whole process group (its session, started for it), not its first process alone.

        Killed alone, a bubblewrap that has just cloned its sandbox leaves that sandbox's first process waiting for
        ever for the go-ahead bubblewrap never sends (it reads an eventfd, which has no end-of-file), orphaned, and
        not yet in a session of its own: in bubblewrap's group, so this kills it too."""
        if self.process.returncode is not None:  # reaped: its pid, and so the group's id, may name another now
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self, at_once: bool = False) -> None:
        """Ask the worker to exit (`at_once`: kill it, a worker still starting, say), then make sure it has, and
        remove its cgroups with anything left in them."""
        stdin, stdout = self._pipes()
        try:
            if at_once:
                raise OSError("killed at once")
            protocol.send(stdin.fileno(), {"op": "exit"})
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, protocol.ProtocolError):
            self._kill()
            self.process.wait()
        for stream in (stdin, stdout):
            stream.close()
        if self.groups:
            cgroups.remove_groups(self.groups, self.cgroup_version)
        if self.uids is not None:
            self.uids.release()  # the sandbox and every process in it are gone: the pool may be reused


def start_worker(index: int, checks: str, assignment_id: str, exchange: Path, sandboxed: bool,
                 log: Path, wait: float = 180.0, cancel: Callable[[], bool] | None = None) -> Worker:
    """Start worker `index` and wait for its 'ready' (it imports torch and the checks once, here); once `cancel()`
    says so while it starts, kill it and raise WorkerDied (a worker started ahead of work nobody needs now)."""
    return wait_ready(launch_worker(index, checks, assignment_id, exchange, sandboxed, log), log, wait, cancel)


#: Numbers the worker launches of this process (each worker's cgroup folders are named by one).
_LAUNCHES = itertools.count()


def launch_worker(index: int, checks: str, assignment_id: str, exchange: Path, sandboxed: bool, log: Path) -> Worker:
    """Start worker `index`'s process (its runner folder, cgroups and uids first) without waiting for it (~40 ms).

    Its sandbox dies with the thread that calls this (bubblewrap's --die-with-parent): call it from a thread
    that outlives the worker. Run it where nothing holds the interpreter lock meanwhile: a thread that has to
    share it with one importing torch takes ten times as long to get here (see starting.Early)."""
    exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(exchange, 0o700)
    if not sandboxed:  # the bare worker's scratch home must be reachable by the child's uid
        (exchange.parent / f"home-{index}").mkdir(mode=0o755, exist_ok=True)
        os.chmod(exchange.parent, os.stat(exchange.parent).st_mode | 0o111)  # traversable, not listable
    runner = build_runner(exchange.parent / f"runner-{index}", checks)
    layout = cgroup_layout()
    groups: dict[str, Path] = {}
    if layout is not None:
        # a name of this launch's own: several pools in one process (the service's, one per assignment) have
        # workers of the same index, and a worker's groups are removed, its processes killed, when it stops
        name = cgroups.worker_group_name(os.getpid(), next(_LAUNCHES))
        groups = cgroups.create_worker_groups(layout, name)
    version = layout.version if layout is not None else 0
    uids = isolation.claim_slot(isolation.preferred_slot(os.getpid(), index)) if os.geteuid() == 0 else None
    argv = worker_argv(checks, assignment_id, exchange, index, sandboxed, runner, groups, version,
                       uids.uid_base if uids else -1)
    env = None if sandboxed else {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
                                  "OMP_NUM_THREADS": "1", "PYTHONPATH": str(runner), **CPU_ONLY, **simd_level(),
                                  **HUGE_HEAP}
    # 0600, as everything in OUT/logs/ (a worker's log may quote a student's code or output)
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log_file:
        # bare: start in the runner, or `python -m` would import the grader's own checkout from the cwd
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                                   env=env, start_new_session=True, cwd=None if sandboxed else runner)
    return Worker(index=index, process=process, exchange=exchange, groups=groups, cgroup_version=version, uids=uids)


def wait_ready(worker: Worker, log: Path, wait: float = 180.0, cancel: Callable[[], bool] | None = None) -> Worker:
    """The launched `worker` once it says 'ready' (WorkerDied, and the worker stopped, if it does not within `wait`
    seconds, or as soon as `cancel()` says so)."""
    stdout = worker._pipes()[1]
    deadline = time.monotonic() + wait
    ready: list[int] = []
    while not ready and time.monotonic() < deadline:
        if cancel is not None and cancel():
            worker.stop(at_once=True)
            raise WorkerDied(f"worker {worker.index}: start cancelled, no work left for it")
        slice_ = deadline - time.monotonic() if cancel is None else min(0.05, deadline - time.monotonic())
        ready, _, _ = select.select([stdout.fileno()], [], [], max(0.0, slice_))
    try:
        if not ready or protocol.receive(stdout.fileno()).get("op") != "ready":
            raise protocol.ProtocolError("no ready message")
    except protocol.ProtocolError as exc:
        worker.stop()
        raise WorkerDied(f"worker {worker.index} failed to start ({exc}); see {log}") from None
    return worker
