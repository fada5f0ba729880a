"""Hostile containers and amplifying notebooks (GUIDE §3): folders, zips and JSON that attack the grader itself.

`FOLDER` and `ZIP` map a student id to (builder, expected status of every row, a word the message must
hold). Builders write into the submissions folder (or add members to a zip) and may aim at real files
(`paths`: the source notebook, another student's notebook). `write_folder` / `write_zip` build them all.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from fakecourse.notebooks import submission

from autograder.grading.runner import limits

NB = "fake.ipynb"
PASS = "passed"


def honest_bytes() -> bytes:
    """The honest notebook as a file's bytes."""
    return json.dumps(submission(), indent=1).encode()


def junk_cells(count: int = 10_000_000) -> bytes:
    """A notebook under the size cap whose cells list holds millions of empty objects."""
    return b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [' + b"{}," * count + b"{}]}"


def tiny_cells(count: int = 300_000) -> bytes:
    """A notebook of `count` one-character code cells (the worker protocol could not carry them)."""
    cell = b'{"cell_type": "code", "metadata": {}, "source": "1"}'
    return b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [' + b",".join([cell] * count) + b"]}"


def huge_metadata(keys: int = 1_000_000) -> bytes:
    """The honest notebook with a million keys of notebook metadata."""
    nb = submission()
    nb["metadata"]["junk"] = {str(i): 0 for i in range(keys)}
    return json.dumps(nb).encode()


def huge_string_metadata(size: int = 20 << 20) -> bytes:
    """The honest notebook with one 20 MB string in a cell's metadata (few values: it is graded normally)."""
    nb = submission()
    nb["cells"][0]["metadata"]["blob"] = "x" * size
    return json.dumps(nb).encode()


def huge_output(size: int = 20 << 20) -> bytes:
    """The honest notebook with one 20 MB stream output (outputs are never read: graded normally)."""
    nb = submission()
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ans_scale")
    answer["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "y" * size}]
    return json.dumps(nb).encode()


def huge_code(size: int = limits.CODE_BYTES + 1000) -> bytes:
    """The honest notebook plus one code cell of comments larger than what a job may carry to the sandbox."""
    nb = submission()
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": "#" * size, "outputs": []})
    return json.dumps(nb).encode()


def many_cells(count: int = limits.CELLS + 1) -> bytes:
    """The honest notebook followed by enough empty markdown cells to pass the cell cap."""
    nb = submission()
    nb["cells"] += [{"cell_type": "markdown", "source": ""}] * count
    return json.dumps(nb).encode()


# ---- folders (nbgrader layout) -------------------------------------------------------------------------

Folder = Callable[[Path, dict[str, str]], None]


def _file(data: Callable[[], bytes]) -> Folder:
    """A student whose fake/fake.ipynb holds `data()`."""
    def build(folder: Path, paths: dict[str, str]) -> None:
        folder.mkdir(parents=True)
        (folder / NB).write_bytes(data())
    return build


def _link(target: Callable[[dict[str, str]], str]) -> Folder:
    """A student whose fake/fake.ipynb is a symlink to `target(paths)`."""
    def build(folder: Path, paths: dict[str, str]) -> None:
        folder.mkdir(parents=True)
        (folder / NB).symlink_to(target(paths))
    return build


def _dir_notebook(folder: Path, paths: dict[str, str]) -> None:
    """fake/fake.ipynb is a directory (holding a notebook, to tempt a recursive reader)."""
    (folder / NB).mkdir(parents=True)
    (folder / NB / NB).write_bytes(honest_bytes())


def _fifo(folder: Path, paths: dict[str, str]) -> None:
    """fake/fake.ipynb is a FIFO (a reader that opens it would block forever)."""
    folder.mkdir(parents=True)
    os.mkfifo(folder / NB)


def _device(folder: Path, paths: dict[str, str]) -> None:
    """fake/fake.ipynb is a character device (/dev/zero's numbers); a FIFO where mknod is not allowed."""
    folder.mkdir(parents=True)
    try:
        os.mknod(folder / NB, stat.S_IFCHR | 0o644, os.makedev(1, 5))
    except PermissionError:
        os.mkfifo(folder / NB)


def _linked_assignment_dir(folder: Path, paths: dict[str, str]) -> None:
    """<student>/fake is a symlink to another student's fake/ folder (an intermediate directory)."""
    folder.parent.mkdir(parents=True)
    folder.symlink_to(Path(paths["other_student"]).parent)


def _too_big(folder: Path, paths: dict[str, str]) -> None:
    """A sparse notebook file one byte over the size cap."""
    folder.mkdir(parents=True)
    with open(folder / NB, "wb") as f:
        f.truncate(limits.NOTEBOOK_BYTES + 1)


def _many_files(folder: Path, paths: dict[str, str]) -> None:
    """An assignment folder with more files than one upload may hold (and the real notebook)."""
    folder.mkdir(parents=True)
    (folder / NB).write_bytes(honest_bytes())
    for i in range(limits.FILES_PER_STUDENT):
        (folder / f"n{i}.txt").touch()


def _nested_other(folder: Path, paths: dict[str, str]) -> None:
    """The honest notebook, plus another student's <id>/fake/fake.ipynb planted inside this folder."""
    folder.mkdir(parents=True)
    (folder / NB).write_bytes(honest_bytes())
    (folder / "planted" / "fake").mkdir(parents=True)
    (folder / "planted" / "fake" / NB).write_bytes(b"{}")


MALFORMED = "malformed"

#: student -> (builder, status of every row, a word the message holds); 'passed' rows hold no word check.
FOLDER: dict[str, tuple[Folder, str, str]] = {
    "honest": (_file(honest_bytes), PASS, ""),
    "dir-notebook": (_dir_notebook, MALFORMED, "a directory"),
    "link-to-solutions": (_link(lambda p: p["source"]), MALFORMED, "symbolic link"),
    "link-to-other": (_link(lambda p: p["other_student"]), MALFORMED, "symbolic link"),
    "link-relative": (_link(lambda p: f"../../honest/fake/{NB}"), MALFORMED, "symbolic link"),
    "link-to-dev-zero": (_link(lambda p: "/dev/zero"), MALFORMED, "symbolic link"),
    "fifo": (_fifo, MALFORMED, "FIFO"),
    "device": (_device, MALFORMED, "not a notebook file"),
    "linked-folder": (_linked_assignment_dir, MALFORMED, "symbolic link"),
    "too-big": (_too_big, MALFORMED, "larger than"),
    "many-files": (_many_files, MALFORMED, "more than"),
    "plants-other": (_nested_other, PASS, ""),
    "junk-json": (_file(junk_cells), MALFORMED, "JSON values"),
    "tiny-cells": (_file(tiny_cells), MALFORMED, "JSON values"),
    "many-cells": (_file(many_cells), MALFORMED, f"more than the {limits.CELLS}"),
    "huge-metadata": (_file(huge_metadata), MALFORMED, "JSON values"),
    "huge-string-metadata": (_file(huge_string_metadata), PASS, ""),
    "huge-output": (_file(huge_output), PASS, ""),
    "huge-code": (_file(huge_code), MALFORMED, f"more than the {limits.CODE_BYTES}"),
}


def write_folder(root: Path, paths: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Every FOLDER student under root (plus a top-level symlink and a stray file); id -> (status, word)."""
    expected = {}
    for student, (build, status, word) in FOLDER.items():
        build(root / student / "fake", paths)
        expected[student] = (status, word)
    (root / "link-student").symlink_to(root / "honest")  # a whole student folder that is a link
    expected["link-student"] = (MALFORMED, "symbolic link")
    (root / "README.txt").write_text("not a student")  # belongs to nobody: a log line, no row
    return expected


# ---- zips (Canvas and Moodle downloads) ----------------------------------------------------------------

Members = list[tuple[str, bytes | Callable[[zipfile.ZipFile, str], None]]]


def _streamed(size: int, fill: bytes = b" ") -> Callable[[zipfile.ZipFile, str], None]:
    """A member of `size` bytes written in chunks (a highly compressed 'bomb' without holding it in memory)."""
    def write(archive: zipfile.ZipFile, name: str) -> None:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            chunk = fill * (1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
    return write


def _symlink_member(target: str) -> Callable[[zipfile.ZipFile, str], None]:
    """A member flagged as a Unix symlink whose content is `target` (what unzip would turn into a link)."""
    def write(archive: zipfile.ZipFile, name: str) -> None:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return write


MOODLE_MARY = "Mary Major_789_assignsubmission_file_"

#: student id (collect.safe_id of the LMS name and user id) -> (members, status of every row, a word the message holds)
ZIP: dict[str, tuple[Members, str, str]] = {
    "mary-major_789": ([(f"{MOODLE_MARY}/{NB}", honest_bytes())], PASS, ""),
    # plants Mary's and Bob's nbgrader paths (and Moodle- and Canvas-looking names) in her own area
    "eve-evil_790": ([("Eve Evil_790_assignsubmission_file_/" + NB, honest_bytes()),
                  ("Eve Evil_790_assignsubmission_file_/mary-major/fake/" + NB, b"{}"),
                  ("Eve Evil_790_assignsubmission_file_/bob/fake/" + NB, b"{}"),
                  ("Eve Evil_790_assignsubmission_file_/doejohn_123_456_fake.ipynb", b"{}"),
                  (f"Eve Evil_790_assignsubmission_file_/{MOODLE_MARY}/{NB}", b"{}")], PASS, ""),
    "eve-flat_791": ([(f"Eve Flat_791_assignsubmission_file_{MOODLE_MARY}{NB}", honest_bytes())], PASS, ""),
    "doejohn_123": ([(f"doejohn_123_456_{NB}", honest_bytes())], PASS, ""),
    "mallory_302": ([(f"mallory_302_402_doejohn_123_456_{NB}", honest_bytes())], PASS, ""),
    "evecanvas_301": ([(f"evecanvas_301_401_x/bob/fake/{NB}", honest_bytes())], PASS, ""),
    "corrupt_310": ([(f"corrupt_310_410_{NB}", honest_bytes())], MALFORMED, "cannot be read from the zip"),
    "liarsmall_311": ([(f"liarsmall_311_411_{NB}", honest_bytes())], MALFORMED, "cannot be read from the zip"),
    "liarbig_318": ([(f"liarbig_318_418_{NB}", honest_bytes())], PASS, ""),
    "encrypted_319": ([(f"encrypted_319_419_{NB}", honest_bytes())], MALFORMED, "cannot be read from the zip"),
    "bomb_312": ([(f"bomb_312_412_{NB}", _streamed(limits.NOTEBOOK_BYTES + (1 << 20)))], MALFORMED, "larger than"),
    "hoarder_313": ([(f"hoarder_313_413_{NB}", honest_bytes()),
                 *[(f"hoarder_313_413_big{i}.ipynb", _streamed(16 << 20)) for i in range(12)]], PASS, ""),
    "crowd_314": ([(f"crowd_314_414_{NB}", honest_bytes()),
               *[(f"crowd_314_414_f{i}.txt", b"") for i in range(limits.FILES_PER_STUDENT)]], MALFORMED, "files"),
    "dup_315": ([(f"dup_315_415_{NB}", honest_bytes()), (f"dup_315_415_{NB}", b"{}")], "missing", "cannot tell"),
    "linker_316": ([(f"linker_316_416_{NB}", _symlink_member("/work/main/solutions/fake/fake.ipynb"))],
               MALFORMED, "symbolic link"),
    "longname_317": ([("longname_317_417_" + "x" * 2000 + ".ipynb", honest_bytes())], PASS, ""),
    "unmatched-random": ([("random.ipynb", honest_bytes())], MALFORMED, "matches no known naming"),
    "junkzip_320": ([(f"junkzip_320_420_{NB}", junk_cells())], MALFORMED, "JSON values"),
}
#: members that belong to nobody: a line in the run's log, never a row (and never an id)
STRAYS: Members = [(f"../{MOODLE_MARY}/{NB}", b"{}"), (f"/abs/doejohn_123_456_{NB}", b"{}"),
                   ("notes/readme.txt", b"hello")]


def _patch(path: Path, name: str, fix: Callable[[bytearray, int, int], None]) -> None:
    """Edit member `name`'s headers in place: fix(data, local header offset, central header offset)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    central = data.find(b"PK\x01\x02")
    while central >= 0 and data[central + 46:central + 46 + len(name.encode())] != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    fix(data, info.header_offset, central)
    path.write_bytes(bytes(data))


def _sizes(uncompressed: int) -> Callable[[bytearray, int, int], None]:
    """A header fix that states a different uncompressed size (local header and central directory)."""
    def fix(data: bytearray, local: int, central: int) -> None:
        data[local + 22:local + 26] = struct.pack("<I", uncompressed)
        data[central + 24:central + 28] = struct.pack("<I", uncompressed)
    return fix


def _encrypted(data: bytearray, local: int, central: int) -> None:
    """Set the 'encrypted' flag bit of a member."""
    data[local + 6] |= 1
    data[central + 8] |= 1


def _corrupt(data: bytearray, local: int, central: int) -> None:
    """Overwrite the middle of the member's compressed data."""
    start = local + 30 + int.from_bytes(data[local + 26:local + 28], "little") \
        + int.from_bytes(data[local + 28:local + 30], "little")
    data[start + 40:start + 80] = b"\xff" * 40


def write_zip(path: Path) -> dict[str, tuple[str, str]]:
    """The LMS download with every ZIP student and the strays, headers then damaged; id -> (status, word)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for members, _, _ in ZIP.values():
            for name, content in members:
                if callable(content):
                    content(archive, name)
                else:
                    archive.writestr(name, content)
        for name, content in STRAYS:
            archive.writestr(zipfile.ZipInfo(name), content if isinstance(content, bytes) else b"")
    size = len(honest_bytes())
    _patch(path, f"corrupt_310_410_{NB}", _corrupt)
    _patch(path, f"liarsmall_311_411_{NB}", _sizes(size // 3))
    _patch(path, f"liarbig_318_418_{NB}", _sizes(3 * limits.NOTEBOOK_BYTES))  # claims too big, is not
    _patch(path, f"encrypted_319_419_{NB}", _encrypted)
    return {student: (status, word) for student, (_, status, word) in ZIP.items()}

