"""Read untrusted files without trusting them: no symlink is followed, only regular files, byte caps that do
not believe a zip header, one file at a time.

Every failure is `Unreadable` with a sentence naming the file and the problem (the student's row says it).
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import IO

from autograder.grading.inbox.notebook import Malformed
from autograder.grading.runner import limits

CHUNK = 1 << 20


class Unreadable(Malformed):
    """A submitted file that cannot be read safely; the message says which and why."""


def kind(mode: int) -> str:
    """'a symbolic link', 'a directory', ... for a file mode (what a student put where a notebook should be)."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_dir(parent: int | None, name: str | Path, shown: str) -> int:
    """A directory fd for `name` (relative to the fd `parent`), refusing symlinks; Unreadable otherwise."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (os.O_NOFOLLOW if parent is not None else 0)
    try:
        return os.open(name, flags, dir_fd=parent)
    except OSError:
        pass
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except OSError as exc:
        raise Unreadable(f"{shown} cannot be opened: {exc.strerror}") from None
    raise Unreadable(f"{shown} is {kind(mode)}, not a folder; it was not read")


def read_capped(read: IO[bytes] | int, cap: int, shown: str) -> bytes:
    """At most `cap` bytes from a file object or fd; Unreadable when there are more (counted, never believed)."""
    data = bytearray()
    while True:
        chunk = os.read(read, CHUNK) if isinstance(read, int) else read.read(CHUNK)
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > cap:
            raise Unreadable(f"{shown} is larger than the {cap} bytes a notebook may have")


def read_in_folder(root: Path, parts: tuple[str, ...], shown: str) -> bytes:
    """The regular file root/parts[0]/.../parts[-1], every step opened without following a symlink."""
    fd = open_dir(None, root, str(root))
    try:
        for part in parts[:-1]:
            inner = open_dir(fd, part, shown)
            os.close(fd)
            fd = inner
        mode = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):  # checked before open: opening a device or FIFO can block or have effects
            raise Unreadable(f"{shown} is {kind(mode)}, not a notebook file; it was not read")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        leaf = os.open(parts[-1], flags, dir_fd=fd)
        try:
            if not stat.S_ISREG(os.fstat(leaf).st_mode):  # swapped since the check above
                raise Unreadable(f"{shown} is not a regular file; it was not read")
            return read_capped(leaf, limits.NOTEBOOK_BYTES, shown)
        finally:
            os.close(leaf)
    except OSError as exc:
        raise Unreadable(f"{shown} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)


def zip_directory(path: Path) -> tuple[int, int] | None:
    """(entries, central directory bytes) from a zip's end record, read before zipfile loads the directory."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return None
        entries = int.from_bytes(tail[at + 10:at + 12], "little")
        directory = int.from_bytes(tail[at + 12:at + 16], "little")
        if (entries == 0xFFFF or directory == 0xFFFFFFFF) and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":
            f.seek(int.from_bytes(tail[at - 12:at - 4], "little"))  # the zip64 end record holds the real counts
            record = f.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                entries = int.from_bytes(record[32:40], "little")
                directory = int.from_bytes(record[40:48], "little")
        return entries, directory


def check_zip(path: Path) -> None:
    """ValueError naming the zip when its directory is too large to load (it is read whole into memory)."""
    counts = zip_directory(path)
    if counts is None:
        raise ValueError(f"SUBMISSIONS {path}: not a readable zip (no end-of-directory record)")
    entries, directory = counts
    if entries > limits.ZIP_MEMBERS or directory > limits.ZIP_DIRECTORY_BYTES:
        raise ValueError(f"SUBMISSIONS {path}: {entries} files / {directory} bytes of directory, more than the "
                         f"{limits.ZIP_MEMBERS} files / {limits.ZIP_DIRECTORY_BYTES} bytes an LMS download may have")


def read_member(path: Path, index: int, name: str, shown: str) -> bytes:
    """Member `index` of the zip (checked to be `name`), streamed with the notebook byte cap."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if index >= len(infos) or infos[index].filename != name:
                raise Unreadable(f"{shown}: the zip changed since it was listed")
            with archive.open(infos[index]) as member:
                return read_capped(member, limits.NOTEBOOK_BYTES, shown)
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib, bz2 and lzma raise many types on corrupt members
        raise Unreadable(f"{shown} cannot be read from the zip (corrupt, encrypted or unsupported: "
                         f"{type(exc).__name__}: {limits.clip(str(exc), 120)})") from None
