"""autograder.grading.outputs.report: what the instructor reads — diagnoses by named mistake, rates over submitters."""

from __future__ import annotations

import dataclasses
import html
import subprocess
import sys
from pathlib import Path

from autograder.grading.core.model import Result, Row, RunSummary
from autograder.grading.outputs import pages, report
from autograder.message import Message, say
from tests.paths import CORPUS, REPO

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE

LONG = "x" * 400
#: A named mistake of the course (mse_loss's) and its display name, which the report shows.
MISTAKE, NAME = "mse_sum", "wrong mean in the loss: summed"
OK = say("check.passed", grade_id="q", n=4, err="0")
NONE = say("upload.problem", reason="no submission found")


def _result(student: str, rows: list[tuple[str, float, str, Message, tuple[str, ...]]], submitted: bool = True,
            seconds: float = 0.5) -> Result:
    """A stored result with rows (grade_id, score, status, message, mistake ids)."""
    points = {q.grade_id: q.points for q in FAKE.questions}
    return Result(student, "fake", "fake.ipynb", "upload", False, 1, (), {}, seconds,
                  tuple(Row(student, "fake", "fake.ipynb", g, s, points[g], st, m, mi) for g, s, st, m, mi in rows),
                  sandbox="bubblewrap", submitted=submitted)


def _differs(grade_id: str, label: str, err: str, step: int, wrong: int = 3, names: tuple[str, ...] = ()) -> Message:
    """How the checks word a failed case, with the points summary (and the named mistakes, if any)."""
    head: Message = say("check.case", grade_id=grade_id, label=label, problem=say(
        "check.differs", key="y", reason=say("diff.error", abs=err, rel="0.1", where=say("at.step", step=step))))
    if names:
        head = say("check.named", head=head, name=say(f"mistake.{names[0]}"), hint=say(f"hint.{names[0]}"))
    return say("check.summary", head=head, wrong=wrong, total=8, score="0.33", points="2")


def _cohort() -> dict[str, Result]:
    """Three students make one named mistake (different numbers in each message), one passes, two never submit."""
    results = {}
    for i, student in enumerate(("ann", "ben", "cat")):
        message = _differs("test_norm2", f"n={i + 3}", f"{0.1 * (i + 1):.3g}", i + 1, i + 1, (MISTAKE,))
        results[student] = _result(student, [("test_scale", 1.0, "passed", OK, ()),
                                             ("test_norm2", 0.3333333, "partial", message, (MISTAKE,)),
                                             ("test_square_grad", 2.0, "passed", OK, ())])
    results["dan"] = _result("dan", [("test_scale", 0.0, "failed", say("check.error", grade_id="test_scale",
                                                                        error=LONG), ()),
                                     ("test_norm2", 2.0, "passed", OK, ()),
                                     ("test_square_grad", 2.0, "passed", OK, ())], seconds=9.25)
    for ghost in ("gus", "hal"):
        results[ghost] = _result(ghost, [(q.grade_id, 0.0, "missing", NONE, ()) for q in FAKE.questions],
                                 submitted=False, seconds=0.0)
    return results


def test_diagnoses_group_by_named_mistake_and_ignore_missing_students() -> None:
    found = report.common_diagnoses([r for r in _cohort().values() if report.submitted(r)])
    assert found[0].key == NAME and found[0].named and found[0].count == 3
    assert found[0].tests == ("test_norm2",)
    assert all("no submission" not in d.key for d in found)  # missing students do not crowd real diagnoses
    assert len(found) == 2


def test_unnamed_failures_group_by_message_without_case_and_numbers() -> None:
    a = report.diagnosis_key("failed", _differs("q", "t=1", "0.13", 2, 3), ())
    b = report.diagnosis_key("failed", _differs("q", "t=7, big", "1.5e-07", 11, 1), ())
    assert a == b and not a[1] and "case" not in a[0] and "outputs wrong" not in a[0] and "q:" not in a[0]
    assert a[0] == "failed: output 'y' differs: max abs err #, max rel err #, first bad step #"
    assert report.diagnosis_key("failed", OK, ("clip_without_eps",)) == ("missing 1e-6", True)


def test_missing_is_told_from_a_submission_without_functions() -> None:
    """Results without the 'submitted' field: roster-only rows (one message for all) are 'not submitted'."""
    ghost = dataclasses.replace(_result("gus", [(q.grade_id, 0.0, "missing", NONE, ())
                                                for q in FAKE.questions]), submitted=None)
    blank = dataclasses.replace(_result("ivy", [(q.grade_id, 0.0, "missing", say(
        "missing.function", names=q.functions[0]), ()) for q in FAKE.questions]), submitted=None)
    assert not report.submitted(ghost) and report.submitted(blank)


def test_report_page(tmp_path: Path) -> None:
    page = report.render(FAKE, _cohort(), RunSummary("abc123", "bubblewrap", graded=6, elapsed=3.14159))
    assert "4 of 6 students submitted" in page
    pass_rates = page.split("Pass rate per test")[1].split("Most common diagnoses")[0]
    assert "3/4" in pass_rates and "75%" in pass_rates and "/6" not in pass_rates  # over submitters only
    assert "3.33 / 5" in page and "3.333" not in page  # scores rounded for display
    assert f"<b>{NAME}</b>" in page
    assert 'href="feedback/dan/fake/fake.html"' in page and 'href="feedback/ann/fake/fake.html"' in page
    missing = page.split("<h2>Not submitted</h2>")[1]
    assert "gus" in missing and "hal" in missing and "2 student(s)" in missing
    assert 'class="message"' in page and "overflow-wrap: anywhere" in page  # long messages wrap
    assert "3.1 s" in page and "abc123" in page and '<svg class="histogram"' in page


def test_everything_in_the_report_is_escaped() -> None:
    results = _cohort()
    evil = "<script>alert(1)</script>"
    results[evil] = _result(evil, [("test_scale", 0.0, "failed", say("check.error", grade_id="test_scale",
                                                                      error=evil), (evil,)),
                                   ("test_norm2", 2.0, "passed", OK, ()),
                                   ("test_square_grad", 2.0, "passed", OK, ())])
    page = report.render(FAKE, results, RunSummary(evil, "bubblewrap", graded=1, elapsed=1.0))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the report's own table sorter, nothing else
    assert "%3Cscript%3E" in page  # the link to the feedback page is URL-encoded


def test_empty_cohort_renders() -> None:
    page = report.render(FAKE, {}, RunSummary("?", "bubblewrap"))
    assert "0 of 0 students submitted" in page and "No submissions yet" in page


def test_one_definition_of_every_count_in_report_and_console() -> None:
    """Mean over the students who submitted, missing apart, students counted once: the report and the summary agree."""
    from autograder.grading.outputs import batch as outputs

    results = _cohort()
    counts = report.cohort(results)
    assert [r.student_id for r in counts.handed_in] == ["ann", "ben", "cat", "dan"]
    assert [r.student_id for r in counts.missing] == ["gus", "hal"]
    assert abs(counts.mean - (3 * (1 + 1 / 3 + 2) + 4) / 4) < 1e-6  # not over 6, and not 4 rows of 'missing'
    assert counts.outcomes == {"partial": 3, "failed": 1, report.NOT_SUBMITTED: 2}
    assert counts.outcome_text() == "failed 1, partial 3, not submitted 2"
    page = report.render(FAKE, results, RunSummary("abc123", "bubblewrap", graded=6, elapsed=1.0))
    line = outputs.summary_line(results, RunSummary("abc123", "bubblewrap", graded=6, elapsed=1.0), "2 worker(s)")
    assert f"mean total {pages.score(counts.mean)} of 5" in page and f"mean total {counts.mean:.2f} over them" in line
    assert "6 students, 4 submitted" in line and "4 of 6 students submitted" in page
    assert counts.outcome_text() in line and counts.outcome_text() in page
    assert "missing 6" not in line and "missing" not in counts.outcome_text()  # rows are never counted as students
    assert "fingerprint abc123" in line and "fingerprint <b>abc123</b>" in page


def test_an_untouched_stub_is_one_not_attempted_diagnosis() -> None:
    def where(line: int) -> Message:
        return say("where.in_code", function="f", cell=say("where.cell", label="answer-1"), line=line, code="raise")
    stub = [("test_scale", say("check.summary", head=say("check.case", grade_id="test_scale", label="n=3", problem=say(
                "raised.stub.at", where=where(3))), wrong=4, total=4, score="0", points="1")),
            ("test_norm2", say("check.error", grade_id="test_norm2", error=say(
                "raised.text.at", type="NotImplementedError", text="write norm2", where=where(7)))),
            ("test_square_grad", say("check.case", grade_id="test_square_grad", label="x=-1",
                                     problem=say("raised.stub")))]
    results = [_result(s, [(g, 0.0, "error", m, ()) for g, m in stub]) for s in ("ann", "ben")]
    (found,) = report.common_diagnoses(results)
    assert found.key == report.NOT_ATTEMPTED and found.count == 2
    assert found.tests == ("test_norm2", "test_scale", "test_square_grad")


def test_diagnoses_show_numbers_they_share_and_never_a_hash() -> None:
    """A shared number ('10 s time limit', 'line 4') is kept; numbers that differ read '…', not '#'."""
    what = say("run.question", functions="scale", grade_id="test_scale")
    timeouts = [_result(s, [("test_scale", 0.0, "timeout", say("run.timeout", what=what, seconds="10"), ())])
                for s in ("ann", "ben")]
    (timeout,) = report.common_diagnoses(timeouts)
    assert timeout.key == "timeout: scale (for test_scale) did not finish within the 10 s time limit (endless loop?)"
    errs = [_result(s, [("test_norm2", 0.0, "failed", say("check.case", grade_id="test_norm2", label=f"n={n}",
                                                          problem=say("raised.text.at", type="ValueError",
                                                                      text=f"bad value {err} at step 4", where=say(
                                                                          "where.in_code", function="norm2", line=line,
                                                                          cell="cell answer-2", code="x"))), ())])
            for s, n, err, line in (("ann", 3, 0.5, 2), ("ben", 4, 1.5e-3, 9))]
    (err,) = report.common_diagnoses(errs)
    assert err.key == "failed: raised ValueError: bad value … at step 4" and "#" not in err.key  # no location
    page = report.render(FAKE, {r.student_id: r for r in errs + timeouts[:0]}, RunSummary("k", "bubblewrap"))
    assert "#" not in html.unescape(page.split("Most common diagnoses")[1].split("Students")[0])


def test_histogram_counts_whole_students() -> None:
    drawn = report.histogram([1.0, 2.5], 5.0)
    assert len(drawn.ticks) >= 2 and all(isinstance(t, int) for t in drawn.ticks) and drawn.ticks[0] == 0
    assert sum(drawn.counts) == 2 and drawn.top >= max(drawn.counts)
    many = report.histogram([0.0, 5.0, 5.0, *[2.4] * 37], 5.0)  # 0 in the first bin, the maximum in the last
    assert len(many.counts) == 10 and many.counts[0] == 1 and many.counts[-1] == 2 and many.counts[4] == 37
    assert many.top >= 37 and len(many.ticks) <= 6 and many.edges[0] == 0.0 and many.edges[-1] == 5.0


def test_the_report_draws_its_histogram_without_matplotlib() -> None:
    """An inline SVG from plain numbers: rendering the report imports no plotting library (matplotlib costs ~1 s)."""
    code = ("import sys; sys.path.insert(0, 'tests/corpus')\n"
            "from tests.grading.outputs.test_report import _cohort, FAKE\n"
            "from autograder.grading.outputs import report\n"
            "from autograder.grading.core.model import RunSummary\n"
            "page = report.render(FAKE, _cohort(), RunSummary('?', 'bubblewrap'))\n"
            "assert '<svg class=\"histogram\"' in page and page.count('<rect') >= 1, page\n"
            "assert 'matplotlib' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_report_shows_a_workers_start_up_apart_from_the_students_seconds() -> None:
    """A worker's first submission waited for it to start: the report shows that apart, not as the student's time."""
    results = _cohort()
    results["ann"] = dataclasses.replace(results["ann"], seconds=0.12, startup=1.5)
    page = report.render(FAKE, results, RunSummary("k", "bubblewrap", graded=6, elapsed=3.0))
    students = page.split("<h2>Students</h2>")[1].split("<h2>Slowest submissions</h2>")[0]
    ann = students.split('href="feedback/ann/')[1].split("</tr>")[0]
    assert ">0.12<" in ann and ">1.5<" in ann and "<th>start-up</th>" in students
    slowest = page.split("<h2>Slowest submissions</h2>")[1].split("</table>")[0]
    assert "0.12 (+1.5 s worker start-up)" in slowest
    assert slowest.index("dan") < slowest.index("ann")  # sorted by the students' own seconds (dan: 9.25 s)
