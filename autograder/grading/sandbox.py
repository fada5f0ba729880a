"""Start and talk to sandboxed workers: bubblewrap when it works here, else rlimits only (with a LOUD warning).

The sandbox sees a read-only system (/usr, /etc, the Python install, the virtual environment and
the package that holds the checks — never the course repository, submissions, gradebook or
solutions), a private /tmp and home on size-capped tmpfs, one exchange folder that only its root
worker can open, no network, its own PID/IPC/UTS namespaces and a neutral hostname and environment.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.grading import protocol
from autograder.grading.assignments import import_root

HOME = "/home/user"
EXCHANGE = "/srv/io"
NO_SANDBOX_WARNING = ("WARNING: bubblewrap (bwrap) is not usable here: student code runs WITHOUT a sandbox "
                      "(rlimits and a separate process only; it can read your files and use the network). "
                      "Install bubblewrap before grading real submissions.")
#: Capabilities the root worker keeps inside the sandbox to confine, signal and clean up after the child;
#: the child loses all of them when it switches to its unprivileged uid.
WORKER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")


#: Grading runs on the CPU: a GPU would not fit the per-submission memory limit (CUDA reserves far more
#: address space than RLIMIT_AS allows) and the reference comparison is float64 on the CPU anyway.
CPU_ONLY = {"COURSE_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": ""}


class WorkerDied(RuntimeError):
    """The worker process stopped answering (crashed, was killed, or broke the protocol)."""


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


def _readonly_binds(checks: str) -> list[str]:
    """--ro-bind arguments for the system, Python, the venv and the package roots the worker imports."""
    args: list[str] = []
    for top in ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin", "/lib32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.exists():
            args += ["--ro-bind", top, top]
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sysconfig.get_paths()["purelib"])}
    for checks_ref in ("autograder.grading.worker:main", checks):
        paths.add(import_root(checks_ref)[1])
    resolved = sorted({p.resolve() for p in paths})
    outer = [p for p in resolved if not str(p).startswith(("/usr/", "/etc/"))
             and not any(q != p and q in p.parents for q in resolved)]
    # bwrap would create the parents of a bind as 0700 root dirs the student's uid cannot cross
    parents = sorted({a for p in outer for a in p.parents if a != Path("/")}, key=lambda a: len(a.parts))
    for parent in parents:
        args += ["--perms", "0755", "--dir", str(parent)]
    for path in outer:
        args += ["--ro-bind", str(path), str(path)]
    return args


def _pythonpath(checks: str) -> str:
    """PYTHONPATH with the roots that hold autograder and the checks module."""
    roots = {str(import_root("autograder.grading.worker:main")[0]), str(import_root(checks)[0])}
    return ":".join(sorted(roots))


def worker_argv(checks: str, assignment_id: str, exchange: Path, index: int, sandboxed: bool) -> list[str]:
    """The command line of worker `index`: inside bubblewrap, or bare (fallback)."""
    is_root = os.geteuid() == 0
    uid = 200_000 + (os.getpid() % 100_000) * 8 + index if is_root else -1  # unprivileged, one per worker
    python = [sys.executable, "-s", "-m", "autograder.grading.worker", "--checks", checks,
              "--assignment", assignment_id, "--uid", str(uid)]
    if not sandboxed:
        return [*python, "--exchange", str(exchange), "--home", str(exchange.parent / f"home-{index}")]
    namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    # As real root a user namespace would map us to uid 0 again (exempt from RLIMIT_NPROC); instead
    # the worker keeps a few capabilities and the child switches to an unprivileged uid.
    privileges = ["--cap-drop", "ALL", *[a for cap in WORKER_CAPS for a in ("--cap-add", cap)]] if is_root \
        else ["--unshare-user"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": HOME, "USER": "user", "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", **CPU_ONLY,
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": _pythonpath(checks)}
    setenv = [a for key, value in env.items() for a in ("--setenv", key, value)]
    # The private /tmp and home come first: bwrap applies mounts in order, so a virtual environment
    # or checkout that lives under /tmp (a CI clone, say) is bound on top of the tmpfs, not hidden by it.
    return ["bwrap", "--die-with-parent", "--new-session", "--as-pid-1", *namespaces, *privileges,
            "--perms", "1777", "--size", str(256 << 20), "--tmpfs", "/tmp",
            "--size", str(512 << 20), "--tmpfs", HOME,
            *_readonly_binds(checks), "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm",  # bwrap's own is uncapped
            "--bind", str(exchange), EXCHANGE,
            "--hostname", "localhost", "--chdir", HOME, "--clearenv", *setenv,
            *python, "--exchange", EXCHANGE, "--home", HOME, "--scratch", "/tmp", "--scratch", "/dev/shm"]


@dataclass
class Worker:
    """One running worker process and the pipes to it."""

    index: int
    process: subprocess.Popen[bytes]
    exchange: Path

    def request(self, job: dict[str, Any], wait: float) -> dict[str, Any]:
        """Send a job and wait at most `wait` seconds for its reply; WorkerDied otherwise."""
        try:
            protocol.send(self.process.stdin.fileno(), {"op": "job", **job})
            ready, _, _ = select.select([self.process.stdout.fileno()], [], [], wait)
            if not ready:
                raise WorkerDied(f"worker {self.index} did not answer within {wait:.0f} s")
            reply = protocol.receive(self.process.stdout.fileno())
        except (OSError, protocol.ProtocolError) as exc:
            raise WorkerDied(f"worker {self.index} stopped: {exc}") from None
        if reply.get("job") != job["job"] or reply.get("op") not in ("done", "failed"):
            raise WorkerDied(f"worker {self.index} answered out of turn: {str(reply)[:200]}")
        return reply

    def stop(self) -> None:
        """Ask the worker to exit, then make sure it has."""
        try:
            protocol.send(self.process.stdin.fileno(), {"op": "exit"})
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, protocol.ProtocolError):
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


def start_worker(index: int, checks: str, assignment_id: str, exchange: Path, sandboxed: bool,
                 log: Path, wait: float = 180.0) -> Worker:
    """Start worker `index` and wait for its 'ready' (it imports torch and the checks once, here)."""
    exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(exchange, 0o700)
    if not sandboxed:  # the bare worker's scratch home must be reachable by the child's uid
        (exchange.parent / f"home-{index}").mkdir(mode=0o755, exist_ok=True)
    argv = worker_argv(checks, assignment_id, exchange, index, sandboxed)
    env = None if sandboxed else {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
                                  "OMP_NUM_THREADS": "1", "PYTHONPATH": _pythonpath(checks), **CPU_ONLY}
    with open(log, "ab") as log_file:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                                   env=env, start_new_session=True)
    worker = Worker(index=index, process=process, exchange=exchange)
    ready, _, _ = select.select([process.stdout.fileno()], [], [], wait)
    try:
        if not ready or protocol.receive(process.stdout.fileno()).get("op") != "ready":
            raise protocol.ProtocolError("no ready message")
    except protocol.ProtocolError as exc:
        worker.stop()
        raise WorkerDied(f"worker {index} failed to start ({exc}); see {log}") from None
    return worker
