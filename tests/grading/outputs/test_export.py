"""outputs/export: scores go into an nbgrader gradebook without touching PATH, and nbgrader reads them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grading.core.model import Result, Row
from autograder.grading.outputs import export
from autograder.message import say
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE


def _result(student: str, scores: tuple[float, float, float]) -> Result:
    points = [q.points for q in FAKE.questions]
    return Result(student, "fake", "fake.ipynb", "upload", False, 1, (), {}, 0.1,
                  tuple(Row(student, "fake", "fake.ipynb", q.grade_id, s, p, "partial", say("check.no_output"))
                        for q, s, p in zip(FAKE.questions, scores, points, strict=True)))


def test_new_gradebook_gets_the_alembic_stamp_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No `alembic` on PATH and PATH left alone: the stamp is what `alembic heads` would print."""
    monkeypatch.setenv("PATH", "/nonexistent")
    db = tmp_path / "gradebook.db"
    assert export.to_gradebook(str(db), FAKE, {"ann": _result("ann", (1.0, 0.5, 2.0))}) == 1
    assert os.environ["PATH"] == "/nonexistent"
    from nbgrader.api import Gradebook
    from sqlalchemy import create_engine, text

    engine = create_engine(export.db_url(str(db)), future=True)
    with engine.connect() as connection:
        (version,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
    engine.dispose()
    assert version == export._alembic_head() and len(version) == 12
    with Gradebook(export.db_url(str(db))) as gb:
        assert gb.find_grade("test_norm2", "fake", "fake", "ann").score == 0.5


def test_rewriting_keeps_one_stamp_and_updates_scores(tmp_path: Path) -> None:
    db = str(tmp_path / "gradebook.db")
    export.to_gradebook(db, FAKE, {"ann": _result("ann", (0.0, 0.0, 0.0))})
    export.to_gradebook(db, FAKE, {"ann": _result("ann", (1.0, 2.0, 2.0)), "ben": _result("ben", (1.0, 0.0, 0.0))})
    export.stamp_if_new(export.db_url(db))  # an existing gradebook is never stamped twice
    from nbgrader.api import Gradebook

    with Gradebook(export.db_url(db)) as gb:
        assert gb.find_submission("fake", "ann").score == 5.0 and gb.find_submission("fake", "ben").score == 1.0


@pytest.mark.slow
def test_nbgrader_export_lists_the_same_totals(tmp_path: Path) -> None:
    from autograder.release import nbgrader_env

    db = tmp_path / "gradebook.db"
    export.to_gradebook(str(db), FAKE, {"ann": _result("ann", (1.0, 0.5, 2.0)), "ben": _result("ben", (0.0, 2.0, 0.0))})
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--db=sqlite:///{db}",
                           f"--CourseDirectory.root={tmp_path}", f"--CsvExportPlugin.to={tmp_path / 'grades.csv'}"],
                          cwd=tmp_path, env=nbgrader_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "grades.csv", newline="") as f:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert totals == {"ann": 3.5, "ben": 2.0}


def test_a_student_the_gradebook_refuses_costs_only_that_student(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """When the gradebook raises on one student, the others are written, and a line names who and why."""
    import io

    from nbgrader.api import Gradebook

    real = Gradebook.update_or_create_student

    def refuse_bob(self: Gradebook, name: str, **kwargs: object) -> object:
        if name == "bob":
            raise ValueError("the gradebook refused bob")
        return real(self, name, **kwargs)

    monkeypatch.setattr(Gradebook, "update_or_create_student", refuse_bob)
    results = {s: _result(s, (1.0, 1.0, 1.0)) for s in ("alice", "bob", "carol")}
    log = io.StringIO()
    assert export.to_gradebook(str(tmp_path / "gradebook.db"), FAKE, results, log) == 2
    assert "bob not written" in log.getvalue() and "refused bob" in log.getvalue()
    with Gradebook(export.db_url(str(tmp_path / "gradebook.db"))) as gb:
        assert sorted(s.id for s in gb.students) == ["alice", "carol"]
