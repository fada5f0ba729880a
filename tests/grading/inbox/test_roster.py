"""autograder.grading.inbox.roster: one reading of a roster for `grade --roster` and `tokens --roster`, quoted or
padded fields giving the ids the students' uploads get."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.grading.core.model import Submission
from autograder.grading.drivers.pipeline import _with_roster
from autograder.grading.drivers.service.tokens import roster_ids
from autograder.grading.inbox.collect import safe_id
from autograder.grading.inbox.roster import roster

#: The same three students, as a plain list, as a spreadsheet saves them (quoted, a header, a BOM, CRLF, a name with a
#: comma in its first field) and padded by hand.
FORMS = {
    "plain.txt": "alice\nbob\nBob Roe\n",
    "quoted.csv": '\ufeff"student_id","name"\r\n"alice","Alice A"\r\n"bob","Bob B"\r\n\r\n"Bob Roe","x, y"\r\n',
    "padded.csv": "student_id, name\n  alice , A\n\tbob,B\n Bob Roe ,C\nalice,again\n",
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_form_names_the_same_students(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(FORMS[name], encoding="utf-8", newline="")
    assert roster(path) == [("alice", "alice"), ("bob", "bob"), (safe_id("Bob Roe"), "Bob Roe")]
    assert roster_ids(path) == ["alice", "bob", safe_id("Bob Roe")]  # tokens: the ids grade uses


def test_a_quoted_roster_adds_no_second_alice(tmp_path: Path) -> None:
    """alice submitted: a quoted roster line of hers adds no 'missing' alice beside the graded one."""
    path = tmp_path / "roster.csv"
    path.write_text(FORMS["quoted.csv"], encoding="utf-8", newline="")
    added = _with_roster([Submission("alice", "a1", b"1", name="alice")], path)
    assert [s.student_id for s in added] == ["alice", "bob", safe_id("Bob Roe")]


def test_a_quote_left_open_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """Read loosely, the open quote would swallow bob and carol into one student called 'alice\nbob\ncarol'."""
    path = tmp_path / "open.csv"
    path.write_text('"alice\nbob\ncarol\n')
    with pytest.raises(ValueError, match=r"^--roster .*open\.csv: not a list of ids or a CSV \(unexpected end"):
        roster(path)
