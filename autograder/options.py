"""A command's file options, checked before any work: one line naming the option, the path and what is wrong.

Each check raises ValueError, which the command line prints as `error: ...` with exit status 2.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

#: The first 16 bytes of every SQLite database file (an nbgrader gradebook, the service's database).
SQLITE_HEADER = b"SQLite format 3\x00"


def read_text(option: str, path: Path) -> str:
    """The text of the UTF-8 file given as `option` (or UTF-16 with its byte-order mark, as Windows tools write; a
    UTF-8 byte-order mark, as Excel writes, is dropped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{option} {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{option} {path}: a folder, not a file") from None
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{option} {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "save it as UTF-8 (in Excel: CSV UTF-8)") from None


def folder_to_write(option: str, path: Path) -> None:
    """`path`, given as `option`, is a folder this process can write in, or one it can create."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path}: a file, not a folder")
    problem = _unwritable(path)
    if problem:
        raise ValueError(f"{option} {path}: {problem}")


def file_to_write(option: str, path: Path) -> None:
    """`path`, given as `option`, is a file this process can write (its folder made if need be)."""
    if path.is_dir():
        raise ValueError(f"{option} {path}: a folder, not a file")
    problem = _unwritable(path.parent)
    if problem:
        raise ValueError(f"{option} {path}: {problem}")


def file_in_folder(option: str, path: Path) -> None:
    """`path`, given as `option`, is a file this process can write in a folder that exists: a secret (a key, tokens)
    or a database is never put in a folder made on the spot (a typo, a drive not mounted yet)."""
    file_to_write(option, path)
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: its folder {path.parent} does not exist")


def new_file_to_write(option: str, path: Path, advice: str) -> None:
    """`path`, given as `option`, is a file this process can write, in a folder that exists, and that does not exist
    yet (what an existing one holds would be lost: `advice` says what to do instead)."""
    file_in_folder(option, path)
    if path.exists() or path.is_symlink():
        raise ValueError(f"{option} {path}: already exists; {advice}")


def _unwritable(folder: Path) -> str | None:
    """Why `folder` can neither be written in nor made, or None."""
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no permission to write in {existing}"
    return None


def web_address(option: str, url: str) -> None:
    """`url`, given as `option`, is an http(s) address (feedback pages link students there)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ValueError(f"{option} {url}: not a web address; give it with http:// or https://, e.g. "
                         "https://course.example.org/gradients")


def database(option: str, target: str, marker: str, what: str) -> None:
    """`target`, given as `option`, is a database URL (checked when it is opened), a new SQLite file, or `what`: an
    SQLite file that is empty or has the table `marker` (never another program's database, whose tables, and their
    shared alembic_version, would be mixed with ours)."""
    if "://" in target:
        return
    path = Path(target)
    file_in_folder(option, path)  # SQLite makes the file, not its folder
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ValueError(f"{option} {target}: cannot be read ({exc.strerror})") from None
    if head and head != SQLITE_HEADER:
        raise ValueError(f"{option} {target}: not an SQLite database (give {what}, or a new file name)")
    if head:
        tables = _tables(option, path)
        if tables and marker not in tables:
            raise ValueError(f"{option} {target}: not {what} (its tables: {', '.join(sorted(tables)[:6])}); give "
                             f"{what}, or a new file name")


def _tables(option: str, path: Path) -> set[str]:
    """The names of the tables in an SQLite file, read without writing to it."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as connection:
            return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise ValueError(f"{option} {path}: not a readable SQLite database ({exc})") from None
