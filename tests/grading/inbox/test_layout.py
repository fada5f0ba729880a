"""autograder.grading.inbox.layout: the usual wrong SUBMISSIONS folders are named, with the folder to grade instead."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.grading.inbox.layout import wrong_folder
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

CHECKS = ["--checks", "fakecourse.checks:get_assignment"]


def _student(root: Path, student: str, assignment: str = "fake") -> Path:
    """root/<student>/<assignment>/fake.ipynb (an honest submission)."""
    return notebooks.write(notebooks.submission(), root / student / assignment / "fake.ipynb")


def _course(tmp_path: Path) -> Path:
    """An nbgrader course root: source/, release/, submitted/<two students>/, nbgrader_config.py."""
    course = tmp_path / "course"
    notebooks.write(notebooks.source_notebook(), course / "source" / "fake" / "fake.ipynb")
    notebooks.write(notebooks.submission(), course / "release" / "fake" / "fake.ipynb")
    for student in ("alice", "bob"):
        _student(course / "submitted", student)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    return course


def test_the_right_folder_passes(tmp_path: Path) -> None:
    course = _course(tmp_path)
    assert wrong_folder(course / "submitted", "fake", "fake.ipynb") is None
    (tmp_path / "empty").mkdir()
    assert wrong_folder(tmp_path / "empty", "fake", "fake.ipynb") is None  # a roster-only run stays possible


def test_course_root_and_the_parent_of_submitted_name_submitted(tmp_path: Path) -> None:
    course = _course(tmp_path)
    assert wrong_folder(course, "fake", "fake.ipynb") == (
        f"SUBMISSIONS {course} is an nbgrader course folder (it holds submitted/), not a folder of students: "
        f"grade {course / 'submitted'}")
    bare = tmp_path / "bare"  # only submitted/ beside it: still never a student called "submitted"
    _student(bare / "submitted", "carol")
    assert f"grade {bare / 'submitted'}" in (wrong_folder(bare, "fake", "fake.ipynb") or "")
    uncollected = tmp_path / "uncollected"  # source/ and release/ only: they are not students either
    notebooks.write(notebooks.source_notebook(), uncollected / "source" / "fake" / "fake.ipynb")
    assert "nbgrader collect" in (wrong_folder(uncollected, "fake", "fake.ipynb") or "")


def test_this_courses_own_root_is_a_course_folder(tmp_path: Path) -> None:
    """This repository is its course root, with nbgrader's source and release renamed solutions/ and exercises/
    (autograder/nbgrader_config.py): `grade .` there names submitted/ rather than grading two students called
    "solutions" and "exercises", with or without submitted/ yet, also from a wrapper around it."""
    repo = tmp_path / "repo"
    notebooks.write(notebooks.source_notebook(), repo / "solutions" / "fake" / "fake.ipynb")
    notebooks.write(notebooks.submission(), repo / "exercises" / "fake" / "fake.ipynb")
    (repo / "book").mkdir()
    assert wrong_folder(repo, "fake", "fake.ipynb") == (
        f"SUBMISSIONS {repo} is an nbgrader course folder (it holds solutions/), not a folder of students: grade its "
        f"submitted/ folder ({repo / 'submitted'}, which nbgrader collect fills)")
    assert f"grade {repo / 'submitted'}" in (wrong_folder(repo / "solutions", "fake", "fake.ipynb") or "")
    assert "notebooks released to students" in (wrong_folder(repo / "exercises", "fake", "fake.ipynb") or "")
    _student(repo / "submitted", "alice")
    assert wrong_folder(repo, "fake", "fake.ipynb") == (
        f"SUBMISSIONS {repo} is an nbgrader course folder (it holds submitted/), not a folder of students: "
        f"grade {repo / 'submitted'}")
    assert wrong_folder(repo / "submitted", "fake", "fake.ipynb") is None
    assert wrong_folder(tmp_path, "fake", "fake.ipynb") == (  # a wrapper around the course: its submitted/ is named
        f"SUBMISSIONS {tmp_path} holds no student folder itself (a wrapper folder, as unzipping adds): "
        f"grade {repo / 'submitted'}")
    cohort = tmp_path / "cohort"  # a student named after one of the pair alone is still a student
    _student(cohort, "exercises")
    _student(cohort, "bob")
    assert wrong_folder(cohort, "fake", "fake.ipynb") is None


def test_wrapper_folder_of_an_extracted_zip_names_the_layout_inside(tmp_path: Path) -> None:
    wrapper = tmp_path / "submissions-2026"
    _student(wrapper / "optimizers-cohort", "alice")
    _student(wrapper / "optimizers-cohort", "bob")
    assert wrong_folder(wrapper, "fake", "fake.ipynb") == (
        f"SUBMISSIONS {wrapper} holds no student folder itself (a wrapper folder, as unzipping adds): "
        f"grade {wrapper / 'optimizers-cohort'}")
    deep = tmp_path / "deep"  # a wrapper around a whole course: the course's submitted/ is named
    course = _course(deep / "export")
    assert wrong_folder(deep, "fake", "fake.ipynb") == (
        f"SUBMISSIONS {deep} holds no student folder itself (a wrapper folder, as unzipping adds): "
        f"grade {course / 'submitted'}")


def test_one_students_folder_source_and_extracted_lms_files(tmp_path: Path) -> None:
    course = _course(tmp_path)
    alice = course / "submitted" / "alice"
    assert "one student's folder" in (wrong_folder(alice, "fake", "fake.ipynb") or "")
    assert f"(e.g. {course / 'submitted'})" in (wrong_folder(alice, "fake", "fake.ipynb") or "")
    assert "holds fake.ipynb directly" in (wrong_folder(alice / "fake", "fake", "fake.ipynb") or "")
    # the folder suggested is the one holding the students, not alice's (which would be refused in turn)
    assert f"(e.g. {course / 'submitted'})" in (wrong_folder(alice / "fake", "fake", "fake.ipynb") or "")
    assert f"grade {course / 'submitted'}" in (wrong_folder(course / "source", "fake", "fake.ipynb") or "")
    canvas = tmp_path / "canvas"
    canvas.mkdir()
    (canvas / "doejohn_123_456_fake.ipynb").write_text("{}")
    assert ".zip" in (wrong_folder(canvas, "fake", "fake.ipynb") or "")
    other = tmp_path / "other"  # student folders for another assignment: wrong --assignment, most likely
    _student(other, "alice", "clipping")
    assert "--assignment" in (wrong_folder(other, "fake", "fake.ipynb") or "")


def test_links_are_not_followed_to_find_students(tmp_path: Path) -> None:
    real = tmp_path / "real"
    _student(real, "alice")
    (tmp_path / "wrap").mkdir()
    (tmp_path / "wrap" / "cohort").symlink_to(real)
    assert "grade" not in (wrong_folder(tmp_path / "wrap", "fake", "fake.ipynb") or "")


def test_cli_exits_2_with_one_line_and_grades_nobody(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    course = _course(tmp_path)
    out = tmp_path / "out"
    code = main(["grade", str(course), "--assignment", "fake", "--out", str(out),
                 "--source", str(course / "source" / "fake" / "fake.ipynb"), *CHECKS])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"grade {course / 'submitted'}" in err
    assert not out.exists()  # no student called "submitted", no output folder at all


def test_cli_refuses_a_zipped_course_the_same_way(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A zip of the whole course: exit 2, one line naming submitted/, no output folder (no early worker left)."""
    course = _course(tmp_path)
    archive = Path(shutil.make_archive(str(tmp_path / "course"), "zip", course))
    out = tmp_path / "out"
    code = main(["grade", str(archive), "--assignment", "fake", "--out", str(out),
                 "--source", str(course / "source" / "fake" / "fake.ipynb"), *CHECKS])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "grade its submitted/ folder" in err
    assert not out.exists()
