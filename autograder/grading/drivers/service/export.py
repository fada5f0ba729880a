"""The batch's outputs from the database: the counted result of each student, the live report, the export zip.

`counted` applies the assignment's policy (latest or best; late work per `late`) to the students' submissions
(instructors' are left out); students with a token and no graded submission get the batch's `missing` rows, as
`grade --roster` gives them. `write` then writes exactly what `autograder grade` writes into OUT (grades.csv,
feedback/, gradescope/, report.html, results/) with the same code.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from autograder.grading.core.model import Result, RunSummary, Submission
from autograder.grading.core.pool import Grader
from autograder.grading.drivers.service.db import Store, Stored
from autograder.grading.drivers.service.policy import Policy
from autograder.grading.drivers.service.tokens import INSTRUCTOR, STUDENT
from autograder.grading.outputs import batch as outputs
from autograder.grading.outputs import records


def choose(stored: list[Stored], policy: Policy) -> Stored | None:
    """The submission that counts among one student's graded ones (None: none can count).

    A refused one (not a notebook of the assignment) counts only when there is nothing else, so the export
    shows the batch's `malformed` rows for a student who never handed in a real notebook.
    """
    able = [s for s in stored if s.result is not None and not (s.late and policy.late == "ignore")]
    real = [s for s in able if not s.refused]
    if not real:
        return max(able, key=lambda s: s.id, default=None)
    if policy.counts == "latest":
        return max(real, key=lambda s: s.id)
    return max(real, key=lambda s: (s.result.total if s.result else 0.0, s.id))


def counted(store: Store, pool: Grader, policy: Policy) -> dict[str, Result]:
    """student id -> the result that counts, plus `missing` results for students with a token and none.

    Instructors' submissions (an instructor trying the service out) are graded and shown to them, but are not part
    of the cohort: never in the export, the report or its statistics.
    """
    instructors = set(store.people(INSTRUCTOR))
    by_student: dict[str, list[Stored]] = {}
    for stored in store.graded(pool.assignment.id):
        if stored.student_id not in instructors:
            by_student.setdefault(stored.student_id, []).append(stored)
    results: dict[str, Result] = {}
    for student, mine in by_student.items():
        chosen = choose(mine, policy)
        if chosen is not None and chosen.result is not None:
            results[student] = chosen.result
    for student in store.people(STUDENT):
        if student not in results:  # the same rows as the batch's --roster (nothing reaches a worker)
            results[student] = pool.grade(Submission(student, "roster", None, problem="no submission found"))
    return results


def summary(pool: Grader, results: dict[str, Result]) -> RunSummary:
    """What the report's header says about this 'run': the key, the sandbox, how many were graded."""
    return RunSummary(pool.key_id or "", pool.sandbox_name, graded=sum(bool(r.submitted) for r in results.values()),
                      roster=True)


def write(out: Path, pool: Grader, results: dict[str, Result]) -> None:
    """Everything `autograder grade` writes into OUT, for these results."""
    for result in results.values():
        records.save_result(out, result)
    outputs.write_all(out, pool.assignment, results, summary(pool, results))


def zipped(pool: Grader, results: dict[str, Result]) -> bytes:
    """The export as a zip (the folder `write` makes)."""
    with tempfile.TemporaryDirectory(prefix="serve-export-") as tmp:
        write(Path(tmp), pool, results)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    archive.write(path, f"{pool.assignment.id}/{path.relative_to(tmp).as_posix()}")
        return buffer.getvalue()
