"""Guardrails for SUBMISSIONS: recognise the usual wrong folders before any student is invented from one.

A folder is graded as nbgrader's ``<student>/<assignment>/<notebook>`` layout, so pointing one level too
high or too low turns layout folders into students: the course root (or the parent of ``submitted/``)
yields a student called "submitted", an extracted zip's wrapper folder one named after the zip, a single
student's folder a student called after the assignment. `wrong_folder` names the folder to use instead.
Only names are looked at (no link is followed, no notebook is read), a bounded number of entries.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from autograder.grading.inbox.collect import CANVAS, COURSE_FOLDERS, MOODLE, NBGRADER_FOLDERS, course_folders
from autograder.grading.runner import limits


def _entries(folder: Path) -> list[tuple[str, bool]]:
    """(name, is a real folder) of the visible entries of `folder`, links never followed; [] if unreadable."""
    found: list[tuple[str, bool]] = []
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                if len(found) >= limits.LAYOUT_SCAN_ENTRIES:
                    break
                if entry.name.startswith(".") or entry.name == "__MACOSX":
                    continue
                found.append((entry.name, entry.is_dir(follow_symlinks=False)))
    except OSError:
        return []
    return sorted(found)


def _is_dir(path: Path) -> bool:
    """A real folder (not a link to one)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _students(folder: Path, assignment_id: str) -> list[str]:
    """Sub-folders of `folder` that hold `<assignment_id>/` (nbgrader's own folders aside): the student folders."""
    entries = _entries(folder)
    course = set(course_folders({name for name, is_dir in entries if is_dir}))
    return [name for name, is_dir in entries
            if is_dir and name not in course and _is_dir(folder / name / assignment_id)]


def _layout_below(folder: Path, assignment_id: str) -> Path | None:
    """The shallowest folder under `folder` (depth <= LAYOUT_DEPTH) whose sub-folders are students; None if none."""
    level = [folder]
    for _ in range(limits.LAYOUT_DEPTH):
        below = [path / name for path in level for name, is_dir in _entries(path) if is_dir]
        below = below[:limits.LAYOUT_SCAN_ENTRIES]
        for path in below:
            if _students(path, assignment_id):
                return path
        level = below
    return None


def wrong_folder(folder: Path, assignment_id: str, notebook: str) -> str | None:
    """One line saying which folder to grade instead of `folder`, or None when `folder` looks right."""
    entries = dict(_entries(folder))
    course = course_folders({name for name, is_dir in entries.items() if is_dir})
    if course:
        target = folder / "submitted"
        what = f"grade {target}" if "submitted" in course else f"grade its submitted/ folder ({target}, which " \
            "nbgrader collect fills)"
        return f"SUBMISSIONS {folder} is an nbgrader course folder (it holds {course[0]}/), not a folder of " \
            f"students: {what}"
    if entries.get(assignment_id) or notebook in entries:
        holds = f"{assignment_id}/" if entries.get(assignment_id) else notebook
        if folder.name in NBGRADER_FOLDERS[3:] or folder.name in COURSE_FOLDERS:
            role = COURSE_FOLDERS.get(folder.name, folder.name)
            holds = "the instructor's notebooks" if role == "source" else "the notebooks released to students"
            return (f"SUBMISSIONS {folder} is nbgrader's {role} folder ({folder.name}/: {holds}): grade "
                    f"{folder.parent / 'submitted'}")
        # <student>/ holds <assignment>/; <student>/<assignment>/ holds the notebook: the students are one more up
        students = folder.parent.parent if notebook in entries and folder.name == assignment_id else folder.parent
        return (f"SUBMISSIONS {folder} holds {holds} directly, so it is one student's folder: give the folder that "
                f"holds one folder per student, <student>/{assignment_id}/{notebook} (e.g. {students})")
    if _students(folder, assignment_id):
        return None
    below = _layout_below(folder, assignment_id)
    if below is not None:
        return (f"SUBMISSIONS {folder} holds no student folder itself (a wrapper folder, as unzipping adds): "
                f"grade {below}")
    if any(CANVAS.match(name) or MOODLE.match(name) for name in entries):
        return (f"SUBMISSIONS {folder} holds files named by Canvas or Moodle: grade the LMS download's .zip "
                "itself, not its extracted folder")
    if entries:
        return (f"SUBMISSIONS {folder}: none of its {len(entries)} entries is a student folder holding "
                f"{assignment_id}/ (expected <student>/{assignment_id}/{notebook}); check the folder and --assignment")
    return None
