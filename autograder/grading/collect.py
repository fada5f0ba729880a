"""Find every student's notebook in a folder (nbgrader layout) or in an LMS zip download.

Names understood (anything else becomes a row saying so, never a crash):
- nbgrader: ``<student_id>/<assignment_id>/<notebook>.ipynb`` (in a folder, or anywhere inside a zip);
- Canvas:   ``<name>_<userid>_<submissionid>_<original file>``, with ``<name>_LATE_...`` marking late work;
  the student id is ``<name>`` (``<name>_<userid>`` when two students share a name);
- Moodle:   ``<Full Name>_<id>_assignsubmission_file_/<file>`` (or the same flattened with no ``/``);
  the student id is the full name in lower case with ``-`` for spaces (``..._<id>`` if it clashes).
Canvas' re-upload suffix (``fake-1.ipynb``) is accepted for the expected notebook name.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.grading.notebook import MAX_BYTES

CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?P<late>LATE_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>[^/]+)$", re.I)
MOODLE = re.compile(r"^(?P<name>[^/]+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_/?(?P<file>.+)$")
MAX_MEMBERS = 20_000


@dataclass(frozen=True)
class Submission:
    """One student's notebook bytes (None when there is none) and where they came from."""

    student_id: str
    origin: str
    data: bytes | None
    late: bool = False
    problem: str = ""  # why `data` is None, or why the student could not be identified


def safe_id(raw: str) -> str:
    """A student id usable as a folder name: letters, digits, '.', '_', '-' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", raw.strip()).strip("-.")
    return cleaned or "unnamed"


def _pick(candidates: dict[str, bytes], notebook: str) -> tuple[str, bytes | None, str]:
    """(name, bytes, problem) of the notebook to grade among a student's .ipynb files."""
    stem = Path(notebook).stem
    exact = [n for n in candidates if re.fullmatch(rf"{re.escape(stem)}(-\d+)?\.ipynb", PurePosixPath(n).name)]
    if len(exact) == 1:
        return exact[0], candidates[exact[0]], ""
    if len(candidates) == 1:
        (name, data), = candidates.items()
        return name, data, ""
    if not candidates:
        return "", None, f"no notebook submitted (expected {notebook})"
    names = ", ".join(sorted(PurePosixPath(n).name for n in candidates))
    return "", None, f"several notebooks and none named {notebook}: {names}"


def from_folder(root: Path, assignment_id: str, notebook: str) -> list[Submission]:
    """Submissions in nbgrader's layout <student>/<assignment>/<notebook>; other files are ignored."""
    found = []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = student_dir / assignment_id
        files = {str(p): p for p in sorted(folder.glob("*.ipynb"))} if folder.is_dir() else {}
        sizes = {name: path.stat().st_size for name, path in files.items()}
        too_big = [n for n, s in sizes.items() if s > MAX_BYTES]
        data = {n: (b"" if n in too_big else files[n].read_bytes()) for n in files}
        name, chosen, problem = _pick(data, notebook)
        if name in too_big:
            chosen, problem = None, f"{Path(name).name} is larger than {MAX_BYTES} bytes"
        if not folder.is_dir():
            problem = f"no folder {assignment_id}/ in {student_dir.name}/"
        found.append(Submission(safe_id(student_dir.name), name or str(folder), chosen, problem=problem))
    return found


def _who(member: str, assignment_id: str) -> tuple[str, str, bool] | None:
    """(kind, raw student name, late) for a zip member name, or None when no convention matches."""
    parts = PurePosixPath(member).parts
    if len(parts) >= 3 and parts[-2] == assignment_id:
        return "nbgrader", parts[-3], False
    tail = "/".join(parts[-2:]) if len(parts) >= 2 else parts[-1]
    for candidate in (tail, parts[-1]):
        if match := MOODLE.match(candidate):
            return "moodle", f"{match['name'].lower()}_{match['uid']}", False
    if match := CANVAS.match(parts[-1]):
        return "canvas", f"{match['name']}_{match['uid']}", bool(match["late"])
    return None


def _resolve_ids(keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Student ids for (kind, name_uid) keys: the name alone unless two students share it."""
    def short(kind: str, raw: str) -> str:
        return raw if kind == "nbgrader" else raw.rsplit("_", 1)[0]
    counts: dict[str, int] = {}
    for kind, raw in keys:
        counts[safe_id(short(kind, raw))] = counts.get(safe_id(short(kind, raw)), 0) + 1
    return {(k, r): safe_id(short(k, r)) if counts[safe_id(short(k, r))] == 1 else safe_id(r) for k, r in keys}


def from_zip(path: Path, assignment_id: str, notebook: str) -> list[Submission]:
    """Submissions in an LMS download; members matching no naming convention get a row of their own."""
    groups: dict[tuple[str, str], dict[str, bytes]] = {}
    late: dict[tuple[str, str], bool] = {}
    oversize: set[str] = set()
    unknown: list[Submission] = []
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise ValueError(f"{path}: {len(members)} files, more than {MAX_MEMBERS}")
        for info in members:
            name = info.filename
            if "__MACOSX" in name or PurePosixPath(name).name.startswith("."):
                continue
            who = _who(name, assignment_id)
            if who is None:
                if name.endswith(".ipynb"):
                    unknown.append(Submission(safe_id("unmatched-" + PurePosixPath(name).stem), name, None,
                                              problem=f"'{name}' matches no known naming (nbgrader, Canvas, "
                                                      "Moodle): cannot tell whose submission it is"))
                continue
            key = (who[0], who[1])
            groups.setdefault(key, {})
            late[key] = late.get(key, False) or who[2]
            if name.endswith(".ipynb"):
                if info.file_size > MAX_BYTES:
                    oversize.add(name)
                groups[key][name] = b"" if name in oversize else archive.read(info)
    ids = _resolve_ids(sorted(groups))
    found = []
    for key, files in sorted(groups.items()):
        chosen_name, data, problem = _pick(files, notebook)
        if chosen_name in oversize:
            data, problem = None, f"{PurePosixPath(chosen_name).name} is larger than {MAX_BYTES} bytes"
        found.append(Submission(ids[key], f"{path.name}:{chosen_name or key[1]}", data, late[key], problem))
    return found + unknown


def collect(source: Path, assignment_id: str, notebook: str) -> list[Submission]:
    """All submissions from a folder or a .zip; ValueError naming the path when it is neither."""
    if source.is_dir():
        return from_folder(source, assignment_id, notebook)
    if source.is_file() and zipfile.is_zipfile(source):
        return from_zip(source, assignment_id, notebook)
    raise ValueError(f"SUBMISSIONS {source}: expected a folder (<student>/<assignment>/<notebook>) or a .zip")
