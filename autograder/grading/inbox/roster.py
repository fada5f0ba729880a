"""A course roster (`--roster`): the students of a list of ids, or of a CSV's first column, as the grader names them.

One reader for `grade --roster` and `tokens --roster`, so a student gets the same id in both and the id an upload of
theirs gets (collect.safe_id). Spreadsheets and LMS exports quote fields ("alice") and pad them (" alice"): read as
CSV, each first field stripped, so neither turns one student into two (a graded one and a 'missing' one).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from autograder import options
from autograder.grading.inbox.collect import safe_id

#: A first row naming the column, not a student.
HEADER = "student_id"


def roster(path: Path) -> list[tuple[str, str]]:
    """(id, name as written) of each student of the roster at `path`, in order, once each; blank rows and a
    'student_id' header skipped; ValueError naming the file when it is not text or not CSV."""
    text = options.read_text("--roster", path)
    try:
        # strict: a quote left open would otherwise swallow every line after it into one "student"
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise ValueError(f"--roster {path}: not a list of ids or a CSV ({exc}: a quote left open?)") from None
    found: dict[str, str] = {}
    for row in rows:
        name = row[0].strip() if row else ""
        student = safe_id(name) if name else ""
        if student and student != HEADER and student not in found:
            found[student] = name
    return list(found.items())
