"""Student and instructor tokens: 32 random bytes shown once (a CSV for mail merge), stored as their sha256.

A token is a bearer secret: whoever holds it submits as that student. Only its hash is in the database,
so a copy of the database lets nobody submit; losing a token means issuing a new one (`--reissue`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Callable
from pathlib import Path

from autograder.grading.drivers.service.db import Person, Store
from autograder.grading.inbox.roster import roster

STUDENT, INSTRUCTOR = "student", "instructor"
#: A new token as the CSV lists it: (student_id, role, token).
Issued = tuple[str, str, str]


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def who(store: Store, token: str | None) -> Person | None:
    """The person holding `token`, or None (missing, malformed or unknown)."""
    if not token or len(token) > 200:
        return None
    return store.person(digest(token.strip()))


def roster_ids(path: Path) -> list[str]:
    """Student ids from a roster, as `grade --roster` reads it (inbox/roster.py)."""
    return [student for student, _ in roster(path)]


def issue(store: Store, students: list[str], instructors: list[str], keep: Callable[[list[Issued]], None],
          reissue: bool = False) -> list[Issued]:
    """Give a token to everyone listed who has none (everyone with `reissue`); (id, role, token) of the new ones.

    `keep` gets the new tokens before any hash is stored, and nothing is stored if it raises: a token that works is
    never one whose only copy was lost.
    """
    have = set(store.people())
    issued = [(student, role, new_token()) for role, ids in ((STUDENT, students), (INSTRUCTOR, instructors))
              for student in ids if reissue or student not in have]
    if issued:
        keep(issued)
        store.set_tokens([(student, role, digest(token)) for student, role, token in issued])
    return issued


def csv_text(issued: list[Issued]) -> str:
    """The mail-merge CSV: student_id,role,token."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("student_id", "role", "token"))
    writer.writerows(issued)
    return buffer.getvalue()
