"""autograder.options: a command's file options fail in one line naming the option, the path and the problem."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from autograder import options

GRADEBOOK = ("submitted_assignment", "an nbgrader gradebook")


def test_read_text_names_what_is_wrong(tmp_path: Path) -> None:
    """Missing, a folder, not UTF-8 (the byte and where): each says so after the option and the path."""
    with pytest.raises(ValueError, match=r"^--roster .*nope\.csv: no such file$"):
        options.read_text("--roster", tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"^--roster .*: a folder, not a file$"):
        options.read_text("--roster", tmp_path)
    (tmp_path / "latin1.csv").write_bytes("ann\nbj\xf6rn\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"^--roster .*latin1\.csv: not UTF-8 text \(byte 0xf6 at offset 6\)"):
        options.read_text("--roster", tmp_path / "latin1.csv")


def test_read_text_reads_what_spreadsheets_write(tmp_path: Path) -> None:
    """Excel's CSV UTF-8 (a byte-order mark first) and Windows' UTF-16 with its mark read as the text they hold."""
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfstudent_id\nann\n")
    assert options.read_text("--roster", tmp_path / "bom.csv") == "student_id\nann\n"
    (tmp_path / "wide.csv").write_bytes("student_id\nbj\u00f6rn\n".encode("utf-16"))
    assert options.read_text("--roster", tmp_path / "wide.csv") == "student_id\nbj\u00f6rn\n"


def test_folder_and_file_to_write(tmp_path: Path) -> None:
    """A file where a folder must be, at the path or above it, and a folder where a file must be, are refused;
    folders still to be made are fine."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"^--out .*afile: a file, not a folder$"):
        options.folder_to_write("--out", tmp_path / "afile")
    with pytest.raises(ValueError, match=r"^--out .*afile/graded: .*afile is a file, not a folder$"):
        options.folder_to_write("--out", tmp_path / "afile" / "graded")
    options.folder_to_write("--out", tmp_path / "new" / "graded")
    with pytest.raises(ValueError, match=r"^--out .*: a folder, not a file$"):
        options.file_to_write("--out", tmp_path)
    with pytest.raises(ValueError, match=r"^--file .*afile/k: .*afile is a file, not a folder$"):
        options.file_to_write("--file", tmp_path / "afile" / "k")
    options.file_to_write("--out", tmp_path / "new" / "tokens.csv")
    assert not (tmp_path / "new").exists()  # checked, not made


def test_new_file_to_write_refuses_what_is_there(tmp_path: Path) -> None:
    """An existing file, or a link (even a dangling one), is refused with the caller's advice; a new path is fine."""
    (tmp_path / "old.csv").write_text("x")
    (tmp_path / "link.csv").symlink_to(tmp_path / "gone")
    for name in ("old.csv", "link.csv"):
        with pytest.raises(ValueError, match=rf"^--out .*{name}: already exists; give another$"):
            options.new_file_to_write("--out", tmp_path / name, "give another")
    with pytest.raises(ValueError, match=r"^--out .*: a folder, not a file$"):
        options.new_file_to_write("--out", tmp_path, "give another")
    options.new_file_to_write("--out", tmp_path / "new.csv", "give another")


def test_database_refuses_what_is_not_one_of_ours(tmp_path: Path) -> None:
    """A folder, a file that is no SQLite database, an unreadable one, another program's database, a missing folder:
    refused, naming what to give instead. A URL, a new file, an empty file and the right database are fine."""
    options.database("--gradebook", "postgresql://grader@db/course", *GRADEBOOK)
    options.database("--gradebook", str(tmp_path / "new.db"), *GRADEBOOK)
    (tmp_path / "empty.db").touch()
    options.database("--gradebook", str(tmp_path / "empty.db"), *GRADEBOOK)
    with pytest.raises(ValueError, match=r"^--gradebook .*: a folder, not a file$"):
        options.database("--gradebook", str(tmp_path), *GRADEBOOK)
    with pytest.raises(ValueError, match=r"its folder .*nowhere does not exist$"):
        options.database("--gradebook", str(tmp_path / "nowhere" / "gb.db"), *GRADEBOOK)
    (tmp_path / "notes.txt").write_text("SQLite? no\n")
    with pytest.raises(ValueError, match=r"notes\.txt: not an SQLite database \(give an nbgrader gradebook, or a new"):
        options.database("--gradebook", str(tmp_path / "notes.txt"), *GRADEBOOK)
    (tmp_path / "torn.db").write_bytes(options.SQLITE_HEADER + b"\0" * 50)
    with pytest.raises(ValueError, match=r"torn\.db: not a readable SQLite database"):
        options.database("--gradebook", str(tmp_path / "torn.db"), *GRADEBOOK)
    with sqlite3.connect(tmp_path / "service.db") as connection:
        connection.execute("CREATE TABLE submissions (id INTEGER)")
        connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
    connection.close()
    before = (tmp_path / "service.db").read_bytes()
    with pytest.raises(ValueError, match=r"not an nbgrader gradebook \(its tables: alembic_version, submissions\)"):
        options.database("--gradebook", str(tmp_path / "service.db"), *GRADEBOOK)
    assert (tmp_path / "service.db").read_bytes() == before  # looked at, never written
    options.database("--db", str(tmp_path / "service.db"), "submissions", "the service's database")


def test_web_address_needs_http_or_https() -> None:
    """The book's address students follow from their feedback: http(s) with a host, else one line saying so."""
    options.web_address("--book-url", "https://course.example.org/gradients/")
    options.web_address("--book-url", "http://localhost:8000")
    for wrong in ("course.example.org/book", "javascript:alert(1)", "ftp://example.org", "https://"):
        with pytest.raises(ValueError, match=rf"^--book-url {re.escape(wrong)}: not a web address; give it with http"):
            options.web_address("--book-url", wrong)
