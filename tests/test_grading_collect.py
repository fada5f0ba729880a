"""autograder.grading.collect: nbgrader folders and Canvas/Moodle/nbgrader zips, odd names included."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from autograder.grading.collect import collect, read, safe_id

NB = b'{"nbformat": 4, "cells": []}'


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip with these members."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_folder_layout(tmp_path: Path) -> None:
    """<student>/<assignment>/<notebook>; missing folders and several notebooks give a reason, not a crash."""
    (tmp_path / "ann" / "fake").mkdir(parents=True)
    (tmp_path / "ann" / "fake" / "fake.ipynb").write_bytes(NB)
    (tmp_path / "ann" / "fake" / "notes.txt").write_text("ignored")
    (tmp_path / "bo b" / "other").mkdir(parents=True)
    (tmp_path / "cy" / "fake").mkdir(parents=True)
    for name in ("a.ipynb", "b.ipynb"):
        (tmp_path / "cy" / "fake" / name).write_bytes(NB)
    (tmp_path / "di" / "fake").mkdir(parents=True)
    (tmp_path / "di" / "fake" / "renamed.ipynb").write_bytes(NB)
    found = {s.student_id: s for s in collect(tmp_path, "fake", "fake.ipynb")}
    assert sorted(found) == ["ann", "bo-b", "cy", "di"]
    assert read(found["ann"]) == NB and read(found["di"]) == NB
    assert found["bo-b"].empty and "no folder fake/" in found["bo-b"].problem
    assert found["cy"].empty and "several notebooks" in found["cy"].problem


def test_canvas_and_moodle_names(tmp_path: Path) -> None:
    """Canvas (with LATE and -1 suffix) and Moodle (folder and flat) names; unknown names get their own row."""
    archive = _zip(tmp_path / "lms.zip", {
        "doejohn_123_456_fake.ipynb": NB,
        "roejane_LATE_124_457_fake-1.ipynb": NB,
        "roejane_LATE_124_457_readme.pdf": b"%PDF",
        "pdfonly_125_458_essay.pdf": b"%PDF",
        "Mary Major_789_assignsubmission_file_/fake.ipynb": NB,
        "Rick Minor_790_assignsubmission_file_fake.ipynb": NB,
        "random name.ipynb": NB,
        "__MACOSX/._doejohn_123_456_fake.ipynb": b"junk",
    })
    found = {s.student_id: s for s in collect(archive, "fake", "fake.ipynb")}
    assert read(found["doejohn"]) == NB and not found["doejohn"].late
    assert read(found["roejane"]) == NB and found["roejane"].late
    assert found["pdfonly"].empty and "no notebook" in found["pdfonly"].problem
    assert read(found["mary-major"]) == NB and read(found["rick-minor"]) == NB
    unknown = found["unmatched-random-name"]
    assert unknown.empty and "matches no known naming" in unknown.problem


def test_name_clashes_keep_the_lms_id(tmp_path: Path) -> None:
    """Two Canvas students with the same name part are told apart by their user ids."""
    archive = _zip(tmp_path / "c.zip", {"lee_1_10_fake.ipynb": NB, "lee_2_11_fake.ipynb": NB})
    assert sorted(s.student_id for s in collect(archive, "fake", "fake.ipynb")) == ["lee_1", "lee_2"]


def test_nbgrader_layout_inside_a_zip(tmp_path: Path) -> None:
    """A zip of the nbgrader submitted/ folder works like the folder itself."""
    archive = _zip(tmp_path / "n.zip", {"submitted/ann/fake/fake.ipynb": NB})
    (sub,) = collect(archive, "fake", "fake.ipynb")
    assert sub.student_id == "ann" and read(sub) == NB


def test_bad_source_and_ids(tmp_path: Path) -> None:
    """A path that is neither folder nor zip is a ValueError naming it; ids are folder-safe."""
    (tmp_path / "x.txt").write_text("no")
    with pytest.raises(ValueError, match="x.txt"):
        collect(tmp_path / "x.txt", "fake", "fake.ipynb")
    assert safe_id("../../etc") == "etc" and safe_id("Ann Lee") == "Ann-Lee" and safe_id("..") == "unnamed"
