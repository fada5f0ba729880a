"""What the last batch rendered into OUT, so that a regrade renders only what changed.

A student's feedback page and Gradescope file are a function of their stored result and of a context: the
grader's code, templates and catalogs, the assignment's questions, the sandbox's name, the book's address and
where OUT lies. OUT/logs/rendered.json (private, as logs/ is) records that context's digest and, per student, the
digest of the result and of each file written for it. A student whose result and context are unchanged, and whose
files still hold exactly what was written, is not rendered again: regrading one student of 200 spent 0.5 s
rendering the other 199 pages as they were. Anything that does not match (a changed result, template or
`--book-url`, a file edited or deleted since) is rendered and written as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import autograder
from autograder.grading.outputs import sections

#: Where the record lives, below OUT (logs/ is private: 0700).
RECORD = Path("logs", "rendered.json")
#: The libraries whose versions shape a page (templates, escaping, catalogs).
LIBRARIES = ("jinja2", "markupsafe", "babel")


def digest(data: bytes) -> str:
    """The SHA-256 of `data`, in hex."""
    return hashlib.sha256(data).hexdigest()


def result_digest(result: Any) -> str:
    """The digest of a Result as the pages read it: every field (its JSON form, keys sorted, compact: the C encoder)."""
    return digest(json.dumps(result.to_json(), sort_keys=True, separators=(",", ":")).encode())


def _code_stamp() -> list[Any]:
    """Name, size and modification time of every file of the grader's package (its code, the page templates and
    the message catalogs), with the versions of Python and of the libraries that render pages."""
    root = Path(autograder.__file__).resolve().parent
    files = [[f.relative_to(root).as_posix(), s.st_size, s.st_mtime_ns]
             for f in sorted(root.rglob("*")) if "__pycache__" not in f.parts
             for s in [f.stat()] if stat.S_ISREG(s.st_mode)]
    return [sys.version, [_version(name) for name in LIBRARIES], files]


def _version(name: str) -> str:
    """The installed version of library `name` ("" when it is not installed as a distribution)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def context(out: Path, assignment: Any, sandbox_name: str, book_url: str | None) -> str:
    """The digest of everything but a student's result that shapes their files."""
    questions = [[q.grade_id, q.points, list(q.functions)] for q in assignment.questions]
    shape = [_code_stamp(), [assignment.id, assignment.notebook, questions], sandbox_name, book_url or "",
             str(out.resolve()), str(sections.BUILT_BOOK)]
    return digest(json.dumps(shape).encode())


def _file_digest(path: Path) -> str | None:
    """The digest of the regular file at `path` (never through a link), or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        return digest(file.read()) if stat.S_ISREG(os.fstat(file.fileno()).st_mode) else None


class Rendered:
    """The record of one OUT: read at the start of `write_all`, updated as students are rendered, saved at the end."""

    def __init__(self, out: Path, context_digest: str) -> None:
        """Read OUT's record; one made under another context (or unreadable) counts as empty."""
        self.out, self.context = out, context_digest
        self.students: dict[str, dict[str, Any]] = {}
        try:
            stored = json.loads((out / RECORD).read_bytes())
        except (OSError, ValueError):
            return
        if isinstance(stored, dict) and stored.get("context") == context_digest \
                and isinstance(stored.get("students"), dict):
            self.students = stored["students"]

    def unchanged(self, student_id: str, result_digest: str, names: list[str]) -> bool:
        """Whether this student's files (`names`, below OUT) were rendered from this very result and each still holds
        what was written (then they need not be rendered again)."""
        entry = self.students.get(student_id)
        files = entry.get("files") if isinstance(entry, dict) else None
        return isinstance(entry, dict) and entry.get("result") == result_digest and isinstance(files, dict) \
            and sorted(files) == sorted(names) and all(_file_digest(self.out / name) == files[name] for name in names)

    def record(self, student_id: str, result_digest: str | None, files: dict[str, bytes]) -> None:
        """Note what was written for this student (`result_digest` None: nothing to reuse next time)."""
        if result_digest is None:
            self.students.pop(student_id, None)
        else:
            self.students[student_id] = {"result": result_digest,
                                         "files": {name: digest(data) for name, data in files.items()}}

    def data(self, keep: set[str]) -> bytes:
        """The record to save, for the students in `keep` (those listed by this batch)."""
        students = {sid: entry for sid, entry in sorted(self.students.items()) if sid in keep}
        return json.dumps({"context": self.context, "students": students}, indent=0).encode()
