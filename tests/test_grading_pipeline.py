"""autograder.grading.pipeline: every submission keeps a result of its own, whatever the ids look like."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.collect import Submission
from autograder.grading.pipeline import _with_roster


def test_duplicate_ids_never_collide_with_real_ones(tmp_path: Path) -> None:
    """Two 'alice' notebooks and a real 'alice-2' get three different ids (one results file each)."""
    subs = [Submission("alice", "a1", b"1"), Submission("alice", "a2", b"2"), Submission("alice-2", "a3", b"3")]
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nalice\nbob\n")
    ids = [s.student_id for s in _with_roster(subs, roster)]
    assert len(ids) == len(set(ids)) == 4
    assert ids[0] == "alice" and ids[2] == "alice-2" and ids[3] == "bob"
    assert [s.origin for s in _with_roster(subs, None)] == ["a1", "a2", "a3"]
