"""Find every student's notebook in a folder (nbgrader layout) or in an LMS zip download.

Names understood (anything else becomes a row or a log line saying so, never a crash):
- nbgrader: ``<student_id>/<assignment_id>/<notebook>.ipynb`` (in a folder, or anywhere inside a zip);
- Canvas:   ``<name>_<userid>_<submissionid>_<original file>``, with ``<name>_LATE_...`` marking late work;
  the upload's name is ``<name>_<userid>``;
- Moodle:   ``<Full Name>_<id>_assignsubmission_file_/<file>`` (or the same flattened with no ``/``);
  the upload's name is the full name in lower case with ``-`` for spaces, ``_<id>``.
Canvas' re-upload suffix (``fake-1.ipynb``) is accepted for the expected notebook name.

A student id is a function of the upload's own name only (`safe_id`), never of the order or of who else
submitted: the name itself when it is already a safe file name, else the cleaned name plus a hash of the raw
one, so two uploads never share an id or a result file (on case-insensitive file systems either).

The container is hostile too. An id comes only from the upload's own LMS name: the outermost Canvas or
Moodle name in a member's path owns everything below it, so a student cannot plant another student's
``<id>/<assignment>/<notebook>`` in their own area. Nothing is read here: a submission carries a
`Locator`, and `read` fetches its one notebook when it is graded (no symlink followed, regular files
only, a byte cap that does not trust the zip header), so memory never holds more than one notebook.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from autograder.grading.core.model import Locator, Submission
from autograder.grading.inbox import reading
from autograder.grading.runner import limits
from autograder.grading.runner.fields import safe_text

CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?P<late>LATE_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>[^/]+)$", re.I)
MOODLE = re.compile(r"^(?P<name>[^/]+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>[^/]*)$")
#: nbgrader's course-root folders: never a student's name.
NBGRADER_FOLDERS = ("submitted", "autograded", "feedback", "release", "source")
#: This course's names for nbgrader's source and release folders (autograder/nbgrader_config.py). Its repository is its
#: course root, so grading it must not make students of solutions/ and exercises/; together they mark it.
COURSE_FOLDERS = {"solutions": "source", "exercises": "release"}


def course_folders(folders: set[str]) -> list[str]:
    """The course-root folders among the folder names `folders`: nbgrader's, or this course's pair."""
    found = [name for name in NBGRADER_FOLDERS if name in folders]
    return found + list(COURSE_FOLDERS) if all(name in folders for name in COURSE_FOLDERS) else found


class Collected(list[Submission]):
    """collect()'s list of submissions, plus `log`: lines about files that belong to nobody (the run prints them)."""

    def __init__(self, subs: list[Submission], log: list[str]) -> None:
        """The submissions and the log lines."""
        super().__init__(subs)
        self.log = log


def read(sub: Submission) -> bytes | None:
    """The notebook's bytes (None when there is none); reading.Unreadable saying why it cannot be read."""
    if sub.data is not None or sub.locator is None:
        return sub.data
    where = sub.locator
    if where.index >= 0:
        return reading.read_member(Path(where.container), where.index, where.member, _shown(where.member))
    return reading.read_in_folder(Path(where.container), where.parts, _shown("/".join(where.parts)))


def loaded(sub: Submission) -> Submission:
    """The submission with its notebook read into `data` (to ship elsewhere); unreadable -> a malformed one."""
    if sub.locator is None:
        return sub
    try:
        return replace(sub, data=read(sub), locator=None)
    except reading.Unreadable as exc:
        return replace(sub, data=None, locator=None, problem=str(exc), status="malformed")


def _shown(name: str) -> str:
    """A file name quoted in a message (student-controlled: capped, and bytes that are not UTF-8 escaped)."""
    return f"'{limits.clip(printable(name), limits.NAME_CHARS)}'"


def printable(name: str) -> str:
    """A file name as safe one-line text (fields.safe_text): bytes that are not UTF-8 shown as \\xNN."""
    try:
        text = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from the file system
        text = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe_text(text, lines=False)


#: The start of the id of a notebook in a zip that follows no naming (nbgrader, Canvas, Moodle): nobody's, as far
#: as an LMS can tell.
UNMATCHED = "unmatched-"
#: Separates a cleaned name from the hash of the raw one; never part of a name kept as it is.
HASHED = "~"


def _kept_char(char: str) -> bool:
    """A character an id may hold: a letter, mark or decimal digit of any script, '.', '_' or '-'."""
    return char in "._-" or unicodedata.category(char)[0] in "LM" or unicodedata.category(char) == "Nd"


def _folded(text: str) -> str:
    """NFC, case-folded, NFC again: one spelling per name, whatever the file system's case and normal form."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _digest(raw: str) -> str:
    """8 hex digits of sha256 of the raw name (every str has its own bytes under 'surrogatepass')."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]


#: Names Windows keeps for devices, with any extension (`con.txt` too): no file or folder there can have one.
WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul",
                             *(f"{port}{n}" for port in ("com", "lpt") for n in "0123456789")})


def _portable(name: str) -> bool:
    """Whether `name` is a file name on Windows too that no other id shares there: no device name (`con`, `nul.x`),
    no trailing '.' (Windows drops it: `alice.` is `alice`), the same upper-cased and folded again (NTFS compares
    names upper-cased, and `ı` upper-cased is the `I` of `i`: `alıce` is `alice` there)."""
    return name.partition(".")[0] not in WINDOWS_DEVICES and not name.endswith(".") and _folded(name.upper()) == name


def safe_id(raw: str) -> str:
    """The student id of an upload named `raw`, a function of that name alone.

    `raw` itself when it is already a safe file name: NFC and lower case (case-folded), only letters, marks,
    digits, '.', '_' and '-', not starting with '.' or '-', at most ID_CHARS characters and ID_BYTES bytes, and
    portable (`_portable`: no Windows device name, no trailing '.', no `ı`).
    Otherwise cleaning loses information, so the id is the cleaned name, '~' and a hash of the raw name:
    `José` -> `josé~1a2b3c4d`, NFD `josé` -> `josé~5e6f...`. Ids that differ only in case or normal form
    cannot arise, so neither can two result files or feedback folders that a case-insensitive file system
    (APFS, NTFS) would merge.
    """
    if (raw and raw == _folded(raw) and all(map(_kept_char, raw)) and raw[0] not in ".-"
            and len(raw) <= limits.ID_CHARS and len(raw.encode("utf-8", "surrogatepass")) <= limits.ID_BYTES
            and _portable(raw)):
        return raw
    cleaned = re.sub(r"-{2,}", "-", "".join(c if _kept_char(c) else "-" for c in _folded(printable(raw))))
    room = limits.ID_CHARS - 9
    while len(cleaned[:room].encode()) > limits.ID_BYTES - 9:
        room -= 1
    kept = cleaned[:room].strip("-.") or "unnamed"
    stem, dot, rest = kept.partition(".")
    if dot and stem in WINDOWS_DEVICES:  # `con.x~1a2b3c4d` would still name a device on Windows
        kept = f"{stem}_{dot}{rest}"
    return f"{kept}{HASHED}{_digest(raw)}"


def fingerprint(sub: Submission, data: bytes | None) -> str:
    """What a result was graded from: sha256 of the upload's own name and its notebook bytes (None: no notebook
    could be read). --resume reuses a stored result only when this still matches."""
    digest = hashlib.sha256(sub.name.encode("utf-8", "surrogatepass"))
    digest.update(b"\0notebook\0" + data if data is not None else b"\0none")
    return digest.hexdigest()


def current_fingerprint(sub: Submission) -> str:
    """fingerprint() of the upload as it is now (its notebook read again; an unreadable one counts as none)."""
    try:
        return fingerprint(sub, read(sub))
    except reading.Unreadable:
        return fingerprint(sub, None)


def _pick(candidates: list[tuple[str, Locator]], notebook: str) -> tuple[tuple[str, Locator] | None, str]:
    """The (path in the upload, locator) to grade among a student's .ipynb files, or None and why."""
    if not candidates:
        return None, f"no notebook submitted (expected {notebook})"
    stem = Path(notebook).stem
    exact = [c for c in candidates if re.fullmatch(rf"{re.escape(stem)}(-\d+)?\.ipynb", PurePosixPath(c[0]).name)]
    names = ", ".join(_shown(n) for n in sorted(n for n, _ in exact or candidates)[:5])
    if not exact and len(candidates) > 1:
        return None, f"several notebooks and none named {notebook}: {names}"
    pool = exact or candidates
    shallowest = min(n.count("/") for n, _ in pool)  # a copy nested in a sub-folder never beats the top one
    top = [c for c in pool if c[0].count("/") == shallowest]
    if len(top) == 1:
        return top[0], ""
    return None, f"{len(top)} notebooks could be the one to grade ({names}); cannot tell which"


def _folder_student(root: Path, root_fd: int, name: str, assignment_id: str, notebook: str) -> Submission:
    """One student folder of the nbgrader layout, scanned without following a link or reading a notebook."""
    student = safe_id(name)
    folder = f"{name}/{assignment_id}"
    try:
        student_fd = reading.open_dir(root_fd, name, _shown(name + "/"))
        try:
            try:
                mode = os.stat(assignment_id, dir_fd=student_fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                return Submission(student, printable(str(root / name)), None,
                              problem=f"no folder {assignment_id}/ in {_shown(name + '/')}")
            if not stat.S_ISDIR(mode):
                raise reading.Unreadable(f"{_shown(folder)} is {reading.kind(mode)}, not a folder; it was not read")
            assignment_fd = reading.open_dir(student_fd, assignment_id, _shown(folder + "/"))
        finally:
            os.close(student_fd)
    except (reading.Unreadable, OSError) as exc:
        return Submission(student, printable(str(root / name)), None, problem=str(exc), status="malformed")
    candidates: list[tuple[str, Locator]] = []
    odd: dict[str, int] = {}
    count = 0
    try:
        with os.scandir(assignment_fd) as entries:
            for entry in entries:
                count += 1
                if count > limits.FILES_PER_STUDENT:
                    why = f"{_shown(folder + '/')} holds more than {limits.FILES_PER_STUDENT} files"
                    return Submission(student, printable(str(root / folder)), None, status="malformed", problem=why)
                if entry.name.endswith(".ipynb") and not entry.name.startswith("."):
                    odd[entry.name] = entry.stat(follow_symlinks=False).st_mode
                    candidates.append((entry.name, Locator(str(root), (name, assignment_id, entry.name))))
    except OSError as exc:
        return Submission(student, printable(str(root / folder)), None, status="malformed",
                          problem=f"{_shown(folder + '/')} cannot be listed: {exc.strerror}")
    finally:
        os.close(assignment_fd)
    chosen, problem = _pick(candidates, notebook)
    if chosen is None:
        return Submission(student, printable(str(root / folder)), None, problem=problem)
    mode = odd[chosen[0]]
    shown = _shown(f"{folder}/{chosen[0]}")
    if not stat.S_ISREG(mode):
        return Submission(student, printable(str(root / folder / chosen[0])), None, status="malformed",
                          problem=f"{shown} is {reading.kind(mode)}, not a notebook file; it was not read")
    return Submission(student, printable(str(root / folder / chosen[0])), None, locator=chosen[1])


def from_folder(root: Path, assignment_id: str, notebook: str, log: list[str] | None = None) -> list[Submission]:
    """Submissions in nbgrader's layout <student>/<assignment>/<notebook>; other files are ignored."""
    log = [] if log is None else log
    found = []
    root_fd = reading.open_dir(None, root, str(root))
    try:
        with os.scandir(root_fd) as scan:
            entries = sorted((e.name, e.is_symlink(), e.is_dir(follow_symlinks=False)) for e in scan)
        for name, is_link, is_dir in entries:
            if name.startswith("."):
                continue
            if is_link:
                found.append(Submission(safe_id(name), printable(str(root / name)), None, status="malformed",
                                        problem=f"{_shown(name)} is a symbolic link; links are never followed",
                                        name=name))
            elif not is_dir:
                log.append(f"{printable(str(root / name))}: not a student folder (<student>/{assignment_id}/), ignored")
            else:
                found.append(replace(_folder_student(root, root_fd, name, assignment_id, notebook), name=name))
    finally:
        os.close(root_fd)
    return found


@dataclass
class _Upload:
    """What one student's LMS upload area holds (names only; nothing read)."""

    kind: str
    raw: str  # name_uid, as the LMS wrote it
    late: bool = False
    files: int = 0
    notebooks: list[tuple[str, Locator]] = field(default_factory=list)
    links: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)  # names of the notebook that are folders (nbgrader layout)


def _outermost(parts: tuple[str, ...], limit: int | None = None) -> tuple[int, str, re.Match[str]] | None:
    """(index, kind, match) of the OUTERMOST LMS name in a member's path (only among its first `limit` parts when
    given: a name deeper down lies inside someone else's folder)."""
    for i, part in enumerate(parts[:limit]):
        if match := CANVAS.match(part):  # first: a Canvas name cannot hide a Moodle one (no '_' in its name)
            return i, "canvas", match
        if match := MOODLE.match(part):
            return i, "moodle", match
    return None


def _owner(parts: tuple[str, ...], limit: int | None = None) -> tuple[str, str, bool, str] | None:
    """(kind, name_uid, late, path inside the upload) from the outermost LMS name in a member's path (_outermost)."""
    found = _outermost(parts, limit)
    if found is None:
        return None
    i, kind, match = found
    rest = parts[i + 1:]
    if kind == "canvas":
        return kind, _lms_name(kind, match), bool(match["late"]), "/".join([match["file"], *rest])
    return kind, _lms_name(kind, match), False, "/".join([match["file"], *rest] if match["file"] else rest)


def _lms_name(kind: str, match: re.Match[str]) -> str:
    """The name an LMS upload is known by (name_uid), from the match of its Canvas or Moodle file name."""
    if kind == "canvas":
        return f"{match['name']}_{match['uid']}"
    return f"{'-'.join(match['name'].lower().split())}_{match['uid']}"


def _unsafe(name: str) -> bool:
    """A member name that is absolute, climbs with '..', or holds a NUL or backslash: never trusted for an id."""
    return name.startswith("/") or "\\" in name or "\0" in name or ".." in PurePosixPath(name).parts


def _layout_folders(infos: list[tuple[int, zipfile.ZipInfo]], root: int, assignment_id: str,
                    notebook: str) -> dict[str, set[str]]:
    """The student folders at depth `root` of a zipped nbgrader layout (outside any LMS upload area), each with the
    paths of the folders in it named like the notebook (`<student>/<assignment>/<notebook>/`)."""
    folders: dict[str, set[str]] = {}
    for _, info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if _unsafe(name) or any(p.startswith(".") for p in parts) or _owner(parts, root + 1) is not None:
            continue
        if len(parts) >= root + 2:  # inside a folder there (an empty folder, as a wrapper's, is no student)
            named = folders.setdefault(parts[root], set())
            if len(parts) >= root + 3 and parts[root + 1] == assignment_id and parts[root + 2] == notebook \
                    and (info.is_dir() or len(parts) > root + 3):
                named.add("/".join(parts[root:root + 3]))
    return folders


def from_zip(path: Path, assignment_id: str, notebook: str, log: list[str] | None = None) -> list[Submission]:
    """Submissions in an LMS download; members matching no naming convention get a row or a log line."""
    log = [] if log is None else log
    reading.check_zip(path)
    uploads: dict[tuple[str, str], _Upload] = {}
    unknown: list[Submission] = []
    nbgrader: list[tuple[int, tuple[str, ...], Locator]] = []
    ignored = 0
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise ValueError(f"SUBMISSIONS {path}: not a readable zip ({exc})") from None
    with archive:
        infos = [(index, info) for index, info in enumerate(archive.infolist()) if "__MACOSX" not in info.filename]
        members = [(index, info.filename, PurePosixPath(info.filename).parts) for index, info in infos
                   if not info.is_dir()]
        # The nbgrader layout's root: the shallowest <student>/<assignment>/<notebook> not inside an LMS upload
        # area. A student folder there owns everything below it, so an LMS-looking name a student puts in their
        # own folder (`submitted/ann/fake/bob_7_1_fake.ipynb`) never creates, renames or displaces anyone.
        roots = [len(parts) - 3 for _, name, parts in members
                 if not _unsafe(name) and len(parts) >= 3 and parts[-2] == assignment_id and name.endswith(".ipynb")
                 and _owner(parts, len(parts) - 2) is None]
        root = min(roots, default=None)
        # As in the folder layout, every folder at the layout's root is a student: one whose folder holds no
        # notebook where it should be (nothing, or a folder of that name) gets a row saying so, not a log line.
        folders = {} if root is None else _layout_folders(infos, root, assignment_id, notebook)
        course = course_folders(set(folders))
        if course:  # a zipped course root (nbgrader's, or this repository): its layout folders are no students
            inside = next("/".join(parts[:root]) for _, _, parts in members if root is not None and
                          len(parts) > root and parts[root] in course)
            where = f"{inside}/" if inside else "its top"
            raise ValueError(f"SUBMISSIONS {path} holds an nbgrader course folder at {where} (with "
                             f"{', '.join(name + '/' for name in course)}), not a folder of students: grade its "
                             "submitted/ folder (unzip it, or zip submitted/ alone)")
        for index, name, parts in members:
            if _unsafe(name):
                log.append(f"{path.name}: member {_shown(name)} has an unsafe name (absolute or '..'): ignored")
                continue
            if any(p.startswith(".") for p in parts):
                continue  # .DS_Store, .ipynb_checkpoints/...
            locator = Locator(str(path), index=index, member=name)
            # the depth of the student folder this member lies in (None: not inside one)
            top = root if (root is not None and len(parts) >= root + 3 and parts[root + 1] == assignment_id
                           and _owner(parts, root + 1) is None) else None
            owner = None if top is not None else _owner(parts)
            if owner is None:
                if top is not None and len(parts) > top + 3:
                    if name.endswith(".ipynb"):
                        log.append(f"{path.name}: {_shown(name)} is nested inside {_shown(parts[top])}'s "
                                   "folder, not a student of its own: ignored")
                elif top is not None:
                    if name.endswith(".ipynb"):
                        nbgrader.append((top, parts, locator))
                elif len(parts) >= 3 and parts[-2] == assignment_id and name.endswith(".ipynb"):
                    nbgrader.append((len(parts) - 3, parts, locator))
                elif name.endswith(".ipynb"):
                    own = UNMATCHED + name.removesuffix(".ipynb")  # the whole path: two strays never share
                    unknown.append(Submission(safe_id(own), printable(name), None, status="malformed",
                                              problem=f"{_shown(name)} matches no known naming (nbgrader, Canvas, "
                                                      "Moodle): cannot tell whose submission it is", name=own))
                else:
                    ignored += 1
                continue
            kind, raw, late, inside = owner
            upload = uploads.setdefault((kind, raw), _Upload(kind, raw))
            upload.late = upload.late or late
            upload.files += 1
            if upload.files > limits.FILES_PER_STUDENT or not inside.endswith(".ipynb"):
                continue
            if stat.S_ISLNK(archive.filelist[index].external_attr >> 16):
                upload.links.add(inside)
            upload.notebooks.append((inside, locator))
    if ignored:
        log.append(f"{path.name}: {ignored} file(s) match no naming convention and hold no notebook: ignored")
    for student, named in folders.items():
        upload = uploads.setdefault(("nbgrader", student), _Upload("nbgrader", student))
        upload.folders |= named
    if nbgrader:
        depth = min(d for d, _, _ in nbgrader)  # the layout's root: deeper copies sit inside a student's folder
        for d, parts, locator in nbgrader:
            if d == depth:
                upload = uploads.setdefault(("nbgrader", parts[depth]), _Upload("nbgrader", parts[depth]))
                upload.files += 1
                upload.notebooks.append((parts[-1], locator))
            else:
                log.append(f"{path.name}: {_shown('/'.join(parts))} is nested inside {_shown(parts[depth])}'s "
                           "folder, not a student of its own: ignored")
    found = []
    for key, upload in sorted(uploads.items()):
        origin = printable(f"{path.name}:{key[1]}")
        if upload.files > limits.FILES_PER_STUDENT:
            found.append(Submission(key[1], origin, None, upload.late, status="malformed",
                                    problem=f"the upload holds {upload.files} files, more than the "
                                            f"{limits.FILES_PER_STUDENT} allowed"))
            continue
        chosen, problem = _pick(upload.notebooks, notebook)
        if chosen is None and upload.folders:
            found.append(Submission(key[1], origin, None, upload.late, status="malformed", problem=(
                f"{_shown(min(upload.folders))} is a directory, not a notebook file; it was not read")))
        elif chosen is None:
            found.append(Submission(key[1], origin, None, upload.late, problem))
        elif chosen[0] in upload.links:
            found.append(Submission(key[1], origin, None, upload.late, status="malformed", problem=(
                f"{_shown(chosen[0])} is a symbolic link in the zip; links are never followed")))
        else:
            found.append(Submission(key[1], printable(f"{path.name}:{chosen[1].member}"), None, upload.late,
                                    locator=chosen[1]))
    # each upload is known by its own LMS name (key[1], used as the id above): its id is that name's safe_id
    return [replace(sub, student_id=safe_id(sub.student_id), name=sub.student_id) for sub in found] + unknown


def lms_upload(origin: str, student_id: str) -> tuple[str, re.Match[str]] | None:
    """(kind, the match of its LMS name) of the LMS upload a result came from (its origin, `zip:member`), or None.

    Only the outermost LMS name in the member's path counts (_outermost, as collect reads it), and only when
    `student_id` is the id collect gave that very name (its safe_id; or the hashed form, when two uploads' ids
    collided): a file a student named like someone's LMS upload (`a.zip:doe_123_456_x.ipynb` in a folder; anywhere
    in their own folder of a zipped nbgrader layout) gives no LMS account at all."""
    container, _, member = origin.partition(":")
    found = _outermost(PurePosixPath(member).parts) if container.lower().endswith(".zip") else None
    if found is None:  # a folder's names are the student's own
        return None
    _, kind, match = found
    raw = _lms_name(kind, match)
    return (kind, match) if student_id in (safe_id(raw), safe_id(f"{safe_id(raw)}{HASHED}{_digest(origin)}")) else None


def unique_ids(subs: list[Submission]) -> list[Submission]:
    """Ids as they are, unless two uploads' names give the same id (a zip mixing naming conventions, or a hash
    collision): then each of them is told apart by a hash of its own path in the upload, never by order."""
    holders: dict[str, int] = {}
    for sub in subs:
        holders[sub.student_id] = holders.get(sub.student_id, 0) + 1
    return [sub if holders[sub.student_id] == 1 else
            replace(sub, student_id=safe_id(f"{sub.student_id}{HASHED}{_digest(sub.origin)}"))
            for sub in subs]


def collect(source: Path, assignment_id: str, notebook: str) -> Collected:
    """All submissions (ids unique) from a folder or a .zip; ValueError naming the path when it is neither."""
    log: list[str] = []
    if source.is_dir():
        subs = from_folder(source, assignment_id, notebook, log)
    elif source.is_file() and zipfile.is_zipfile(source):
        subs = from_zip(source, assignment_id, notebook, log)
    elif source.is_file() and source.suffix.lower() == ".zip":
        raise ValueError(f"SUBMISSIONS {source}: not a readable zip archive (a download cut short, or not a zip?): "
                         "download it again")
    else:
        raise ValueError(f"SUBMISSIONS {source}: expected a folder (<student>/<assignment>/<notebook>) or a .zip")
    return Collected(sorted(unique_ids(subs), key=lambda s: s.student_id), log)

