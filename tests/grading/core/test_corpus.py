"""The adversarial corpus, graded once per module by the real pipeline in the real sandbox.

Every threat of GUIDE §3 has a student in tests/corpus/hostile.py with the rows it must get; the
honest questions of each hostile notebook must still pass (one bad cell never costs the others),
and files outside the sandbox must be neither changed nor readable. That includes the per-submission
families (IPC objects, keys and files left for the next student, shared-memory and fork-many memory
hogs, busy processes in new sessions) and the shortcuts through the course and around the tripwire.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))

from fakecourse import notebooks
from hostile import CASES as THREATS
from hostile_text import DANGEROUS, TEXT_CASES

from autograder.checks.messages import text
from autograder.grading.drivers import pipeline
from autograder.grading.runner.wire import Limits
from tests.sandbox_required import sandbox_marks

pytestmark = sandbox_marks("the hostile corpus")
CHECKS = "fakecourse.checks:get_assignment"
#: Every corpus student: the threats, and the hostile text of issue 18 §4.
CASES = {**THREATS, **TEXT_CASES}


def _digest(path: Path) -> str:
    """sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Write every corpus submission, grade the batch once, and record protected files before/after."""
    root = tmp_path_factory.mktemp("corpus")
    subs, out = root / "submissions", root / "out"
    out.mkdir()
    secret = root / "secret.txt"
    secret.write_text("hidden test answers")
    secret.chmod(0o600)
    gradebook = out / "gradebook.db"
    gradebook.write_bytes(b"pretend gradebook")
    source = notebooks.write(notebooks.source_notebook(), root / "source" / "fake.ipynb")
    paths = {"other_student": str(subs / "honest" / "fake" / "fake.ipynb"), "gradebook": str(gradebook),
             "source": str(source), "secret": str(secret)}
    for student, (build, _) in CASES.items():
        built = build(paths)
        folder = subs / student / "fake"
        folder.mkdir(parents=True)
        if built is not None:
            notebooks.write(built, folder / "fake.ipynb")
    protected = [Path(p) for p in paths.values()]
    before = {p: _digest(p) for p in protected}
    settings = pipeline.Settings(submissions=subs, assignment_id="fake", out=out, workers=2, checks=CHECKS,
                                 source=source, sandbox="bwrap",
                                 limits=Limits(timeout=3.0, memory_mb=512, output_bytes=32 << 10))
    results = pipeline.grade(settings)
    return {"results": results, "out": out, "before": before, "after": {p: _digest(p) for p in protected},
            "paths": paths}


def test_every_student_gets_one_row_per_graded_cell(graded: dict) -> None:
    """All students appear in grades.csv, with the exact header, three rows each."""
    with open(graded["out"] / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status", "message"]
    students = [r[0] for r in rows[1:]]
    assert sorted(set(students)) == sorted(CASES)
    assert all(students.count(s) == 3 for s in CASES)
    assert all(r[7] and "\n" not in r[7] for r in rows[1:])


@pytest.mark.parametrize("student", sorted(CASES))
def test_row_statuses(graded: dict, student: str) -> None:
    """Each corpus student gets exactly the expected status per question, and the score that goes with it."""
    rows = {r.grade_id: r for r in graded["results"][student].rows}
    expected = CASES[student][1]
    allowed = {g: status if isinstance(status, tuple) else (status,) for g, status in expected.items()}
    assert set(rows) == set(allowed) and all(rows[g].status in allowed[g] for g in rows), \
        {g: (r.status, text(r.message)) for g, r in rows.items()}
    for row in rows.values():
        if row.status == "passed":
            assert row.score == row.max_score
        elif row.status == "partial":
            assert 0 < row.score < row.max_score
        else:
            assert row.score == 0


def test_files_outside_the_sandbox_were_not_changed(graded: dict) -> None:
    """The 'escapes' student tried to read and append to these; none changed (and it passed, so none read)."""
    assert graded["before"] == graded["after"]
    assert graded["results"]["escapes"].rows[0].status == "passed"


def test_diagnoses_name_the_problem(graded: dict) -> None:
    """Messages say what happened in words a student understands."""
    message = {s: {r.grade_id: text(r.message) for r in graded["results"][s].rows} for s in CASES}
    assert "deleted" in message["deletes-test"]["test_norm2"]
    assert "time limit" in message["endless-loop"]["test_scale"]
    assert "memory" in message["eats-memory"]["test_norm2"]
    assert "Tensor.backward" in message["calls-backward"]["test_square_grad"]
    assert "not UTF-8" in message["not-utf8"]["test_scale"]
    assert "another assignment" in message["other-assignment"]["test_scale"]
    assert "exit code 3" in message["sys-exit"]["test_norm2"]
    # fake progress lines on the result pipe: the worker refused the channel and stopped the child itself
    assert "result channel" in message["fake-lines-oom"]["test_scale"]
    assert "out of memory" not in message["fake-lines-oom"]["test_scale"]


def test_output_is_capped_not_fatal(graded: dict) -> None:
    """300 MB of prints keep only the cap, mark the cut, and the question still passes."""
    output = graded["results"]["prints-gigabytes"].output
    notes = [text(n) for n in graded["results"]["prints-gigabytes"].notes]
    assert len(output["stdout"]) <= 32 << 10 and any("was cut" in n for n in notes), notes


def test_honest_stderr_is_kept_as_feedback(graded: dict) -> None:
    """Warnings printed by honest work appear in the feedback and cost nothing."""
    page = (graded["out"] / "feedback" / "honest-stderr" / "fake" / "fake.html").read_text()
    assert "DeprecationWarning: something" in page and "5 / 5" in page


def test_notes_for_repaired_notebooks(graded: dict) -> None:
    """Edited test cells and upgraded nbformat 3 notebooks are graded, with a note saying so."""
    assert any("edited" in text(n) for n in graded["results"]["edits-test"].notes)
    assert any("nbformat 3" in text(n) for n in graded["results"]["nbformat3"].notes)


def test_seeds_are_recorded_and_per_student(graded: dict) -> None:
    """Each result records the seed its inputs were drawn from; students get different ones."""
    seeds = [r.seed for r in graded["results"].values() if r.seed is not None]
    assert len(seeds) == len(set(seeds)) > 10
    stored = json.loads((graded["out"] / "results" / "honest.json").read_text())
    assert stored["seed"] == graded["results"]["honest"].seed and stored["sandbox"] == "bubblewrap"


def test_no_student_process_survives(graded: dict) -> None:
    """After the batch (fork bomb, busy sessions, memory hogs included) no process runs under this run's
    student uids (other graders on the machine have uid pools of their own)."""
    from autograder.grading.runner.isolation import UIDS_PER_WORKER, preferred_slot, slot_base

    pools = [slot_base(preferred_slot(os.getpid(), i)) for i in range(2)]  # the pools its 2 workers held
    uids = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    assert not [u for u in uids if any(first <= int(u) < first + UIDS_PER_WORKER for first in pools)]
    assert all(r.sandbox == "bubblewrap" for r in graded["results"].values())


def test_reports_and_gradescope(graded: dict) -> None:
    """The cohort report has its sections; Gradescope files carry the same totals as the CSV."""
    report = (graded["out"] / "report.html").read_text()
    for section in ("Total scores", "Pass rate per test", "Most common diagnoses", "Slowest submissions"):
        assert section in report
    for student, result in graded["results"].items():
        gradescope = json.loads((graded["out"] / "gradescope" / student / "results.json").read_text())
        assert gradescope["score"] == pytest.approx(result.total)
        assert len(gradescope["tests"]) == 3


def test_nbgrader_export_lists_the_same_scores(graded: dict, tmp_path: Path) -> None:
    """Round trip: write the gradebook, run `nbgrader export`, compare each student's total."""
    from autograder.grading.outputs.export import to_gradebook
    from autograder.grading.runner.assignments import load_assignment

    db = tmp_path / "gradebook.db"
    to_gradebook(str(db), load_assignment(CHECKS, "fake"), graded["results"])
    subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.root={tmp_path}",
                    f"--CourseDirectory.db_url=sqlite:///{db}", f"--CsvExportPlugin.to={tmp_path / 'x.csv'}"],
                   cwd=tmp_path, check=True, capture_output=True,
                   env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"})
    with open(tmp_path / "x.csv", newline="") as f:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert exported == pytest.approx({s: r.total for s, r in graded["results"].items()})


def test_hostile_text_leaves_every_output_written_and_clean(graded: dict) -> None:
    """Surrogates, NUL, escapes, bidi overrides and invalid UTF-8 from exceptions, prints and the notebook's own
    JSON: every output file (grades.csv, results, feedback, Gradescope, report) is valid UTF-8 without them."""
    files = [p for p in graded["out"].rglob("*") if p.is_file() and p.suffix in (".csv", ".json", ".html")]
    assert len(files) >= 3 * len(CASES)
    for path in files:
        content = path.read_bytes().decode("utf-8")
        assert not DANGEROUS.intersection(content), (path, ascii(sorted(DANGEROUS.intersection(content))[:5]))
    message = {r.grade_id: text(r.message) for r in graded["results"]["raises-surrogate"].rows}
    assert "bad \ufffd value" in message["test_scale"]

