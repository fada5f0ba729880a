"""Who holds an flock: graders claim what they write (an OUT, a service's database) with flocks, which the kernel
drops when the holder dies; a refused run names the holder."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def held(path: Path, refusal: Callable[[str], str]) -> Iterator[None]:
    """Hold an exclusive flock on `path` (a folder, or a file made if need be) for the block; ValueError with
    `refusal(pid of the holder)` when another process holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY) if path.is_dir() else \
        os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(refusal(holder(fd))) from None
        yield
    finally:
        os.close(fd)


def holder(fd: int) -> str:
    """The pid holding an flock on the open file `fd`, from /proc/locks ('?' when it cannot be told)."""
    info = os.fstat(fd)
    where = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"  # as /proc/locks writes it
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "?"
    for line in lines:  # "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1310722 0 EOF"
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == where:
            return fields[4]
    return "?"
