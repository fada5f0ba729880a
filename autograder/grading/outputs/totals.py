"""Per-student totals (OUT/totals.csv) and gradebook import files for Canvas and Moodle (OUT/lms/).

grades.csv has a row per test; these have a row per student. Column meanings (also in the README):

totals.csv   student_id, total, max_score, late (1/0), submitted (1/0), outcome (report.outcome: the worst
             status of the student's tests, or 'not submitted'), flags (report.flags, ';'-separated), then one
             column per status counting that student's tests with it (passed ... missing).
lms/canvas.csv  Canvas' gradebook import: Student, ID (the Canvas user id, read from the Canvas zip's file
             names; empty otherwise), SIS User ID (empty), SIS Login ID (the student id when no Canvas id is
             known), Section (empty), then one column named after the assignment with the total. Its second
             row is Canvas' "Points Possible" row. Rename the column to Canvas' own header (``optimizers
             (12345)``) to fill an existing assignment; under a new name Canvas creates one.
lms/moodle.csv  Moodle's assignment grading worksheet (Assignment > Upload grading worksheet): Identifier
             ("Participant <id>", the id in the Moodle download's file names), Full name, Grade, Maximum
             Grade, Feedback comments. Only students graded from a Moodle download have an identifier.
Students who submitted nothing get an empty grade in the LMS files (the LMS leaves them ungraded, so a
late-work policy stays the instructor's decision); their total in totals.csv is 0 with submitted 0. So do, in the
LMS files, students whose result records a failure of the grader, not a grade (--resume grades them again).
"""

from __future__ import annotations

import csv
import io

from autograder.checks import messages
from autograder.checks.spec import Assignment
from autograder.grading.core.model import Result
from autograder.grading.inbox.collect import UNMATCHED, lms_upload
from autograder.grading.outputs import report
from autograder.message import say

#: Status columns of totals.csv, in this order.
STATUSES = ("passed", "partial", "failed", "error", "timeout", "memory", "forbidden", "tampered", "malformed",
            "missing")
TOTALS_HEADER = ("student_id", "total", "max_score", "late", "submitted", "outcome", "flags", *STATUSES)
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_HEADER = ("Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments")


def _number(value: float) -> str:
    """A score as the LMS reads it: at most 4 decimals, no trailing zeros."""
    return f"{round(value, 4):g}"


#: What a spreadsheet reads as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula: a Moodle full name is the student's own profile
    text (`=HYPERLINK("..."&A3)` would read other students' cells); numbers stay numbers."""
    if not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _csv(rows: list[list[str]] | list[tuple[str, ...]]) -> bytes:
    """CSV bytes (UTF-8, \\n line ends, minimal quoting), no cell a formula."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([as_text(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode()


def lms_identity(result: Result) -> tuple[str, str, str]:
    """(kind, LMS id, name) of the LMS upload the result came from: ('canvas', uid, name), ('moodle', id, full name),
    else empty (collect.lms_upload: only an upload's own LMS name, never a name a student gave a file)."""
    found = lms_upload(result.origin, result.student_id)
    if found is None:
        return "", "", ""
    kind, match = found
    return kind, match["uid"], match["name"]


def unmatched(result: Result) -> bool:
    """True for a notebook of a zip that follows no naming convention (collect.UNMATCHED): the instructor sees it in
    grades.csv and the report, but it belongs to no LMS account."""
    container = result.origin.partition(":")[0]
    return container.lower().endswith(".zip") and result.student_id.startswith(UNMATCHED) \
        and lms_identity(result) == ("", "", "")


def totals_csv(results: dict[str, Result], assignment: Assignment) -> bytes:
    """totals.csv: one row per student, sorted by id."""
    rows: list[list[str]] = [list(TOTALS_HEADER)]
    for result in report.cohort(results).results:
        counts = {status: sum(row.status == status for row in result.rows) for status in STATUSES}
        rows.append([result.student_id, _number(result.total), _number(assignment.max_score),
                     str(int(result.late)), str(int(report.submitted(result))), report.outcome(result),
                     ";".join(report.flags(result)), *(str(counts[s]) for s in STATUSES)])
    return _csv(rows)


def _lms_grade(result: Result) -> str:
    """The grade an LMS file gives: the total, or empty (left ungraded) for a student who submitted nothing or whose
    result records a failure of the grader, not a grade (an import would record a 0 the student never earned)."""
    return _number(result.total) if report.submitted(result) and not result.grader_failed else ""


def canvas_csv(results: dict[str, Result], assignment: Assignment) -> bytes:
    """lms/canvas.csv: Canvas' gradebook import (header, Points Possible row, a row per student)."""
    rows: list[list[str]] = [[*CANVAS_HEADER, assignment.id], ["Points Possible", "", "", "", "",
                                                               _number(assignment.max_score)]]
    for result in report.cohort(results).results:
        kind, uid, _ = lms_identity(result)
        if unmatched(result):
            continue  # no student of the course by that name: an import would create or mismatch one
        canvas_id = uid if kind == "canvas" else ""
        grade = _lms_grade(result)
        rows.append([result.student_id, canvas_id, "", "" if canvas_id else result.student_id, "", grade])
    return _csv(rows)


def moodle_csv(results: dict[str, Result], assignment: Assignment) -> bytes:
    """lms/moodle.csv: Moodle's grading worksheet, for the students graded from a Moodle download."""
    rows: list[list[str]] = [list(MOODLE_HEADER)]
    for result in report.cohort(results).results:
        kind, uid, name = lms_identity(result)
        if kind != "moodle":
            continue
        grade = _lms_grade(result)
        comment = say("page.lms_comment", outcome=say(f"status.{report.outcome(result)}"))
        rows.append([f"Participant {uid}", name, grade, _number(assignment.max_score),
                     messages.text(comment, result.language)])  # Moodle shows it to the student: their language
    return _csv(rows)
