"""--resume and --student never hand one student's grade to another (issue 18 §5): a stored result is kept only
when it was graded from the same upload (its name and notebook bytes, `Result.source`)."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from autograder.grading.core.model import Result, Row, Submission
from autograder.grading.drivers import pipeline
from autograder.grading.inbox.collect import collect, current_fingerprint, fingerprint
from autograder.grading.outputs import records
from autograder.message import say
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

FAKE = checks.ASSIGNMENT
CHECKS = "fakecourse.checks:get_assignment"


def _stored(sub: Submission, source: str | None) -> Result:
    """A full-marks result for `sub`, graded from `source`."""
    rows = tuple(Row(sub.student_id, FAKE.id, FAKE.notebook, q.grade_id, float(q.points), float(q.points), "passed",
                     say("upload.problem", reason="ok")) for q in FAKE.questions)
    return Result(sub.student_id, FAKE.id, FAKE.notebook, sub.origin, False, 1, (), {}, 0.1, rows, source=source)


def _settings(tmp_path: Path, **changes: Any) -> pipeline.Settings:
    """Settings for a folder of submissions under tmp_path/subs."""
    return dataclasses.replace(pipeline.Settings(submissions=tmp_path / "subs", assignment_id="fake",
                                                 out=tmp_path / "out"), **changes)


def _write(tmp_path: Path, name: str, data: bytes) -> None:
    """tmp_path/subs/<name>/fake/fake.ipynb holding `data`."""
    folder = tmp_path / "subs" / name / "fake"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fake.ipynb").write_bytes(data)


def test_fingerprints_tell_name_and_content_apart(tmp_path: Path) -> None:
    """Same bytes under another name, other bytes under the same name, and no notebook: three fingerprints."""
    a = Submission("a", "o", b"nb", name="josé")
    assert fingerprint(a, b"nb") == current_fingerprint(a)
    assert len({fingerprint(a, b"nb"), fingerprint(dataclasses.replace(a, name="josè"), b"nb"),
                fingerprint(a, b"nb2"), fingerprint(a, None)}) == 4


def test_resume_reuses_only_results_graded_from_the_same_upload(tmp_path: Path) -> None:
    """--resume keeps a result whose source matches the upload there now; a changed notebook, an upload that
    was renamed onto the id, a result without a fingerprint (older grader) and a missing one are regraded."""
    for name, data in (("same", b"1"), ("changed", b"2"), ("old", b"3"), ("new", b"4")):
        _write(tmp_path, name, data)
    subs = {s.student_id: s for s in collect(tmp_path / "subs", "fake", "fake.ipynb")}
    done = {"same": _stored(subs["same"], current_fingerprint(subs["same"])),
            "changed": _stored(subs["changed"], fingerprint(subs["changed"], b"an earlier notebook")),
            "old": _stored(subs["old"], None)}
    todo = pipeline._select(list(subs.values()), done, _settings(tmp_path, resume=True))
    assert sorted(s.student_id for s in todo) == ["changed", "new", "old"]
    only = pipeline._select(list(subs.values()), done, _settings(tmp_path, students=("same",)))
    assert sorted(s.student_id for s in only) == ["changed", "new", "old", "same"]  # 'new' would be in no output
    plain = pipeline._select(list(subs.values()), {}, _settings(tmp_path))
    assert len(plain) == 4


def _older_form(result: Result) -> bytes:
    """`result` as the grader stored it before messages were codes: no schema, English text, mistakes by name."""
    stored = json.loads(records.result_bytes(result))
    stored.pop("schema")
    for row in stored["rows"]:
        row["message"], row["mistake"] = "test_scale: all 2 cases match the reference (max abs err 0)", ""
        row.pop("mistakes")
    return json.dumps(stored).encode()


def test_a_result_of_an_older_form_is_regraded_never_misread(tmp_path: Path) -> None:
    """A result file written before messages were codes is never read as a current one: --resume regrades it even
    though it was graded from the same upload, --student regrades it besides the students named, and until then
    the outputs show an error row saying why (never a crash)."""
    for name, data in (("old", b"1"), ("kept", b"2")):
        _write(tmp_path, name, data)
    subs = {s.student_id: s for s in collect(tmp_path / "subs", "fake", "fake.ipynb")}
    out = tmp_path / "out"
    records.save_result(out, _stored(subs["kept"], current_fingerprint(subs["kept"])))
    records.result_path(out, "old").write_bytes(_older_form(_stored(subs["old"], current_fingerprint(subs["old"]))))
    done, broken = records.load_stored(out, "fake")
    assert set(done) == {"kept"} and "regraded" in broken["old"] and records.stale(out) == {"old"}
    resumed = pipeline._select(list(subs.values()), done, _settings(tmp_path, resume=True))
    assert [s.student_id for s in resumed] == ["old"]
    named = pipeline._select(list(subs.values()), done, _settings(tmp_path, students=("kept",)),
                             frozenset(records.stale(out)))
    assert sorted(s.student_id for s in named) == ["kept", "old"]
    shown = records.current(out, FAKE, list(subs.values()))["old"]
    assert {r.status for r in shown.rows} == {"error"} and shown.rows[0].message.code == "internal.stored"


def test_a_stored_result_of_another_upload_is_never_kept_under_its_id(tmp_path: Path) -> None:
    """The issue's case at the record level: josé's stored result, and a josè upload: never the same id, and even
    a result file planted under josè's id with josé's fingerprint is not reused for josè."""
    _write(tmp_path, "josé", b"jose's work")
    _write(tmp_path, "josè", b"blank")
    subs = {s.name: s for s in collect(tmp_path / "subs", "fake", "fake.ipynb")}
    jose, josè = subs["josé"], subs["josè"]
    assert jose.student_id != josè.student_id
    planted = _stored(josè, current_fingerprint(jose))
    assert not records.matches(planted, josè) and records.matches(_stored(jose, current_fingerprint(jose)), jose)


@pytest.mark.slow
def test_a_student_added_between_runs_gets_neither_an_id_nor_a_grade_of_another(tmp_path: Path) -> None:
    """End to end in the sandbox: josé (honest) is graded; then josè (the blank release) and an NFD josé arrive
    and the run is resumed. josé's result file is untouched, the newcomers are graded on their own notebooks
    (blank: 0), grades.csv has one total per upload, and no two results point to the same file."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    notebooks.write(notebooks.submission(), tmp_path / "subs" / "josé" / "fake" / "fake.ipynb")
    settings = _settings(tmp_path, checks=CHECKS, source=source, workers=1)
    first = pipeline.grade(settings, io.StringIO())
    assert first["josé"].total == FAKE.max_score
    stored = records.result_path(settings.out, "josé").read_bytes()
    blank = notebooks.source_notebook()  # stands in for the released notebook: solutions removed below
    for cell in blank["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = "raise NotImplementedError()\n"
    for name in ("josè", unicodedata.normalize("NFD", "josé")):
        notebooks.write(blank, tmp_path / "subs" / name / "fake" / "fake.ipynb")
    log = io.StringIO()
    resumed = pipeline.grade(dataclasses.replace(settings, resume=True), log)
    assert "graded 2 submission(s)" in log.getvalue(), log.getvalue()
    assert records.result_path(settings.out, "josé").read_bytes() == stored
    assert len(resumed) == 3 and resumed["josé"].total == FAKE.max_score
    assert sorted(r.total for r in resumed.values()) == [0.0, 0.0, FAKE.max_score]
    assert len({r.source for r in resumed.values()}) == 3
    origins = [json.loads(p.read_text())["origin"] for p in (settings.out / "results").glob("*.json")]
    assert len(origins) == len(set(origins)) == 3


@pytest.mark.slow
def test_a_student_run_regrades_results_of_an_older_form_end_to_end(tmp_path: Path) -> None:
    """In the sandbox: a result file rewritten in the older form is regraded by a --student run for someone else,
    the log says so, and the file is current again."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for name in ("ann", "bob"):
        notebooks.write(notebooks.submission(), tmp_path / "subs" / name / "fake" / "fake.ipynb")
    settings = _settings(tmp_path, checks=CHECKS, source=source, workers=1)
    first = pipeline.grade(settings, io.StringIO())
    records.result_path(settings.out, "bob").write_bytes(_older_form(first["bob"]))
    log = io.StringIO()
    again = pipeline.grade(dataclasses.replace(settings, students=("ann",)), log)
    assert "1 stored result(s) were written by an older version of the grader (e.g. bob): regraded" in log.getvalue()
    assert again["bob"].rows == first["bob"].rows and again["bob"].total == FAKE.max_score
    assert json.loads(records.result_path(settings.out, "bob").read_text())["schema"] == 3
