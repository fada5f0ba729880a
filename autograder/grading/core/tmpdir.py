"""The grader's temporary folder (exchange folders, hidden inputs, worker runners): gone however the grader ends.

A grader killed outright (SIGKILL) cannot remove its folder, so each folder has a reaper: a small process in a
session of its own that removes the folder once the grader's end of a pipe to it closes, which the kernel does
when the grader dies. While the grader lives it also holds a lock on a file in the folder: a later grader that
finds a folder whose lock nobody holds (its grader and reaper killed together: a whole cgroup, a machine's
crash) removes it before making its own.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: The name every grader's folder starts with (a Dask node's: "grading-node-").
PREFIX = "grading-"
#: Where a grader's folder goes unless TMPDIR says otherwise: a file system in memory (tmpfs) with at least
#: RAM_FREE_BYTES free. Every submission writes and removes some 45 small files there (its hidden inputs, the phases
#: its worker accepted); on a disk each costs a new inode, which an ext4 without a journal finds by looking past
#: every recently deleted one: ~0.2 ms a file after a few thousand submissions, against ~0.02 ms in memory.
RAM_FOLDER = Path("/dev/shm")
#: Room for what two workers' jobs can hold at once (limits.RESULT_FILE_BYTES and INPUT_BYTES each), many times over:
#: a small /dev/shm (a container's 64 MB) is not used.
RAM_FREE_BYTES = 1 << 30
#: The file in a folder that its grader holds a lock on while it lives.
OWNER = ".owner"
#: A folder without that file yet is being made (or predates it): left alone for this long.
YOUNG_SECONDS = 60.0
#: How long a reaper waits for its folder's lock: the dying grader's goes a moment after the pipe's end; one held
#: longer belongs to a grader that made the folder again since (the service reuses its folder's name).
PATIENCE = 10
#: The reaper: wait for end-of-file on stdin (the grader's end of the pipe closed), take the folder's lock within
#: PATIENCE seconds, then remove the folder. Without the lock file (removed already, or made again and not yet
#: locked) it does nothing.
_REAPER = f"""import fcntl, os, shutil, signal, sys
os.read(0, 1)
signal.alarm(int(sys.argv[2]))
try:
    fcntl.flock(os.open(os.path.join(sys.argv[1], {OWNER!r}), os.O_RDONLY | os.O_NOFOLLOW), fcntl.LOCK_EX)
except OSError:
    sys.exit()
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""

_held: dict[Path, tuple[int, subprocess.Popen[bytes] | None]] = {}
_held_lock = threading.Lock()


def default_parent() -> Path:
    """The system's temporary folder where TMPDIR names one; else RAM_FOLDER when it is a roomy tmpfs we may write
    to; else the system's temporary folder."""
    if os.environ.get("TMPDIR") or not _roomy_tmpfs(RAM_FOLDER):
        return Path(tempfile.gettempdir())
    return RAM_FOLDER


def _roomy_tmpfs(folder: Path) -> bool:
    """Whether `folder` is the mount point of a tmpfs we can write to, with RAM_FREE_BYTES free."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        info = os.statvfs(folder)
    except OSError:
        return False
    tmpfs = any(len(fields) > 2 and fields[1] == str(folder) and fields[2] == "tmpfs"
                for fields in (line.split() for line in mounts))
    return tmpfs and info.f_bavail * info.f_frsize >= RAM_FREE_BYTES and os.access(folder, os.W_OK | os.X_OK)


def make(prefix: str = PREFIX, parent: Path | None = None) -> Path:
    """A new private (0700) folder in `parent` (`default_parent()` when not given), guarded; the folders left
    there by graders that are gone are removed first (by default in the system's temporary folder too, where
    graders before RAM_FOLDER, or while it was short of room, made theirs)."""
    where = parent or default_parent()
    for folder in dict.fromkeys([where] if parent else [where, Path(tempfile.gettempdir())]):
        remove_stale(folder)
    return guard(Path(tempfile.mkdtemp(prefix=prefix, dir=where)))


def guard(folder: Path) -> Path:
    """Hold `folder`'s lock and give it a reaper, so that it goes when this process ends, however it ends."""
    fd = os.open(folder / OWNER, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)  # not inherited (PEP 446)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        reaper: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _REAPER, str(folder), str(PATIENCE)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:  # then only a later grader's clean-up (the lock) removes the folder after a SIGKILL
        reaper = None
    with _held_lock:
        _held[folder] = (fd, reaper)
    return folder


def remove(folder: Path) -> None:
    """Remove a folder from `make` or `guard` now, and let its reaper go."""
    shutil.rmtree(folder, ignore_errors=True)
    with _held_lock:
        fd, reaper = _held.pop(folder, (-1, None))
    if fd >= 0:
        os.close(fd)
    if reaper is not None and reaper.stdin is not None:
        reaper.stdin.close()
        try:
            reaper.wait(5)
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()


def remove_stale(where: Path) -> None:
    """Remove from `where` every grader's folder of ours whose lock nobody holds (its grader is gone)."""
    try:
        candidates = list(where.glob(f"{PREFIX}*"))
    except OSError:
        return
    for folder in candidates:
        try:
            info = folder.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue  # a link, a file, or another user's: never ours to remove
        try:
            fd = os.open(folder / OWNER, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if time.time() - info.st_mtime > YOUNG_SECONDS:  # made before owners held a lock, or never got one
                shutil.rmtree(folder, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its grader is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)
