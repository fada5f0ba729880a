"""autograder.grading.inbox.collect: nbgrader folders and Canvas/Moodle/nbgrader zips, odd names included."""

from __future__ import annotations

import os
import stat
import sys
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest

from autograder.grading.inbox.collect import collect, loaded, read, safe_id
from autograder.grading.inbox.reading import Unreadable
from autograder.grading.runner import limits
from tests.paths import CORPUS, REPO

sys.path.insert(0, str(CORPUS))

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
    assert sorted(found) == ["ann", safe_id("bo b"), "cy", "di"] and safe_id("bo b").startswith("bo-b~")
    assert read(found["ann"]) == NB and read(found["di"]) == NB
    assert found[safe_id("bo b")].empty and "no folder fake/" in found[safe_id("bo b")].problem
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
    assert read(found["doejohn_123"]) == NB and not found["doejohn_123"].late
    assert read(found["roejane_124"]) == NB and found["roejane_124"].late
    assert found["pdfonly_125"].empty and "no notebook" in found["pdfonly_125"].problem
    assert read(found["mary-major_789"]) == NB and read(found["rick-minor_790"]) == NB
    unknown = found[safe_id("unmatched-random name")]
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
    """A path that is neither folder nor zip, or a zip that cannot be read, is a ValueError naming it and saying
    which; ids are folder-safe."""
    (tmp_path / "x.txt").write_text("no")
    with pytest.raises(ValueError, match=r"x\.txt: expected a folder .* or a \.zip$"):
        collect(tmp_path / "x.txt", "fake", "fake.ipynb")
    with zipfile.ZipFile(tmp_path / "whole.zip", "w") as archive:
        archive.writestr("ann_1_2_fake.ipynb", "{}" * 500)
    (tmp_path / "Cut.ZIP").write_bytes((tmp_path / "whole.zip").read_bytes()[:300])  # a download cut short
    with pytest.raises(ValueError, match=r"Cut\.ZIP: not a readable zip archive \(a download cut short"):
        collect(tmp_path / "Cut.ZIP", "fake", "fake.ipynb")
    assert safe_id("../../etc").startswith("etc~") and safe_id("Ann Lee").startswith("ann-lee~")
    assert safe_id("..").startswith("unnamed~") and safe_id("ann") == "ann"


# ---- hostile folders: nothing is read through a link, only regular files -----------------------------

def _student(root: Path, name: str = "ann") -> Path:
    """root/<name>/fake/, created."""
    folder = root / name / "fake"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("make,word", [
    (lambda f, t: (f / "fake.ipynb").mkdir(), "a directory"),
    (lambda f, t: (f / "fake.ipynb").symlink_to(t), "a symbolic link"),
    (lambda f, t: (f / "fake.ipynb").symlink_to("/dev/zero"), "a symbolic link"),
    (lambda f, t: os.mkfifo(f / "fake.ipynb"), "a FIFO"),
])
def test_folder_notebook_that_is_not_a_regular_file(tmp_path: Path, make, word: str) -> None:
    """A directory, a link (to a real notebook or /dev/zero) or a FIFO: that student's malformed row, unread."""
    target = tmp_path / "secret.ipynb"
    target.write_bytes(NB)
    make(_student(tmp_path / "subs"), target)
    (sub,) = collect(tmp_path / "subs", "fake", "fake.ipynb")
    assert sub.student_id == "ann" and sub.empty and sub.status == "malformed" and word in sub.problem
    assert read(sub) is None


def test_linked_folders_are_not_followed(tmp_path: Path) -> None:
    """A student folder or an assignment folder that is a symlink (to another student's) is refused."""
    subs = tmp_path / "subs"
    (_student(subs, "bo") / "fake.ipynb").write_bytes(NB)
    (subs / "cy").mkdir()
    (subs / "cy" / "fake").symlink_to(subs / "bo" / "fake")
    (subs / "di").symlink_to(subs / "bo")
    found = {s.student_id: s for s in collect(subs, "fake", "fake.ipynb")}
    assert read(found["bo"]) == NB
    for student in ("cy", "di"):
        assert found[student].empty and found[student].status == "malformed"
        assert "symbolic link" in found[student].problem


def test_a_notebook_swapped_for_a_link_after_collecting_is_not_read(tmp_path: Path) -> None:
    """The check happens again when the notebook is read (O_NOFOLLOW on every step), not only when listed."""
    subs = tmp_path / "subs"
    folder = _student(subs)
    (folder / "fake.ipynb").write_bytes(NB)
    (sub,) = collect(subs, "fake", "fake.ipynb")
    (folder / "fake.ipynb").unlink()
    (folder / "fake.ipynb").symlink_to(tmp_path / "secret")
    (tmp_path / "secret").write_bytes(b"solutions")
    with pytest.raises(Unreadable, match="symbolic link"):
        read(sub)
    (folder / "fake.ipynb").unlink()
    folder.rename(tmp_path / "moved")
    folder.symlink_to(tmp_path / "moved")  # the intermediate folder becomes a link
    (tmp_path / "moved" / "fake.ipynb").write_bytes(NB)
    with pytest.raises(Unreadable, match="not a folder"):
        read(sub)


def test_oversize_and_crowded_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook over the byte cap is refused when read; a folder with too many files is refused unlisted."""
    monkeypatch.setattr(limits, "NOTEBOOK_BYTES", 100)
    monkeypatch.setattr(limits, "FILES_PER_STUDENT", 5)
    subs = tmp_path / "subs"
    (_student(subs, "big") / "fake.ipynb").write_bytes(b" " * 101)
    crowd = _student(subs, "crowd")
    for i in range(6):
        (crowd / f"{i}.txt").touch()
    found = {s.student_id: s for s in collect(subs, "fake", "fake.ipynb")}
    with pytest.raises(Unreadable, match="larger than the 100 bytes"):
        read(found["big"])
    assert found["crowd"].status == "malformed" and "more than 5 files" in found["crowd"].problem


def test_cleaned_names_never_displace_a_real_id(tmp_path: Path) -> None:
    """'Ann Lee', 'Ann-Lee' and 'ann-lee' clean to the same text: each keeps an id of its own, derived from its
    name alone (no '-2' by order); the name that is already an id keeps it as it is."""
    subs = tmp_path / "subs"
    for name in ("Ann Lee", "Ann-Lee", "ann-lee", "ann-lee-2"):
        (_student(subs, name) / "fake.ipynb").write_bytes(NB)
    found = {s.student_id: s.origin for s in collect(subs, "fake", "fake.ipynb")}
    assert sorted(found) == sorted(["ann-lee", "ann-lee-2", safe_id("Ann Lee"), safe_id("Ann-Lee")])
    assert len(found) == 4 and "/ann-lee/" in found["ann-lee"] and "/Ann Lee/" in found[safe_id("Ann Lee")]


def test_names_that_are_not_utf8_give_writable_rows(tmp_path: Path) -> None:
    """Folder names in another encoding: ids are clean, reasons and origins can be written as UTF-8."""
    subs = tmp_path / "subs"
    subs.mkdir()
    os.makedirs(os.fsencode(subs) + b"/caf\xe9/fake")
    (subs / os.fsdecode(b"caf\xe9") / "fake" / "fake.ipynb").write_bytes(NB)
    os.makedirs(os.fsencode(subs) + b"/l\xe9a/other")
    os.mkfifo(os.fsencode(subs) + b"/stray\xff")
    found = {s.student_id: s for s in collect(subs, "fake", "fake.ipynb")}
    cafe, lea = safe_id(os.fsdecode(b"caf\xe9")), safe_id(os.fsdecode(b"l\xe9a"))
    assert sorted(found) == sorted([cafe, lea]) and cafe.startswith("caf-xe9~") and read(found[cafe]) == NB
    for sub in found.values():
        (sub.student_id + sub.problem + sub.origin).encode("utf-8")
    assert "no folder fake/" in found[lea].problem and "\\xe9" in found[lea].problem
    assert "\\xff" in collect(subs, "fake", "fake.ipynb").log[0]


def test_stray_top_level_files_are_log_lines(tmp_path: Path) -> None:
    """A file beside the student folders belongs to nobody: no row, one line in the run's log."""
    subs = tmp_path / "subs"
    (_student(subs) / "fake.ipynb").write_bytes(NB)
    (subs / "notes.txt").write_text("x")
    found = collect(subs, "fake", "fake.ipynb")
    assert [s.student_id for s in found] == ["ann"]
    assert len(found.log) == 1 and "notes.txt" in found.log[0]


# ---- hostile zips: ids only from the upload's own name; members streamed under a cap ----------------

def test_paths_planted_inside_an_lms_area_never_make_ids(tmp_path: Path) -> None:
    """<other>/<assignment>/<nb> inside a Moodle or Canvas upload belongs to the uploader, not to <other>."""
    archive = _zip(tmp_path / "lms.zip", {
        "Mary Major_789_assignsubmission_file_/fake.ipynb": NB,
        "Eve Evil_790_assignsubmission_file_/fake.ipynb": b"eve",
        "Eve Evil_790_assignsubmission_file_/mary-major/fake/fake.ipynb": b"x",
        "Eve Evil_790_assignsubmission_file_/bob/fake/fake.ipynb": b"x",
        "Eve Evil_790_assignsubmission_file_/Bob Roe_5_assignsubmission_file_/fake.ipynb": b"x",
        "Eve Flat_791_assignsubmission_file_Bob Roe_5_assignsubmission_file_fake.ipynb": b"flat",
        "mallory_1_2_bob_3_4_fake.ipynb": b"mallory",
        "trudy_5_6_x/bob/fake/fake.ipynb": b"trudy",
    })
    found = {s.student_id: s for s in collect(archive, "fake", "fake.ipynb")}
    assert sorted(found) == ["eve-evil_790", "eve-flat_791", "mallory_1", "mary-major_789", "trudy_5"]
    assert read(found["mary-major_789"]) == NB and read(found["eve-evil_790"]) == b"eve"
    assert read(found["eve-flat_791"]) == b"flat" and read(found["mallory_1"]) == b"mallory"
    assert read(found["trudy_5"]) == b"trudy"


@pytest.mark.parametrize(("top", "layout"), [
    ("", ("source", "release")),  # nbgrader's course root, zipped from inside
    ("course/", ("source", "release")),  # ... or with its folder
    ("repo/", ("solutions", "exercises")),  # this repository, nbgrader's course root under this course's names
])
def test_a_zipped_course_root_is_refused_not_graded(tmp_path: Path, top: str, layout: tuple[str, str]) -> None:
    """A zip of a whole course (its source and release notebooks beside submitted/) is one line naming submitted/,
    never three students called after its folders while the real students inside submitted/ are ignored."""
    members = {f"{top}{folder}/fake/fake.ipynb": NB for folder in layout}
    members |= {f"{top}submitted/{student}/fake/fake.ipynb": NB for student in ("ann", "bob")}
    with pytest.raises(ValueError, match=rf"holds an nbgrader course folder at {top or 'its top'}.*grade its "
                                         r"submitted/ folder"):
        collect(_zip(tmp_path / "course.zip", members), "fake", "fake.ipynb")
    alone = {name.removeprefix(top): data for name, data in members.items() if "/submitted/" in f"/{name}"}
    assert [s.student_id for s in collect(_zip(tmp_path / "submitted.zip", alone), "fake", "fake.ipynb")] == [
        "ann", "bob"]  # submitted/ zipped alone is graded
    cohort = {"exercises/fake/fake.ipynb": NB, "bob/fake/fake.ipynb": NB}  # one of the pair alone: a student's name
    assert [s.student_id for s in collect(_zip(tmp_path / "cohort.zip", cohort), "fake", "fake.ipynb")] == [
        "bob", "exercises"]


def test_nested_copies_in_an_nbgrader_zip_are_not_students(tmp_path: Path) -> None:
    """In a zipped submitted/ folder the layout's root is the shallowest one; deeper copies are log lines."""
    archive = _zip(tmp_path / "n.zip", {"submitted/ann/fake/fake.ipynb": NB,
                                        "submitted/ann/fake/bob/fake/fake.ipynb": b"planted"})
    found = collect(archive, "fake", "fake.ipynb")
    assert [s.student_id for s in found] == ["ann"] and read(found[0]) == NB
    assert any("nested inside 'ann'" in line for line in found.log)


def test_unsafe_and_duplicate_member_names(tmp_path: Path) -> None:
    """Absolute and '..' names never give an id (log line); two members with one name cannot be told apart."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = _zip(tmp_path / "u.zip", {"../doejohn_1_2_fake.ipynb": NB, "/abs/roe_3_4_fake.ipynb": NB})
        with zipfile.ZipFile(archive, "a") as z:
            z.writestr("dup_5_6_fake.ipynb", NB)
            z.writestr("dup_5_6_fake.ipynb", b"other")
    found = collect(archive, "fake", "fake.ipynb")
    assert [s.student_id for s in found] == ["dup_5"]
    assert found[0].empty and "cannot tell which" in found[0].problem
    assert sum("unsafe name" in line for line in found.log) == 2


def test_symlink_members_are_refused(tmp_path: Path) -> None:
    """A member flagged as a Unix symlink is never graded (unzip would have made it a link to its content)."""
    info = zipfile.ZipInfo("linker_1_2_fake.ipynb")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "l.zip", "w") as z:
        z.writestr(info, "/work/main/solutions/fake/fake.ipynb")
    (sub,) = collect(tmp_path / "l.zip", "fake", "fake.ipynb")
    assert sub.empty and sub.status == "malformed" and "symbolic link" in sub.problem


def test_corrupt_lying_and_encrypted_members_become_rows(tmp_path: Path) -> None:
    """Damaged data, a size that lies either way, or an encryption flag: a reason, never an exception."""
    from containers import _corrupt, _encrypted, _patch, _sizes

    big = b'{"nbformat": 4, "cells": [], "pad": "' + b"abcdefgh" * 2000 + b'"}'
    names = {s: f"{s}_1_2_fake.ipynb" for s in ("corrupt", "small", "large", "crypt")}
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names.values():
            z.writestr(name, big)
    _patch(archive, names["corrupt"], _corrupt)
    _patch(archive, names["small"], _sizes(100))
    _patch(archive, names["large"], _sizes(1 << 30))
    _patch(archive, names["crypt"], _encrypted)
    found = {s.student_id.removesuffix("_1"): s for s in collect(archive, "fake", "fake.ipynb")}
    for student in ("corrupt", "small", "crypt"):
        with pytest.raises(Unreadable, match="cannot be read from the zip"):
            read(found[student])
    assert read(found["large"]) == big  # a header claiming 1 GB is not believed: the real bytes are read
    assert loaded(found["crypt"]).status == "malformed" and loaded(found["large"]).data == big


def test_a_compressed_bomb_is_stopped_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small member that inflates past the cap is refused after reading cap + 1 bytes, however big it claims."""
    monkeypatch.setattr(limits, "NOTEBOOK_BYTES", 1 << 20)
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb_1_2_fake.ipynb", b" " * (64 << 20))
    assert archive.stat().st_size < 1 << 20
    (sub,) = collect(archive, "fake", "fake.ipynb")
    with pytest.raises(Unreadable, match="larger than"):
        read(sub)


def test_one_uploads_many_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More files than one upload may hold is that student's row; the others are unaffected."""
    monkeypatch.setattr(limits, "FILES_PER_STUDENT", 10)
    archive = _zip(tmp_path / "m.zip", {**{f"crowd_1_2_f{i}.txt": b"" for i in range(11)},
                                        "crowd_1_2_fake.ipynb": NB, "ok_3_4_fake.ipynb": NB})
    found = {s.student_id: s for s in collect(archive, "fake", "fake.ipynb")}
    assert found["crowd_1"].status == "malformed" and "more than the 10" in found["crowd_1"].problem
    assert read(found["ok_3"]) == NB


def test_a_zip_directory_too_large_to_load_is_refused_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The member count comes from the end record, before zipfile loads the whole directory into memory."""
    archive = _zip(tmp_path / "z.zip", {f"s{i}_1_2_fake.ipynb": NB for i in range(30)})
    monkeypatch.setattr(limits, "ZIP_MEMBERS", 20)
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda *a, **k: pytest.fail("directory loaded"))
    with pytest.raises(ValueError, match="z.zip: 30 files"):
        collect(archive, "fake", "fake.ipynb")


def test_long_names_give_short_distinct_ids() -> None:
    """An id names files in OUT/: capped at ID_CHARS, and two long names stay distinct."""
    a, b = safe_id("x" * 300 + "a"), safe_id("x" * 300 + "b")
    assert len(a) <= limits.ID_CHARS and len(b) <= limits.ID_CHARS and a != b


# ---- ids are a function of the upload's own name: never shared, never shifted by others -----------------

def _folded(name: str) -> str:
    """How a case- and normalisation-insensitive file system (APFS, NTFS) compares names."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


NAMES = ["josé", "josè", unicodedata.normalize("NFD", "josé"), "jos", "Ana", "ana", "ANA", "Ann Lee", "Ann-Lee",
         "ann-lee", "ann_lee", "straße", "strasse", "李小龙", "x" * 300 + "a", "x" * 300 + "b", "x" * 64,
         "ann~1", "ann-1", "..", "-", "a\u202eb", "a\x00b", "a\tb", "unnamed"]


def test_ids_never_collide_even_case_or_normal_form_insensitively() -> None:
    """NFC/NFD pairs, case-only differences, names that clean to the same text and long names with one prefix:
    every id differs from every other also as a case- and normal-form-insensitive file system sees it."""
    ids = [safe_id(name) for name in NAMES]
    assert len({_folded(i) for i in ids}) == len(NAMES), dict(zip(NAMES, ids, strict=True))
    for name, student in zip(NAMES, ids, strict=True):
        assert 0 < len(student) <= limits.ID_CHARS and len(student.encode()) <= limits.ID_BYTES
        assert not student.startswith((".", "-")) and "/" not in student and student == _folded(student)
        assert safe_id(name) == student  # a function of the name alone
    assert safe_id("josé") == "josé" and safe_id("ana") == "ana" and safe_id("Ana") != "ana"


def test_a_student_added_between_runs_changes_no_other_id(tmp_path: Path) -> None:
    """Folder josé is graded; josè, Josè and NFD josé arrive: josé keeps its id, every id depends on its name only."""
    subs = tmp_path / "subs"
    (_student(subs, "josé") / "fake.ipynb").write_bytes(b"jose")
    before = {s.student_id: s.name for s in collect(subs, "fake", "fake.ipynb")}
    for name in ("josè", "Josè", unicodedata.normalize("NFD", "josé"), "jos"):
        (_student(subs, name) / "fake.ipynb").write_bytes(name.encode())
    after = {s.student_id: s for s in collect(subs, "fake", "fake.ipynb")}
    assert before == {"josé": "josé"} and read(after["josé"]) == b"jose"
    assert len(after) == 5 and all(student == safe_id(sub.name) for student, sub in after.items())


def test_canvas_ids_do_not_depend_on_who_else_submitted(tmp_path: Path) -> None:
    """A second Canvas 'lee' (another user id) joining the download changes nothing for the first."""
    first = _zip(tmp_path / "a.zip", {"lee_1_10_fake.ipynb": NB})
    both = _zip(tmp_path / "b.zip", {"lee_1_10_fake.ipynb": NB, "lee_2_11_fake.ipynb": b"other"})
    assert [s.student_id for s in collect(first, "fake", "fake.ipynb")] == ["lee_1"]
    assert [s.student_id for s in collect(both, "fake", "fake.ipynb")] == ["lee_1", "lee_2"]


def test_case_only_folders_get_result_files_a_case_insensitive_system_keeps_apart(tmp_path: Path) -> None:
    """'Ana', 'ana' and 'ANA' are three uploads: three ids, three result files that never fold to one name."""
    subs = tmp_path / "subs"
    for name in ("Ana", "ana", "ANA"):
        (_student(subs, name) / "fake.ipynb").write_bytes(name.encode())
    found = {s.student_id: s for s in collect(subs, "fake", "fake.ipynb")}
    files = {f"{student}.json".casefold() for student in found}
    assert len(found) == 3 == len(files) and {read(s) for s in found.values()} == {b"Ana", b"ana", b"ANA"}


#: Names Windows gives to devices (also with an extension): OUT/feedback/con/ cannot be made or unzipped there.
DEVICES = {"con", "prn", "aux", "nul", *(f"{p}{n}" for p in ("com", "lpt") for n in range(10))}


def _windows(name: str) -> str:
    """How NTFS compares a name: trailing dots dropped, upper-cased (so `ı` is the `I` of `i`)."""
    return name.rstrip(".").upper()


def test_feedback_folders_stay_apart_and_makeable_on_windows(tmp_path: Path) -> None:
    """OUT copied or unzipped on Windows: `alice.` and `alıce` would land in alice's folder (her feedback page
    overwritten by theirs), `con` and `nul.x` are devices there. Each keeps its own id, none of them a device."""
    subs = tmp_path / "subs"
    names = ("alice", "alice.", "alıce", "con", "nul.x", "aux", "console", "lpt10")
    for name in names:
        (_student(subs, name) / "fake.ipynb").write_bytes(name.encode())
    found = {s.student_id: s for s in collect(subs, "fake", "fake.ipynb")}
    assert len({_windows(student) for student in found}) == len(names), sorted(found)
    assert not [student for student in found if student.partition(".")[0] in DEVICES or student.endswith(".")]
    assert {"alice", "console", "lpt10"} <= set(found)
    assert {read(s) for s in found.values()} == {n.encode() for n in names}


def test_one_id_for_two_uploads_is_told_apart_by_path_not_order(tmp_path: Path) -> None:
    """A zip mixing conventions: Canvas 'ann_1' and an nbgrader folder 'ann_1' would share an id; both get one
    derived from their own path instead, the same whichever member comes first."""
    members = {"ann_1_2_fake.ipynb": b"canvas", "submitted/ann_1/fake/fake.ipynb": b"nbgrader"}
    runs = []
    for folder, order in (("one", members), ("two", dict(reversed(members.items())))):
        (tmp_path / folder).mkdir()
        found = collect(_zip(tmp_path / folder / "lms.zip", order), "fake", "fake.ipynb")
        runs.append({read(s): s.student_id for s in found})
    assert runs[0] == runs[1] and len(set(runs[0].values())) == 2 and "ann_1" not in runs[0].values()


def test_the_readme_examples_of_ids_hold() -> None:
    """The ids the README quotes are the ones safe_id gives."""
    examples = {"alice": "alice", "josé": "josé", "李小龙": "李小龙", "doejohn_123": "doejohn_123",
                "Ann Lee": "ann-lee~a36e143c", "Ana": "ana~dea210f0",
                unicodedata.normalize("NFD", "josé"): "josé~0c06649e"}
    assert {name: safe_id(name) for name in examples} == examples
    readme = (REPO / "README.md").read_text()
    assert all(f"`{student}`" in readme for student in examples.values() if "~" in student)


def test_lms_looking_names_inside_an_nbgrader_folder_are_that_students(tmp_path: Path) -> None:
    """A Canvas- or Moodle-looking file, or a stray notebook, in a student's own folder of a zipped submitted/
    never creates a student or renames (so displaces) another one."""
    archive = _zip(tmp_path / "n.zip", {"submitted/ann/fake/fake.ipynb": NB,
                                        "submitted/ann/fake/bob_7_1_fake.ipynb": b"planted",
                                        "submitted/ann/fake/Bob_7_assignsubmission_file_fake.ipynb": b"planted",
                                        "submitted/ann/fake/old/fake.ipynb": b"planted",
                                        "submitted/bob_7/fake/fake.ipynb": b"bob"})
    found = collect(archive, "fake", "fake.ipynb")
    assert [s.student_id for s in found] == ["ann", "bob_7"]
    assert read(found[0]) == NB and read(found[1]) == b"bob"
    # beside a Moodle folder holding <assignment>/<notebook>, the nbgrader layout's root is still submitted/<id>
    mixed = _zip(tmp_path / "m.zip", {"Eve Evil_790_assignsubmission_file_/fake/fake.ipynb": b"eve",
                                      "submitted/ann/fake/fake.ipynb": NB,
                                      "submitted/ann/fake/bob_7_1_fake.ipynb": b"planted"})
    found = collect(mixed, "fake", "fake.ipynb")
    assert [s.student_id for s in found] == ["ann", "eve-evil_790"]
    assert read(found[0]) == NB and read(found[1]) == b"eve"


@pytest.mark.parametrize("members,problem,status", [
    ({"submitted/ann/fake/fake.ipynb/x.ipynb": NB}, "'ann/fake/fake.ipynb' is a directory", "malformed"),
    ({"submitted/ann/fake/fake.ipynb/": b""}, "'ann/fake/fake.ipynb' is a directory", "malformed"),
    ({"submitted/ann/fake/": b""}, "no notebook submitted (expected fake.ipynb)", ""),
    ({"submitted/ann/notes.txt": b"n"}, "no notebook submitted (expected fake.ipynb)", ""),
])
def test_a_zipped_student_folder_without_the_notebook_is_a_row(tmp_path: Path, members: dict[str, bytes],
                                                                  problem: str, status: str) -> None:
    """As in the folder layout, a student folder of a zipped submitted/ that holds no notebook where it should be
    (nothing, or a folder of that name) is that student's row saying so, never a student silently dropped; an
    empty wrapper folder is no student."""
    archive = _zip(tmp_path / "n.zip", {**members, "submitted/bob/fake/fake.ipynb": NB, "empty/": b""})
    found = {s.student_id: s for s in collect(archive, "fake", "fake.ipynb")}
    assert sorted(found) == ["ann", "bob"] and read(found["bob"]) == NB
    assert found["ann"].empty and found["ann"].status == status and problem in found["ann"].problem
    assert read(found["ann"]) is None
