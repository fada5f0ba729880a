"""A failure of the grader or its sandbox is never a student's grade: a sandbox that does not start stops the run
(nothing recorded, nothing good replaced), a result that records one is graded again, and a Python reached through
a symbolic link (a virtual environment, a home folder on NFS) runs in the sandbox like any other."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autograder.grading.core import outcome, sandbox
from autograder.grading.drivers import pipeline
from autograder.grading.inbox.collect import collect, current_fingerprint
from autograder.grading.outputs import records
from tests.grading.drivers.test_resume import _settings, _write
from tests.paths import CORPUS
from tests.sandbox_required import sandbox_marks

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

REPO = Path(__file__).resolve().parents[3]
CHECKS = "fakecourse.checks:get_assignment"


def _course(tmp_path: Path, *names: str) -> pipeline.Settings:
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for name in names:
        _write(tmp_path, name, notebooks.write(notebooks.submission(), tmp_path / f"{name}.ipynb").read_bytes())
    return _settings(tmp_path, checks=CHECKS, source=source, workers=1)


def _no_sandbox_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker start fails as a broken sandbox does: the process cannot be made, or it exits at once (bwrap
    cannot exec the interpreter, say)."""
    def cannot_launch(*args: Any, **kwargs: Any) -> Any:
        raise OSError(2, "No such file or directory")

    def exits_at_once(*args: Any, **kwargs: Any) -> Any:
        raise sandbox.WorkerDied("worker 0 failed to start (pipe closed by the other side)")
    monkeypatch.setattr(sandbox, "launch_worker", cannot_launch)
    monkeypatch.setattr(sandbox, "start_worker", exits_at_once)


def test_a_sandbox_that_does_not_start_stops_the_run_and_replaces_no_grade(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _course(tmp_path, "ann", "bob")
    first = pipeline.grade(settings, io.StringIO())
    assert {s: r.total for s, r in first.items()} == {"ann": 5, "bob": 5}
    stored = records.result_path(settings.out, "ann").read_bytes()
    _no_sandbox_starts(monkeypatch)
    with pytest.raises(ValueError, match="the grading sandbox could not start: .*rerun with --resume"):
        pipeline.grade(dataclasses.replace(settings, students=("ann",)), io.StringIO())
    assert records.result_path(settings.out, "ann").read_bytes() == stored  # the good grade stays
    fresh = dataclasses.replace(settings, out=tmp_path / "fresh")
    with pytest.raises(ValueError, match="could not start"):
        pipeline.grade(fresh, io.StringIO())
    assert not list((fresh.out / "results").glob("*.json"))  # no student got an error row for it


def test_a_stored_result_that_records_a_grader_failure_is_graded_again(tmp_path: Path) -> None:
    settings = _course(tmp_path, "ann", "bob")
    pipeline.grade(settings, io.StringIO())
    sub = next(s for s in collect(settings.submissions, "fake", "fake.ipynb") if s.student_id == "bob")
    failed = dataclasses.replace(outcome.internal_error(sub, checks.ASSIGNMENT, "worker 0 failed to start"),
                                 source=current_fingerprint(sub))
    assert failed.grader_failed and not records.matches(failed, sub)
    records.save_result(settings.out, failed)
    log = io.StringIO()
    again = pipeline.grade(dataclasses.replace(settings, resume=True), log)
    assert again["bob"].total == 5 and "record a failure of the grader, not a grade (e.g. bob)" in log.getvalue()


def test_a_student_added_since_is_graded_by_a_student_run(tmp_path: Path) -> None:
    """`--student erin` after frank's folder appeared: frank has no result, so he would be in no output."""
    settings = _course(tmp_path, "erin")
    pipeline.grade(settings, io.StringIO())
    _write(tmp_path, "frank", (tmp_path / "erin.ipynb").read_bytes())
    log = io.StringIO()
    again = pipeline.grade(dataclasses.replace(settings, students=("erin",)), log)
    assert set(again) == {"erin", "frank"} and "without a stored result (e.g. frank): graded too" in log.getvalue()
    with open(settings.out / "grades.csv", newline="") as f:
        assert {row["student_id"] for row in csv.DictReader(f)} == {"erin", "frank"}


@pytest.mark.parametrize("marks", [pytest.param(None, marks=sandbox_marks("the linked-interpreter test"))],
                         ids=["bubblewrap"])
def test_a_python_reached_through_a_link_runs_in_the_sandbox(tmp_path: Path, marks: None) -> None:
    settings = _course(tmp_path, "ann")
    environment = Path(sys.executable).parent.parent  # the virtual environment (or the installation) running us
    (tmp_path / "linked").symlink_to(environment, target_is_directory=True)
    python = tmp_path / "linked" / Path(sys.executable).parent.name / Path(sys.executable).name
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{CORPUS}"}
    done = subprocess.run([str(python), "-m", "autograder", "grade", str(settings.submissions), "--assignment",
                           "fake", "--out", str(tmp_path / "out"), "--source", str(settings.source), "--checks", CHECKS,
                           "--workers", "1", "--sandbox", "bwrap"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        assert {row["status"] for row in csv.DictReader(f)} == {"passed"}, done.stderr[-2000:]


def test_the_console_and_report_count_uploads_and_name_the_roster_only_when_there_is_one(tmp_path: Path) -> None:
    """A roster student who sent nothing is no graded submission; "Everyone on the roster submitted" only with a
    roster."""
    settings = _course(tmp_path, "ann")
    log = io.StringIO()
    pipeline.grade(settings, log)
    report = (settings.out / "report.html").read_text()
    assert "graded 1 submission(s)" in log.getvalue() and "No roster was given" in report
    assert "Everyone on the roster submitted" not in report
    logs = list((settings.out / "logs").glob("worker-*.log"))  # they may quote a student's code: 0600, as README says
    assert logs and {stat.S_IMODE(p.stat().st_mode) for p in logs} == {0o600}
    roster = tmp_path / "roster.txt"
    roster.write_text("ann\n")
    pipeline.grade(dataclasses.replace(settings, roster=roster, out=tmp_path / "all"), io.StringIO())
    assert "Everyone on the roster submitted" in (tmp_path / "all" / "report.html").read_text()
    roster.write_text("ann\nbea\n")
    log = io.StringIO()
    pipeline.grade(dataclasses.replace(settings, roster=roster, out=tmp_path / "one-missing"), log)
    assert "graded 1 submission(s)" in log.getvalue() and "2 students, 1 submitted" in log.getvalue()


def test_a_full_disk_while_saving_stops_the_run_in_one_line_and_keeps_what_was_saved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC on a result used to kill its grading thread with a traceback and end the run as if it had finished."""
    settings = _course(tmp_path, "ann", "bob", "cy")
    real = records.save_result
    seen: list[str] = []

    def full_after_one(out: Path, result: Any) -> None:
        seen.append(result.student_id)
        if len(seen) > 1:
            raise OSError(28, "No space left on device", str(records.result_path(out, result.student_id)))
        real(out, result)
    monkeypatch.setattr(records, "save_result", full_after_one)
    with pytest.raises(pipeline.WriteFailed, match=r"cannot write .*results/\w+\.json: No space left on device; 1 "
                                                   r"grade\(s\) saved .* rerun with --resume$"):
        pipeline.grade(settings, io.StringIO())
    assert [p.stem for p in (settings.out / "results").glob("*.json")] == seen[:1]
    assert not (settings.out / "grades.csv").exists()


def test_a_full_disk_while_writing_the_outputs_is_one_line_and_resume_writes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.grading.outputs import batch

    settings = _course(tmp_path, "ann", "bob")
    real = batch.publish

    def full(out: Path, relative: Any, data: bytes) -> None:
        if str(relative) == "totals.csv":
            raise OSError(27, "File too large", str(out / relative))
        real(out, relative, data)
    monkeypatch.setattr(batch, "publish", full)
    with pytest.raises(pipeline.WriteFailed, match=r"totals\.csv: File too large; every grade is saved .* rerun "
                                                   r"with --resume to write them \(nobody is graded again\)$"):
        pipeline.grade(settings, io.StringIO())
    monkeypatch.setattr(batch, "publish", real)
    log = io.StringIO()
    again = pipeline.grade(dataclasses.replace(settings, resume=True), log)
    assert {s: r.total for s, r in again.items()} == {"ann": 5, "bob": 5}
    assert "graded 0 submission(s)" in log.getvalue() and (settings.out / "totals.csv").exists()


def test_a_run_that_records_grader_failures_says_so_after_its_summary(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Every student's error row of the grader's own (a file size limit hit mid-job) ended a run with exit 0 and a
    plain "error 2" in the summary, and a 0 for each in the LMS files."""
    from autograder.grading.core.pool import Pool

    settings = _course(tmp_path, "ann", "bob")
    real = Pool.grade

    def broken_for_bob(self: Pool, sub: Any) -> Any:
        if sub.student_id == "bob":
            return outcome.internal_error(sub, checks.ASSIGNMENT, "OSError: [Errno 27] File too large")
        return real(self, sub)
    monkeypatch.setattr(Pool, "grade", broken_for_bob)
    log = io.StringIO()
    pipeline.grade(settings, log)
    assert log.getvalue().splitlines()[-1].startswith("warning: 1 student(s) have no grade because the grader "
                                                      "failed on them (e.g. bob")
    assert "rerun with --resume" in log.getvalue().splitlines()[-1]
