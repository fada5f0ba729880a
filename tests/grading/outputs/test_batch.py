"""outputs/batch: feedback pages (escaped, output shown once), Gradescope files, every file written."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.grading.core.model import Result, Row, RunSummary
from autograder.grading.outputs import batch as outputs
from autograder.message import say
from tests.paths import CORPUS, REPO

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE

EVIL = "<script>alert('x')</script>"


def _result(student: str = "alice", message: str = "ok", stdout: str = "hello\n") -> Result:
    """One stored result: a partial question with `message` (the text of an error), two passed ones."""
    fine = say("check.passed", grade_id="q", n=4, err="0")
    return Result(student, "fake", "fake.ipynb", "upload", True, 1234, (say("upload.problem", reason=f"note {EVIL}"),),
                  {"stdout": stdout, "stderr": "", "cell_errors": ""}, 0.2,
                  (Row(student, "fake", "fake.ipynb", "test_scale", 1.0, 1.0, "passed", fine),
                   Row(student, "fake", "fake.ipynb", "test_norm2", 2 / 3, 2.0, "partial",
                       say("check.error", grade_id="test_norm2", error=message), ("mse_sum",)),
                   Row(student, "fake", "fake.ipynb", "test_square_grad", 2.0, 2.0, "passed", fine)),
                  sandbox="bubblewrap")


def test_feedback_page_escapes_student_id_messages_notes_and_output() -> None:
    page = outputs.feedback_html(_result(EVIL, f"wrong: {EVIL}", f"printed {EVIL}\n"), FAKE, "bubblewrap")
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") >= 5  # title, heading, message, note, printed output


def test_feedback_page_content() -> None:
    page = outputs.feedback_html(_result(stdout="epoch 1\nepoch 2\n"), FAKE, "bubblewrap")
    assert "3.67 / 5" in page and "(late)" in page and "0.67 / 2" in page and "0.666" not in page
    assert page.count("epoch 1") == 1 and "Printed output" in page
    assert "Warnings and errors printed" not in page  # empty blocks are left out
    assert "1234" not in page and "case set K-" in page and "without a sandbox" not in page  # a label, not the seed
    bare = outputs.feedback_html(_result(), FAKE, "NONE (rlimits only)")
    assert "Graded without a sandbox (NONE (rlimits only))" in bare


def test_write_all_writes_every_file_where_the_report_links(tmp_path: Path) -> None:
    results = {"alice": _result(), "bob": _result("bob", "bad")}
    outputs.write_all(tmp_path, FAKE, results, RunSummary("k", "bubblewrap", graded=2, elapsed=1.0))
    for student in results:
        page = tmp_path / outputs.feedback_path(FAKE, student)
        assert page == tmp_path / "feedback" / student / "fake" / "fake.html" and page.is_file()
        assert f'href="feedback/{student}/fake/fake.html"' in (tmp_path / "report.html").read_text()
        gradescope = json.loads((tmp_path / "gradescope" / student / "results.json").read_text())
        assert gradescope["score"] == results[student].total and len(gradescope["tests"]) == 3
        # student text is never read as markup by Gradescope
        assert gradescope["output_format"] == "text" and {t["output_format"] for t in gradescope["tests"]} == {"text"}
    lines = (tmp_path / "grades.csv").read_text().splitlines()
    assert lines[0] == ",".join(("student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status",
                                 "message")) and len(lines) == 7


def test_summary_line() -> None:
    line = outputs.summary_line({"alice": _result()}, RunSummary("k", "bubblewrap", graded=1, elapsed=2.0),
                                "2 worker(s)")
    assert line.startswith("graded 1 submission(s) in 2.0 s") and "1 students, 1 submitted" in line
    assert "students by outcome: partial 1;" in line and line.endswith("grading key fingerprint k")


@pytest.mark.slow
def test_templates_ship_in_the_wheel(tmp_path: Path) -> None:
    """pyproject's package-data puts every page template into the built package."""
    repo, src = REPO, tmp_path / "src"
    shutil.copytree(repo / "autograder", src / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):  # built from a copy: no build/ or egg-info in the checkout
        shutil.copy(repo / name, src / name)
    shutil.copytree(repo / "jupyter-config", src / "jupyter-config")  # the book server's data-files
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    folder = "autograder/grading/outputs/templates"
    templates = {f"{folder}/{p.name}" for p in (repo / folder).glob("*.j2")}
    assert len(templates) == 3 and templates <= names


def test_an_unchanged_output_is_left_as_it_is_and_a_link_is_replaced(tmp_path: Path) -> None:
    """A regrade rewrites only what changed (each rewrite is synced to disk); a link where an output goes is
    replaced by the file, never written through."""
    outputs.publish(tmp_path, "feedback/ann/page.html", b"<p>same</p>")
    page = tmp_path / "feedback" / "ann" / "page.html"
    before = page.stat()
    outputs.publish(tmp_path, "feedback/ann/page.html", b"<p>same</p>")
    assert page.stat().st_ino == before.st_ino and page.stat().st_mtime_ns == before.st_mtime_ns
    outputs.publish(tmp_path, "feedback/ann/page.html", b"<p>new</p>")
    assert page.read_bytes() == b"<p>new</p>" and page.stat().st_ino != before.st_ino
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"<p>new</p>")
    target.chmod(0o600)
    page.unlink()
    page.symlink_to(target)
    outputs.publish(tmp_path, "feedback/ann/page.html", b"<p>new</p>")  # same bytes behind the link: still replaced
    assert not page.is_symlink() and page.read_bytes() == b"<p>new</p>" and oct(page.stat().st_mode)[-3:] == "644"
    assert oct(target.stat().st_mode)[-3:] == "600" and target.read_bytes() == b"<p>new</p>"  # the target untouched


def test_gradescope_notes_are_joined_in_the_students_language() -> None:
    """Gradescope's top-level output lists the notes joined as the student's language joins them (；in Chinese)."""
    notes = (say("note.late"), say("upload.problem", reason="x"))
    english = outputs._gradescope(dataclasses.replace(_result(), notes=notes))["output"]
    chinese = outputs._gradescope(dataclasses.replace(_result(), notes=notes, language="zh_CN"))["output"]
    assert english.count("; ") == 1 and "；" in chinese and "; " not in chinese
    assert outputs._gradescope(dataclasses.replace(_result(), notes=()))["output"] == ""
