"""The leftover-process killer, watched by what survives (issue 18 §6): with cgroups switched off, as root, a
daemon a submission leaves behind must be gone before the next submission on the same worker runs.

As root the per-submission cgroup teardown kills leftovers too, which hides a broken killer; here the
worker is started with no cgroup layout (`sandbox.cgroup_layout` returns None, as on a machine without
usable cgroups), so the killer in the worker is the only thing between one submission and the next.
Run in bubblewrap (the worker is PID 1 of its namespace) and in the bare fallback (uid and process group).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))

from autograder import plain
from autograder.grading.core import sandbox
from autograder.grading.runner.wire import Job, Limits, RunCell

ROOT = os.geteuid() == 0
pytestmark = pytest.mark.skipif(not ROOT, reason="the no-cgroup path of the killer runs only as root here")
CHECKS = "fakecourse.checks:get_assignment"

#: A daemon in a session of its own (double fork, then a shell loop with the marker in its command line),
#: which the submission checks is running before it ends.
DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sh", ["sh", "-c", "while :; do sleep 1; done", "{marker}"])
    os._exit(0)
for _ in range(200):
    if {finder}:
        break
    time.sleep(0.02)
print("ALIVE", {finder})
"""
#: True when some process this one can see has the marker in its command line.
FINDER = ("any(b'{marker}' in open(f'/proc/{{p}}/cmdline', 'rb').read() for p in os.listdir('/proc') "
          "if p.isdigit() and os.path.exists(f'/proc/{{p}}/cmdline'))")


def _running(marker: str) -> list[int]:
    """Host pids whose command line holds `marker` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _run(worker: Any, name: str, source: str) -> str:
    """Run one single-cell submission on the worker; its printed output."""
    (worker.exchange / name).mkdir()
    plain.dump({}, worker.exchange / name / "cases")
    reply = worker.request(Job(name, (RunCell("c", source, True),), (), Limits(20.0, 256, 1 << 16)), wait=120)
    return reply.stdout + reply.stderr


@pytest.fixture(params=["bubblewrap", "bare"], scope="module")
def worker_without_cgroups(request: pytest.FixtureRequest) -> Any:
    """A worker started as root with cgroups switched off (bubblewrap, or the bare fallback)."""
    if request.param == "bubblewrap" and not sandbox.bwrap_usable():
        pytest.skip("bubblewrap is not usable here")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox, "cgroup_layout", lambda: None)
        # the bare child's uid must be able to cross into its home: pytest's own tmp folders are 0700
        tmp = Path(tempfile.mkdtemp(prefix=f"leftovers-{request.param}-"))
        tmp.chmod(0o755)
        started = sandbox.start_worker(0, CHECKS, "fake", tmp / "exchange-0", request.param == "bubblewrap",
                                       tmp / "worker.log")
    assert not started.groups, "cgroups were not switched off: the test would prove nothing"
    yield started
    started.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_daemon_left_by_a_submission_is_gone_before_the_next(worker_without_cgroups: Any) -> None:
    """The first submission starts a detached daemon and sees it running; once its reply is in, no such process
    exists on the machine, and the next submission on the same worker does not find it either."""
    marker = f"leftover-{secrets.token_hex(8)}"
    finder = FINDER.format(marker=marker)
    first = _run(worker_without_cgroups, "job-daemon", DAEMON.format(marker=marker, finder=finder))
    assert "ALIVE True" in first, f"the daemon never ran: the test would prove nothing ({first[-500:]})"
    assert _running(marker) == [], "the daemon outlived its submission"
    second = _run(worker_without_cgroups, "job-next", f"import os\nprint('FOUND', {finder})\n")
    assert "FOUND False" in second, second[-500:]


def test_a_submission_reaches_no_network(worker_without_cgroups: Any) -> None:
    """Not even the machine's loopback: a port the grader's side listens on (the service's, a Dask scheduler's) is
    out of reach, in bubblewrap and in the bare fallback as root (a network namespace of the child's own)."""
    import socket

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        source = (f"import socket\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(('127.0.0.1', {port}))\n"
                  f"    print('REACHED')\nexcept OSError as exc:\n    print('REFUSED', type(exc).__name__)\n"
                  f"print('LINKS', [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]])\n")
        out = _run(worker_without_cgroups, "job-network", source)
    assert "REFUSED" in out and "REACHED" not in out, out[-500:]
    assert "LINKS ['lo']" in out, out[-500:]


#: Leaves a world-readable file in each shared scratch folder it can write, and lists what it found of a world-readable
#: file the machine keeps in /tmp.
SCRATCH = """
import os
left = []
for folder in ('/tmp', '/var/tmp', '/dev/shm'):
    try:
        with open(os.path.join(folder, '{marker}'), 'w') as f:
            f.write('answers')
        os.chmod(os.path.join(folder, '{marker}'), 0o644)
        left.append(folder)
    except OSError:
        pass
# what it may write in its working folder: bubblewrap's tmpfs home, or the bare child's own (never the machine's disk)
room = os.statvfs('.')
print('LEFT', left, 'HOST', os.path.exists('{host}'), 'ROOM', room.f_blocks * room.f_frsize <= 512 << 20)
"""


def test_files_left_in_shared_scratch_folders_reach_neither_the_next_submission_nor_the_machine(
        worker_without_cgroups: Any) -> None:
    """A file a submission leaves in /tmp, /var/tmp or /dev/shm (world-readable) is gone for the next submission on
    the worker and was never on the machine's own folders; the machine's /tmp is not the submission's either; and
    its working folder is capped (a tmpfs), so it cannot fill the machine's disk under everyone else's grading."""
    marker = f"leftover-{secrets.token_hex(8)}"
    host = Path(tempfile.gettempdir()) / f"host-{marker}"
    host.write_text("someone else's")
    host.chmod(0o644)
    try:
        first = _run(worker_without_cgroups, "job-scratch", SCRATCH.format(marker=marker, host=host))
        assert "LEFT ['/tmp'" in first and "HOST False" in first and "ROOM True" in first, first[-500:]
        machine = [folder for folder in ("/tmp", "/var/tmp", "/dev/shm") if Path(folder, marker).exists()]
        assert machine == [], f"left on the machine in {machine}"
        found = "import os\nprint('FOUND', [f for f in ('/tmp', '/var/tmp', '/dev/shm') " \
                f"if os.path.exists(os.path.join(f, '{marker}'))])\n"
        second = _run(worker_without_cgroups, "job-scratch-next", found)
        assert "FOUND []" in second, second[-500:]
    finally:
        host.unlink()
        for folder in ("/tmp", "/var/tmp", "/dev/shm"):
            Path(folder, marker).unlink(missing_ok=True)


#: Modules the worker has not imported (the child checks), from the standard library and from site-packages
#: (matplotlib's cycler), and a file the machine keeps beside the interpreter's folders.
IMPORTS = """
import sys
wanted = ('shlex', 'colorsys', 'cycler')
print('LOADED', [m for m in wanted if m in sys.modules])
for name in wanted:
    try:
        __import__(name)
        print('IMPORTED', name)
    except Exception as exc:
        print('FAILED', name, exc)
try:
    print('READ', open('{secret}').read())
except OSError as exc:
    print('UNREADABLE', type(exc).__name__)
"""


def test_a_module_not_imported_yet_imports_in_every_mode_and_nothing_else_beside_python_is_read(
        worker_without_cgroups: Any) -> None:
    """Python under a folder the child's uid cannot cross (/root, 0700): in the bare fallback as root a module the
    worker had not imported failed to import (the same cell worked in bubblewrap, a grade depending on the mode).
    Now in both it imports, and a file in that folder stays out of reach."""
    python = Path(sys.base_prefix).resolve()
    # the outermost folder above Python that others cannot cross (here /root, where pyenv keeps it)
    folder = next((p for p in reversed(python.parents) if not p.stat().st_mode & 0o001), Path("/root"))
    secret = folder / f"secret-{secrets.token_hex(8)}"
    secret.write_text("the gradebook")
    secret.chmod(0o644)
    try:
        out = _run(worker_without_cgroups, "job-imports", IMPORTS.format(secret=secret))
    finally:
        secret.unlink()
    assert "LOADED []" in out, f"the worker imported them already: the test would prove nothing ({out[-500:]})"
    assert all(f"IMPORTED {name}" in out for name in ("shlex", "colorsys", "cycler")), out[-800:]
    assert "UNREADABLE" in out and "the gradebook" not in out, out[-500:]
