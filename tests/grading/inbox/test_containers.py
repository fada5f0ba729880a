"""Hostile containers and amplifying notebooks, graded by the real pipeline in the real sandbox.

Each student of tests/corpus/containers.py must get rows with the expected status and a reason that
names the problem; the batch always completes; no id is made up from a path a student planted; no
output file grows with the junk; and the grader's own peak memory stays bounded (measured in a
subprocess with getrusage).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from tests.paths import CORPUS, REPO

sys.path.insert(0, str(CORPUS))

import containers
from fakecourse import notebooks

from autograder.checks.messages import text
from autograder.grading.drivers import pipeline
from autograder.grading.inbox.collect import collect
from autograder.grading.runner import limits
from autograder.grading.runner.wire import Limits
from tests.sandbox_required import sandbox_marks

pytestmark = sandbox_marks("the container corpus")
CHECKS = "fakecourse.checks:get_assignment"
#: Generous bounds on what one student may leave in OUT/ (an honest result is a few KB).
FEEDBACK_BYTES = 4 * limits.RESULT_BYTES
GRADESCOPE_BYTES = limits.RESULT_BYTES


def _grade(submissions: Path, root: Path, source: Path, roster: Path | None = None) -> dict:
    """Grade a batch as the CLI would (bubblewrap), keeping the results, OUT and collect()'s log lines."""
    out = root / "out"
    settings = pipeline.Settings(submissions=submissions, assignment_id="fake", out=out, workers=2,
                                 checks=CHECKS, source=source, sandbox="bwrap", roster=roster,
                                 limits=Limits(timeout=5.0, memory_mb=512, output_bytes=32 << 10))
    results = pipeline.grade(settings)
    return {"results": results, "out": out, "log": collect(submissions, "fake", "fake.ipynb").log}


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every hostile folder student, graded in one batch."""
    root = tmp_path_factory.mktemp("containers-folder")
    source = notebooks.write(notebooks.source_notebook(), root / "source" / "fake.ipynb")
    subs = root / "submissions"
    subs.mkdir()
    paths = {"source": str(source), "other_student": str(subs / "honest" / "fake" / "fake.ipynb")}
    expected = containers.write_folder(subs, paths)
    return {**_grade(subs, root, source), "expected": expected}


@pytest.fixture(scope="module")
def zip_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hostile Canvas/Moodle download graded in one batch, with a roster naming Bob (who never submitted)."""
    root = tmp_path_factory.mktemp("containers-zip")
    source = notebooks.write(notebooks.source_notebook(), root / "source" / "fake.ipynb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we add on purpose
        expected = containers.write_zip(root / "lms.zip")
    roster = root / "roster.csv"
    roster.write_text("student_id\nbob\nmary-major_789\ndoejohn_123\n")
    return {**_grade(root / "lms.zip", root, source, roster), "expected": expected}


def _check_rows(run: dict, student: str) -> None:
    """Every row of `student` has the expected status, scores accordingly, and names the problem."""
    status, word = run["expected"][student]
    rows = run["results"][student].rows
    messages = {r.grade_id: text(r.message) for r in rows}
    assert [r.status for r in rows] == [status] * 3, messages
    assert all((r.score == r.max_score) if status == "passed" else r.score == 0 for r in rows)
    if word:
        assert all(word in text(r.message) for r in rows), messages


@pytest.mark.parametrize("student", sorted({*containers.FOLDER, "link-student"}))
def test_folder_students_get_a_row_with_a_reason(folder_run: dict, student: str) -> None:
    """Links, directories, FIFOs, devices, junk and oversize notebooks: that student's rows, with why."""
    _check_rows(folder_run, student)


def test_folder_batch_has_exactly_the_students(folder_run: dict) -> None:
    """No id made up from a planted path; the stray file at the top is a log line, not a row."""
    assert set(folder_run["results"]) == set(folder_run["expected"])
    assert any("README.txt" in line and "ignored" in line for line in folder_run["log"])


def test_links_were_not_followed(folder_run: dict) -> None:
    """A link to the source or to another student's notebook never scores (it would pass if read)."""
    for student in ("link-to-solutions", "link-to-other", "link-relative", "linked-folder", "link-student"):
        assert sum(r.score for r in folder_run["results"][student].rows) == 0


@pytest.mark.parametrize("student", sorted(containers.ZIP))
def test_zip_students_get_a_row_with_a_reason(zip_run: dict, student: str) -> None:
    """Corrupt, size-lying, encrypted, bomb, symlink, duplicate and crowded members: a row with a reason."""
    _check_rows(zip_run, student)


def test_zip_ids_come_only_from_the_uploads_own_name(zip_run: dict) -> None:
    """Planted <id>/fake/fake.ipynb paths create no rows, rename nobody, and do not satisfy the roster."""
    assert set(zip_run["results"]) == set(zip_run["expected"]) | {"bob"}
    assert {r.status for r in zip_run["results"]["bob"].rows} == {"missing"}
    assert zip_run["results"]["mary-major_789"].origin.endswith("Mary Major_789_assignsubmission_file_/fake.ipynb")
    assert not any(s.startswith(("mary-major", "doejohn", "bob")) and s not in zip_run["expected"] and s != "bob"
                   for s in zip_run["results"])


def test_stray_members_are_log_lines(zip_run: dict) -> None:
    """Absolute and '..' member names and files that belong to nobody are each reported in the run's log."""
    log = "\n".join(zip_run["log"])
    assert "'../Mary Major" in log and "'/abs/doejohn" in log and "no naming convention" in log


@pytest.mark.parametrize("run_name", ["folder_run", "zip_run"])
def test_every_output_file_stays_under_its_cap(request: pytest.FixtureRequest, run_name: str) -> None:
    """Results, feedback and Gradescope files of every student are small, whatever the notebook held."""
    run = request.getfixturevalue(run_name)
    out = run["out"]
    sizes = {p.relative_to(out): p.stat().st_size for p in out.rglob("*") if p.is_file()}
    caps = {"results": limits.RESULT_BYTES, "feedback": FEEDBACK_BYTES, "gradescope": GRADESCOPE_BYTES}
    for path, size in sizes.items():
        cap = caps.get(path.parts[0])
        if cap is not None:
            assert size <= cap, (path, size)
    assert sizes[Path("grades.csv")] < 200 * len(run["results"]) * 3
    for student in run["results"]:
        assert len(student) <= limits.ID_CHARS


def test_no_infrastructure_error_for_the_submissions_own_problems(folder_run: dict, zip_run: dict) -> None:
    """Oversized input is 'malformed' naming its limit, decided before the sandbox: never an 'error' row."""
    for run in (folder_run, zip_run):
        for student, result in run["results"].items():
            assert {r.status for r in result.rows} != {"error"}, (student, text(result.rows[0].message))


RSS_SCRIPT = """
import resource, sys
from pathlib import Path
from autograder.grading.drivers import pipeline
from autograder.grading.runner.wire import Limits
for submissions in sys.argv[2:]:
    pipeline.grade(pipeline.Settings(submissions=Path(submissions), assignment_id="fake", out=Path(sys.argv[1]),
                                     workers=1, checks="fakecourse.checks:get_assignment", sandbox="auto",
                                     source=Path(sys.argv[1]).parent / "source" / "fake.ipynb",
                                     limits=Limits(timeout=5.0, memory_mb=512)))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_grader_peak_memory_does_not_scale_with_junk(tmp_path: Path) -> None:
    """Junk JSON, 300k cells, huge metadata, and a zip upload of a bomb plus 12 x 16 MB members: the
    grader's own peak RSS stays under 1 GiB (it was ~8 GB on the junk notebook alone)."""
    notebooks.write(notebooks.source_notebook(), tmp_path / "source" / "fake.ipynb")
    folder = tmp_path / "subs"
    for student, data in {"junk": containers.junk_cells(), "cells": containers.tiny_cells(),
                          "meta": containers.huge_metadata()}.items():
        (folder / student / "fake").mkdir(parents=True)
        (folder / student / "fake" / "fake.ipynb").write_bytes(data)
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        containers._streamed(limits.NOTEBOOK_BYTES + (1 << 20))(z, "hoarder_313_413_fake.ipynb")  # a bomb
        for i in range(12):
            containers._streamed(16 << 20, b"{")(z, f"hoarder_313_413_x{i}.ipynb")
        z.writestr("junk_1_2_fake.ipynb", containers.junk_cells())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CORPUS), str(REPO)]),
           "COURSE_GRADING_KEY": "k" * 32}
    done = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(tmp_path / "out"), str(folder), str(archive)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stdout.split()[-1]) / 1024
    print(f"grader peak RSS on the junk batch: {peak_mb:.0f} MB")
    assert peak_mb < 1024
    results = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out" / "results").glob("*.json")}
    assert {r["status"] for res in results.values() for r in res["rows"]} == {"malformed"}
    assert set(results) == {"junk", "cells", "meta", "hoarder_313", "junk_1"}
