"""Per-student results written atomically (temp file + fsync + os.replace), and grades.csv built from them.

OUT/results/<student_id>.json is the unit of progress: it either exists complete or not at all, so
`--resume` after a crash or SIGKILL grades exactly the students without one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from autograder.checks import messages
from autograder.grading.core import locks
from autograder.grading.core.bounds import bounded_message, bounded_notes, bounded_result
from autograder.grading.core.model import HEADER, Result, Row, StaleRecord, Submission
from autograder.grading.inbox.collect import current_fingerprint
from autograder.grading.outputs import totals
from autograder.grading.runner.fields import BadRecord
from autograder.grading.runner.limits import RESULT_BYTES
from autograder.message import say


def claimed(out: Path) -> contextlib.AbstractContextManager[None]:
    """Hold OUT for one grading run (an flock on the folder itself: no file is left behind, and the kernel lets go
    if the run dies); ValueError naming the other run's pid while another one holds it (two runs would grade
    everyone twice and write the outputs over each other)."""
    return locks.held(out, lambda pid: f"--out {out} is being written by another grading run (pid {pid}): let it "
                                       "finish, or give another --out")


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a full disk says so on write: name the file
            exc.filename = str(path)
        raise


def result_path(out: Path, student_id: str) -> Path:
    """Where one student's result lives."""
    return out / "results" / f"{student_id}.json"


def result_bytes(result: Result) -> bytes:
    """One student's result as stored: capped (bounds.bounded_result), never more than RESULT_BYTES."""
    payload = bounded_result(dataclasses.replace(result, notes=tuple(bounded_notes(list(result.notes)))).to_json())
    data = json.dumps(payload, indent=1).encode()
    if len(data) > RESULT_BYTES:  # the captured output is the only part that can still be large: drop it
        payload["output"] = {}
        payload["notes"] = [*payload["notes"], say("note.output_dropped", limit=RESULT_BYTES).to_plain()]
        data = json.dumps(payload, indent=1).encode()
    return data


def save_result(out: Path, result: Result) -> None:
    """Store one student's result (rows as dicts plus seed, timing, notes, captured output)."""
    atomic_write(result_path(out, result.student_id), result_bytes(result))


#: The results of the folder read last, with the bytes each was parsed from: a run reads results/ up to three
#: times (stored, stale, current), and a file whose bytes are unchanged is not parsed again (a regrade of one
#: student in a cohort of 200 spent 0.3 s parsing the same files). Only the last folder's are kept (load_stored).
_parsed: dict[Path, tuple[bytes, Result]] = {}


def read_result(path: Path) -> Result:
    """One stored result; BadRecord saying why when it cannot be used (unreadable, oversize, malformed)."""
    try:
        if path.is_symlink() or path.stat().st_size > 2 * RESULT_BYTES:  # ours are never larger than RESULT_BYTES
            raise BadRecord(f"{path.name} is a link or larger than {2 * RESULT_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise BadRecord(f"{path.name} cannot be read: {exc.strerror}") from None
    seen = _parsed.get(path)
    if seen is not None and seen[0] == data:  # the very bytes parsed before: Result is frozen, share it
        return seen[1]
    try:
        result = Result.loads(data, path.name)
    except BadRecord:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file is one student's problem, never the batch's
        raise BadRecord(f"{path.name}: {type(exc).__name__}: {exc}") from None
    _parsed[path] = (data, result)
    return result


def load_stored(out: Path, assignment_id: str) -> tuple[dict[str, Result], dict[str, str]]:
    """(student_id -> stored result for this assignment, student_id -> why its file cannot be used).

    The id of an unusable file is its name (results/<id>.json): that student is regraded by --resume (and by
    any run when the file is of an older form, see `stale`), or gets an error row in the outputs; results of
    another assignment are left alone.
    """
    results, broken = {}, {}
    paths = sorted((out / "results").glob("*.json"))
    for gone in _parsed.keys() - set(paths):  # forget other folders' results
        _parsed.pop(gone, None)
    for path in paths:
        try:
            result = read_result(path)
        except BadRecord as exc:
            broken[path.stem] = str(exc)
            continue
        if result.assignment != assignment_id:
            continue
        if not result.rows or result.student_id != path.stem:
            broken[path.stem] = f"{path.name} holds no rows or another student's result"
            continue
        results[result.student_id] = result
    return results, broken


def stale(out: Path) -> set[str]:
    """The ids whose stored result was written in an older form (model.RESULT_SCHEMA): each is regraded."""
    found = set()
    for path in sorted((out / "results").glob("*.json")):
        try:
            read_result(path)
        except StaleRecord:
            found.add(path.stem)
        except BadRecord:
            continue
    return found


def load_results(out: Path, assignment_id: str) -> dict[str, Result]:
    """student_id -> stored result for this assignment; unusable or foreign files are left out (load_stored)."""
    return load_stored(out, assignment_id)[0]


def matches(stored: Result | None, sub: Submission) -> bool:
    """True when `stored` was graded from this very upload (same name, same notebook bytes) and is a grade at all
    (no row says the grader or its sandbox failed): only then may --resume or --student keep it; a result without
    a fingerprint (older versions) never matches."""
    return (stored is not None and stored.source is not None and stored.source == current_fingerprint(sub)
            and not stored.grader_failed)


def current(out: Path, assignment: Any, subs: list[Submission]) -> dict[str, Result]:
    """The stored result of every student of this batch (results of ids no longer uploaded are left out); a
    student whose file cannot be used gets an error row saying why (unusable)."""
    stored, broken = load_stored(out, assignment.id)
    results = {}
    for sub in subs:
        if sub.student_id in stored:
            results[sub.student_id] = stored[sub.student_id]
        elif sub.student_id in broken:
            results[sub.student_id] = unusable(sub.student_id, assignment, broken[sub.student_id], sub.origin)
    return results


def unusable(student_id: str, assignment: Any, reason: str, origin: str = "") -> Result:
    """An error row per question for a student whose stored result cannot be used or rendered, saying why."""
    message = bounded_message(say("internal.stored", reason=reason))
    rows = tuple(Row(student_id, assignment.id, assignment.notebook, q.grade_id, 0.0, float(q.points), "error",
                     message) for q in assignment.questions)
    return Result(student_id, assignment.id, assignment.notebook, origin, False, None, (), {}, 0.0, rows,
                  submitted=True)


def csv_bytes(results: dict[str, Result]) -> bytes:
    """grades.csv: the fixed header, then every row, students sorted by id, questions in order; messages in English
    (the instructor's file)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for student_id in sorted(results):
        for row in results[student_id].rows:
            writer.writerow([row.student_id, row.assignment, row.notebook, row.grade_id, f"{row.score:g}",
                             f"{row.max_score:g}", row.status, totals.as_text(messages.text(row.message))])
    return buffer.getvalue().encode()
