"""A regrade renders only the students whose files would change (grading/outputs/rendered.py), and what it
leaves in OUT is byte for byte what rendering everyone again would write."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autograder.grading.core.model import Result, RunSummary
from autograder.grading.outputs import batch as outputs
from autograder.grading.outputs import rendered
from autograder.grading.outputs.sections import URL_ENV
from autograder.message import say
from tests.grading.outputs.test_batch import FAKE, _result

STUDENTS = ("ann", "bob", "cid")
SUMMARY = RunSummary("k", "bubblewrap", graded=3, elapsed=1.0)


def _cohort() -> dict[str, Result]:
    """Three students' results."""
    return {student: _result(student) for student in STUDENTS}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The students whose feedback page is rendered, in order, from now on."""
    seen: list[str] = []
    real: Callable[..., str] = outputs.feedback_html

    def counted(result: Result, *args: Any, **kwargs: Any) -> str:
        seen.append(result.student_id)
        return real(result, *args, **kwargs)
    monkeypatch.setattr(outputs, "feedback_html", counted)
    return seen


def _write(out: Path, assignment: Any, results: dict[str, Result], summary: RunSummary) -> dict[str, Result]:
    """outputs.write_all into `out`, made first if need be (the batch makes OUT before it grades)."""
    out.mkdir(parents=True, exist_ok=True)
    return outputs.write_all(out, assignment, results, summary)


def _files(out: Path) -> dict[str, bytes]:
    """Every file OUT shares (the private record aside), by path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and "logs" not in p.parts}


def _fresh(tmp_path: Path, results: dict[str, Result], summary: RunSummary = SUMMARY) -> dict[str, bytes]:
    """What writing `results` into an empty OUT (tmp_path/fresh) gives."""
    _write(tmp_path / "fresh", FAKE, results, summary)
    return _files(tmp_path / "fresh")


def test_a_regrade_renders_only_the_changed_student_and_writes_what_a_full_render_would(
        tmp_path: Path, renders: list[str]) -> None:
    """Regrading bob renders bob's page alone; OUT then holds exactly what rendering all three again gives."""
    out = tmp_path / "out"
    _write(out, FAKE, _cohort(), SUMMARY)
    assert renders == list(STUDENTS)
    renders.clear()
    _write(out, FAKE, _cohort(), SUMMARY)
    assert renders == []
    changed = {**_cohort(), "bob": _result("bob", message="a new diagnosis", stdout="other output\n")}
    _write(out, FAKE, changed, SUMMARY)
    assert renders == ["bob"]
    assert "a new diagnosis" in (out / "feedback" / "bob" / "fake" / "fake.html").read_text()
    assert _files(out) == _fresh(tmp_path, changed)


def test_the_record_is_private(tmp_path: Path) -> None:
    """OUT/logs/rendered.json names every student's files and digests: 0600 in a 0700 folder, like the results."""
    _write(tmp_path, FAKE, _cohort(), SUMMARY)
    record = tmp_path / rendered.RECORD
    assert oct(record.stat().st_mode)[-3:] == "600" and oct(record.parent.stat().st_mode)[-3:] == "700"
    assert sorted(json.loads(record.read_text())["students"]) == list(STUDENTS)


@pytest.mark.parametrize("change", ["book_url", "sandbox", "code"])
def test_a_changed_context_renders_everyone(tmp_path: Path, renders: list[str], monkeypatch: pytest.MonkeyPatch,
                                            change: str) -> None:
    """Another book address, sandbox name or grader version (its code, templates, catalogs) changes every page."""
    out, summary = tmp_path / "out", SUMMARY
    _write(out, FAKE, {s: dataclasses.replace(r, sandbox=None) for s, r in _cohort().items()}, summary)
    renders.clear()
    if change == "book_url":
        monkeypatch.setenv(URL_ENV, "https://course.example.org/book")
    elif change == "sandbox":
        summary = dataclasses.replace(SUMMARY, sandbox_name="none")
    else:
        stamp = rendered._code_stamp()
        monkeypatch.setattr(rendered, "_code_stamp", lambda: [*stamp, "a new version"])
    results = {s: dataclasses.replace(r, sandbox=None) for s, r in _cohort().items()}
    _write(out, FAKE, results, summary)
    assert renders == list(STUDENTS)
    assert _files(out) == _fresh(tmp_path, results, summary)


def test_the_code_stamp_covers_templates_and_catalogs() -> None:
    """The grader's version, as far as pages go, includes the page templates and both message catalogs."""
    names = {entry[0] for entry in rendered._code_stamp()[2]}
    assert {"grading/outputs/templates/feedback.html.j2", "grading/outputs/templates/base.html.j2",
            "locale/zh_CN/LC_MESSAGES/checks.po", "checks/messages.py"} <= names


@pytest.mark.parametrize("damage", ["edited", "deleted", "link"])
def test_a_page_changed_since_is_written_again(tmp_path: Path, renders: list[str], damage: str) -> None:
    """A feedback page edited, deleted or replaced by a link since the last batch is rendered and written again
    (the link replaced, its target untouched)."""
    out = tmp_path / "out"
    _write(out, FAKE, _cohort(), SUMMARY)
    page = out / "feedback" / "ann" / "fake" / "fake.html"
    good = page.read_bytes()
    target = tmp_path / "elsewhere.html"
    target.write_bytes(good)
    if damage == "edited":
        page.write_bytes(good.replace(b"ann", b"eve"))
    else:
        page.unlink()
        if damage == "link":
            page.symlink_to(target)
    renders.clear()
    _write(out, FAKE, _cohort(), SUMMARY)
    assert renders == ["ann"]
    assert not page.is_symlink() and page.read_bytes() == good and target.read_bytes() == good
    assert oct(page.stat().st_mode)[-3:] == "644"


def test_modes_are_restored_on_pages_left_as_they_were(tmp_path: Path, renders: list[str]) -> None:
    """A page not rendered again still gets the public mode (TAs and a web server read OUT/feedback)."""
    _write(tmp_path, FAKE, _cohort(), SUMMARY)
    page = tmp_path / "feedback" / "bob" / "fake" / "fake.html"
    page.chmod(0o600)
    (tmp_path / "feedback" / "bob").chmod(0o700)
    renders.clear()
    _write(tmp_path, FAKE, _cohort(), SUMMARY)
    assert renders == [] and oct(page.stat().st_mode)[-3:] == "644"
    assert oct((tmp_path / "feedback" / "bob").stat().st_mode)[-3:] == "755"


@pytest.mark.parametrize("record", [b"{not json", b'{"context": 1}', b"[]",
                                    b'{"context": "%s", "students": {"ann": {"result": 3, "files": []}}}'])
def test_a_damaged_record_means_rendering_everyone(tmp_path: Path, renders: list[str], record: bytes) -> None:
    """An unreadable or odd record is no record: every page is rendered, and a good record replaces it."""
    _write(tmp_path, FAKE, _cohort(), SUMMARY)
    context = json.loads((tmp_path / rendered.RECORD).read_text())["context"]
    (tmp_path / rendered.RECORD).write_bytes(record.replace(b"%s", context.encode()))
    renders.clear()
    _write(tmp_path, FAKE, _cohort(), SUMMARY)
    assert renders == list(STUDENTS)
    assert sorted(json.loads((tmp_path / rendered.RECORD).read_text())["students"]) == list(STUDENTS)


def test_a_result_that_could_not_be_rendered_is_tried_again(tmp_path: Path, renders: list[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A page that failed to render (its student got an error row instead) is not taken as rendered next time."""
    real = outputs.feedback_html

    def fails_for_bob(result: Result, *args: Any, **kwargs: Any) -> str:
        if result.student_id == "bob" and result.rows[0].status == "passed":
            raise ValueError("a template bug")
        return real(result, *args, **kwargs)
    monkeypatch.setattr(outputs, "feedback_html", fails_for_bob)
    out = tmp_path / "out"
    assert _write(out, FAKE, _cohort(), SUMMARY)["bob"].rows[0].status == "error"
    monkeypatch.setattr(outputs, "feedback_html", real)
    renders.clear()
    assert _write(out, FAKE, _cohort(), SUMMARY)["bob"].rows[0].status == "passed"
    assert renders == ["bob"] and _files(out) == _fresh(tmp_path, _cohort())


def test_the_result_digest_reads_every_field() -> None:
    """Two results that differ in any field a page may show have different digests."""
    base = _result("ann")
    variants = [dataclasses.replace(base, late=False), dataclasses.replace(base, language="zh_CN"),
                dataclasses.replace(base, notes=()), dataclasses.replace(base, seconds=0.3),
                dataclasses.replace(base, cell_errors=(say("upload.problem", reason="x"),)),
                dataclasses.replace(base, output={"stdout": "bye\n"})]
    digests = {rendered.result_digest(r) for r in [base, *variants]}
    assert len(digests) == 1 + len(variants)
    assert rendered.result_digest(base) == rendered.result_digest(Result.loads(json.dumps(base.to_json())))
