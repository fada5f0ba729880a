"""Per-student results written atomically (temp file + fsync + os.replace), and grades.csv built from them.

OUT/results/<student_id>.json is the unit of progress: it either exists complete or not at all, so
`--resume` after a crash or SIGKILL grades exactly the students without one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from autograder.grading.limits import RESULT_BYTES, bounded_result
from autograder.grading.model import HEADER, BadRecord, Result


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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def result_path(out: Path, student_id: str) -> Path:
    """Where one student's result lives."""
    return out / "results" / f"{student_id}.json"


def result_bytes(result: Result) -> bytes:
    """One student's result as stored: capped (limits.bounded_result), never more than RESULT_BYTES."""
    payload = bounded_result(result.to_json())
    data = json.dumps(payload, indent=1).encode()
    if len(data) > RESULT_BYTES:  # the captured output is the only part that can still be large: drop it
        payload["output"] = {"truncated": f"captured output dropped: the result exceeded {RESULT_BYTES} bytes"}
        data = json.dumps(payload, indent=1).encode()
    return data


def save_result(out: Path, result: Result) -> None:
    """Store one student's result (rows as dicts plus seed, timing, notes, captured output)."""
    atomic_write(result_path(out, result.student_id), result_bytes(result))


def load_results(out: Path, assignment_id: str) -> dict[str, Result]:
    """student_id -> stored result for this assignment; unreadable, malformed or foreign files are skipped."""
    results = {}
    for path in sorted((out / "results").glob("*.json")):
        try:
            result = Result.loads(path.read_bytes(), str(path))
        except (OSError, BadRecord):
            continue
        if result.assignment == assignment_id and result.rows:
            results[result.student_id] = result
    return results


def csv_bytes(results: dict[str, Result]) -> bytes:
    """grades.csv: the fixed header, then every row, students sorted by id, questions in order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for student_id in sorted(results):
        for row in results[student_id].rows:
            writer.writerow([row.student_id, row.assignment, row.notebook, row.grade_id, f"{row.score:g}",
                             f"{row.max_score:g}", row.status, row.message])
    return buffer.getvalue().encode()
