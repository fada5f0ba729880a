"""autograder.grading.drivers.pipeline: every submission keeps a result of its own, whatever the ids look like, and
the same notebook gets the same grade on every run, after --resume and after a --student regrade."""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import pytest

from autograder import key
from autograder.grading.core.model import Result, Submission
from autograder.grading.drivers import pipeline
from autograder.grading.drivers.pipeline import _with_roster
from autograder.grading.inbox.collect import safe_id
from autograder.grading.outputs import records
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

CHECKS = "fakecourse.checks:get_assignment"


def test_the_roster_adds_missing_students_under_the_same_ids(tmp_path: Path) -> None:
    """Roster lines get the id their upload would have (collect.safe_id), and a 'missing' row only when absent."""
    subs = [Submission("alice", "a1", b"1", name="alice"), Submission("alice-2", "a3", b"3", name="alice-2")]
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nalice\nbob\nBob Roe, second column\n")
    added = _with_roster(subs, roster)
    assert [s.student_id for s in added] == ["alice", "alice-2", "bob", safe_id("Bob Roe")]
    assert all(s.empty and s.problem == "no submission found" for s in added[2:])
    assert [s.origin for s in _with_roster(subs, None)] == ["a1", "a3"]


# --- Same notebook, same grade: reruns, --resume and --student reproduce every grade (real sandbox). ---

#: Right or wrong depending on the drawn inputs, so a grade that depended on the run would show it.
INPUT_DEPENDENT = "def norm2(x):\n    return x.norm() if float(x[1]) > -0.6 else x.abs().sum()\n"
STUDENTS = {f"s{i}": {"ans_norm2": INPUT_DEPENDENT} for i in range(6)}
STUDENTS["wrong"] = {"ans_scale": "def scale(x, a):\n    return x\n", "ans_norm2": INPUT_DEPENDENT}


def _batch(tmp_path: Path) -> pipeline.Settings:
    """A folder of submissions and the settings that grade it."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for student, answers in STUDENTS.items():
        notebooks.write(notebooks.submission(answers), tmp_path / "subs" / student / "fake" / "fake.ipynb")
    return pipeline.Settings(submissions=tmp_path / "subs", assignment_id="fake", out=tmp_path / "out", workers=2,
                             checks=CHECKS, source=source)


def _grades(results: dict[str, Result]) -> dict[str, list[tuple[str, float, str]]]:
    """student -> [(grade_id, score, status)]."""
    return {s: [(r.grade_id, r.score, r.status) for r in result.rows] for s, result in results.items()}


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "results").glob("*.json"))}


@pytest.mark.slow
def test_reruns_resume_and_student_regrades_reproduce_every_grade(tmp_path: Path) -> None:
    settings = _batch(tmp_path)
    first = _grades(pipeline.grade(settings, io.StringIO()))
    assert set(first) == set(STUDENTS)
    assert len({tuple(g) for s, g in first.items() if s != "wrong"}) > 1  # the grade does depend on the inputs
    for student, result in records.load_results(settings.out, "fake").items():
        assert result.key_id == key.key_id(key.load_key())
        assert result.seed == key.student_seed(key.load_key(), "fake", student)  # replays the inputs

    kept = _files(settings.out)
    for student in ("s1", "s4", "wrong"):  # as if the run had been killed before these were saved
        records.result_path(settings.out, student).unlink()
    resumed = pipeline.grade(dataclasses.replace(settings, resume=True), io.StringIO())
    assert _grades(resumed) == first
    assert all(_files(settings.out)[n] == kept[n] for n in kept if n[:-5] not in ("s1", "s4", "wrong"))

    assert _grades(pipeline.grade(settings, io.StringIO())) == first  # a plain rerun

    before, csv_before = _files(settings.out), (settings.out / "grades.csv").read_bytes()
    log = io.StringIO()
    again = pipeline.grade(dataclasses.replace(settings, students=("s2", "wrong")), log)
    assert "graded 2 submission(s)" in log.getvalue() and _grades(again) == first
    after = _files(settings.out)
    assert {n for n in after if after[n] != before[n]} <= {"s2.json", "wrong.json"}  # others untouched
    assert all(after[n] == before[n] for n in before if n not in ("s2.json", "wrong.json"))
    assert (settings.out / "grades.csv").read_bytes() == csv_before


@pytest.mark.slow
def test_student_ids_are_checked_and_keys_are_never_mixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _batch(tmp_path)
    with pytest.raises(ValueError, match="--student nobody: no such student"):
        pipeline.grade(dataclasses.replace(settings, students=("nobody",)), io.StringIO())
    pipeline.grade(dataclasses.replace(settings, students=("s0",)), io.StringIO())  # and those without a result
    before = _files(settings.out)
    monkeypatch.setenv(key.ENV, "another-course-key-0123456789")
    for changed in (dataclasses.replace(settings, resume=True), dataclasses.replace(settings, students=("s1",))):
        with pytest.raises(ValueError, match="another grading key"):
            pipeline.grade(changed, io.StringIO())
    assert _files(settings.out) == before and set(before) == {f"{s}.json" for s in STUDENTS}  # refused first


def test_progress_lines_for_logs() -> None:
    """Piped output gets a line every few students with the rate and ETA; no terminal bar."""
    from autograder.grading.drivers.progress import Progress, progress_line

    assert progress_line(10, 40, 20.0) == "graded 10/40 (0.50 students/s, ETA 1 min 00 s)"
    assert progress_line(0, 4, 0.0).endswith("ETA unknown)")
    assert "ETA 1 h 00 min" in progress_line(1, 3601, 1.0)
    log = io.StringIO()
    progress = Progress(7, log, every=3)
    for i in range(7):
        progress.step(f"s{i}")
    progress.close()
    assert [line.split(" (")[0] for line in log.getvalue().splitlines()] == ["graded 3/7", "graded 6/7", "graded 7/7"]


def test_interrupted_says_how_to_finish() -> None:
    """One line: how many were graded, and the command that finishes the job (--resume, or the same --student run)."""
    import signal

    stop = pipeline.Interrupted(signal.SIGINT, 3, 10)
    assert stop.exit_code == 130 and str(stop) == (
        "stopped by SIGINT: 3 of 10 submission(s) graded and saved in this run; "
        "rerun the same command with --resume to grade the other 7")
    regrade = pipeline.Interrupted(signal.SIGTERM, 1, 2, regrade=True)
    assert regrade.exit_code == 143 and str(regrade).endswith("rerun the same command to regrade the other 1")
    assert "\n" not in str(stop)
