"""Everything written after a batch: grades.csv, totals.csv, lms/, feedback, Gradescope files, the cohort report.

File modes are chosen, not left to the umask: what a course shares (feedback pages, report, CSVs, Gradescope
and LMS files) is 0644 in 0755 folders, so TAs or a web server can read OUT/feedback; what stays private
(results/ with every student's seed and captured output, logs/) is 0600 in 0700 folders. The key lives
elsewhere (autograder/key.py: 0600 in a 0700 folder) and hidden inputs only in a 0700 temporary folder.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.checks import messages
from autograder.checks.spec import Assignment
from autograder.grading.core.model import SANDBOXED, Result, RunSummary
from autograder.grading.outputs import pages, records, rendered, report, sections, totals
from autograder.message import say

#: Modes of what a course shares, and of the folders that stay private (results/, logs/).
PUBLIC_FILE, PUBLIC_DIR, PRIVATE_DIR = 0o644, 0o755, 0o700
PRIVATE = ("results", "logs")

#: Captured output shown on a feedback page: (key in result["output"], the code of its heading).
OUTPUT_BLOCKS = (("cell_errors", "page.cell_errors"), ("stdout", "page.stdout"), ("stderr", "page.stderr"))


def feedback_path(assignment: Assignment, student_id: str) -> PurePosixPath:
    """Where a student's feedback page lives, relative to OUT (nbgrader's feedback layout)."""
    return PurePosixPath("feedback", student_id, assignment.id, f"{Path(assignment.notebook).stem}.html")


def feedback_rows(result: Result, assignment: Assignment, book: str) -> list[dict[str, Any]]:
    """The page's rows: failures first (then partial credit, then passes), each with the function whose book
    section teaches it (`topic`: its key in the catalog) and that section's link, in the edition of the student's
    language (the Chinese one is built into <book>/zh_CN)."""
    functions = {q.grade_id: q.functions for q in assignment.questions}
    book = f"{book}/{result.language}" if book and result.language else book
    order = {"passed": 2, "partial": 1}
    rows = sorted(result.rows, key=lambda r: order.get(r.status, 0))  # stable: question order within a kind
    out = []
    for row in rows:
        taught = next((f for f in functions.get(row.grade_id, ()) if f in sections.SECTIONS), "")
        section = sections.SECTIONS.get(taught)
        out.append({"row": row, "failing": row.status not in order, "topic": f"topic.{taught}" if section else "",
                    "link": sections.link(section, book) if section and book else ""})
    return out


def feedback_html(result: Result, assignment: Assignment, sandbox_name: str, book: str = "") -> str:
    """One student's feedback page: failures first, each question linked to its book section at `book`, notes,
    a short case label (not the seed), and captured output (once); in the language of the student's notebook
    (chrome, statuses, messages and notes through the one catalog, autograder/checks/messages.py)."""
    lang, output = result.language, result.output
    _ = messages.translator(lang)
    # the cells' errors are messages, worded here in the page's language (a result stored before they were kept as
    # messages has them as text in output["cell_errors"])
    shown = {**output, "cell_errors": "\n".join(messages.text(e, lang) for e in result.cell_errors)
             or output.get("cell_errors", "")}
    blocks = [(_(title), str(shown[key])) for key, title in OUTPUT_BLOCKS if shown.get(key)]
    rows = [{**r, "message": messages.html(r["row"].message, lang), "status": _(f"status.{r['row'].status}"),
             "topic": _(r["topic"]) if r["topic"] else ""} for r in feedback_rows(result, assignment, book)]
    return pages.render("feedback.html.j2", assignment=assignment.id, student=result.student_id,
                        sandboxed=sandbox_name == SANDBOXED, sandbox=sandbox_name, total=result.total,
                        max_score=assignment.max_score, late=result.late, case=pages.case_label(result.seed),
                        rows=rows, failing=[r["row"].grade_id for r in rows if r["row"].status != "passed"],
                        notes=[messages.html(note, lang) for note in result.notes], blocks=blocks,
                        lang=lang or "en", _=_)


def _gradescope(result: Result) -> dict[str, Any]:
    """Gradescope's results.json for one student (one test per graded cell), in the student's language."""
    lang = result.language
    # Student text (their exceptions, their printed names) is shown as plain text: Gradescope's default format
    # for output turns some markup into formatting.
    tests = [{"name": r.grade_id, "score": r.score, "max_score": r.max_score, "status":
              "passed" if r.status == "passed" else "failed", "output_format": "text",
              "output": messages.text(say("verdict.row", status=say(f"status.{r.status}"), message=r.message), lang)}
             for r in result.rows]
    return {"score": result.total, "execution_time": result.seconds,
            "output": messages.text(say("list.semicolon", items=result.notes), lang) if result.notes else "",
            "output_format": "text",
            "tests": tests, "visibility": "after_published"}


def _holds(path: Path, data: bytes) -> bool:
    """Whether `path` is a regular file (not a link) holding exactly `data`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as file:
        return stat.S_ISREG(os.fstat(file.fileno()).st_mode) and os.fstat(file.fileno()).st_size == len(data) \
            and file.read(len(data) + 1) == data


def publish(out: Path, relative: str | PurePosixPath, data: bytes) -> None:
    """Write OUT/relative atomically, readable by all (PUBLIC_FILE), with its folders below OUT PUBLIC_DIR. A file
    that already holds exactly `data` (a regrade leaves most pages as they were) is left as it is."""
    if not _holds(out / relative, data):
        records.atomic_write(out / relative, data)
    _share(out, relative)


def _share(out: Path, relative: str | PurePosixPath) -> None:
    """Give OUT/relative and its folders below OUT the public modes (PUBLIC_FILE, PUBLIC_DIR)."""
    os.chmod(out / relative, PUBLIC_FILE)
    folder = out
    for part in PurePosixPath(relative).parts[:-1]:
        folder = folder / part
        os.chmod(folder, PUBLIC_DIR)


def _keep_private(out: Path, relative: Path, data: bytes) -> None:
    """Write OUT/relative atomically, 0600 in a 0700 folder (as results/ and logs/)."""
    (out / relative).parent.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    records.atomic_write(out / relative, data)  # mkstemp: 0600


def _student_names(assignment: Assignment, student_id: str) -> list[str]:
    """The paths below OUT of one student's files: the feedback page, the Gradescope file."""
    return [str(feedback_path(assignment, student_id)), f"gradescope/{student_id}/results.json"]


def _student_files(out: Path, assignment: Assignment, result: Result, sandbox_name: str,
                   book_url: str | None) -> dict[str, bytes]:
    """One student's files (feedback page, Gradescope file) as bytes by path below OUT, with their report and CSV
    lines tried too: any error rendering them is raised here, before anything is written."""
    feedback = feedback_path(assignment, result.student_id)
    book = sections.book_base(out / feedback.parent, book_url)
    page = feedback_html(result, assignment, result.sandbox or sandbox_name, book)
    report.student_line(assignment, result)
    records.csv_bytes({result.student_id: result})
    gradescope = json.dumps(_gradescope(result), indent=1, allow_nan=False).encode()
    return dict(zip(_student_names(assignment, result.student_id), (page.encode(), gradescope), strict=True))


def write_all(out: Path, assignment: Assignment, results: dict[str, Result], summary: RunSummary) -> dict[str, Result]:
    """grades.csv, totals.csv, lms/, feedback/, gradescope/ and report.html for all results so far (atomically).

    A result that cannot be rendered costs only its student: an error row saying why (records.unusable)
    takes its place in every output, and the others are written as usual. Returns what was written.
    """
    os.chmod(out, PUBLIC_DIR)
    for name in PRIVATE:
        if (out / name).is_dir():
            os.chmod(out / name, PRIVATE_DIR)
    book_url = sections.book_url()
    before = rendered.Rendered(out, rendered.context(out, assignment, summary.sandbox_name, book_url))
    written: dict[str, Result] = {}
    # Pages are rendered here, one after another; writing each (atomically, synced to disk: most of the time)
    # happens on a few threads meanwhile. The report comes last, once everything else is written.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="outputs") as writers:
        pending = []
        for student_id, result in sorted(results.items()):
            source = rendered.result_digest(result)
            names = _student_names(assignment, student_id)
            if before.unchanged(student_id, source, names):  # as the last batch wrote them: only the modes again
                pending += [writers.submit(_share, out, name) for name in names]
                written[student_id] = result
                continue
            try:
                files = _student_files(out, assignment, result, summary.sandbox_name, book_url)
            except Exception as exc:  # noqa: BLE001 - one student's result never stops the batch's outputs
                result = records.unusable(student_id, assignment, f"it cannot be rendered: {type(exc).__name__}: "
                                          f"{exc}", result.origin)
                files = _student_files(out, assignment, result, summary.sandbox_name, book_url)
                before.record(student_id, None, files)  # rendered from a stand-in: try the result itself next time
            else:
                before.record(student_id, source, files)
            pending += [writers.submit(publish, out, relative, data) for relative, data in files.items()]
            written[student_id] = result
        pending += [writers.submit(publish, out, "grades.csv", records.csv_bytes(written)),
                    writers.submit(publish, out, "totals.csv", totals.totals_csv(written, assignment)),
                    writers.submit(publish, out, "lms/canvas.csv", totals.canvas_csv(written, assignment)),
                    writers.submit(publish, out, "lms/moodle.csv", totals.moodle_csv(written, assignment))]
        page = report.render(assignment, written, summary).encode()
        for future in pending:
            future.result()  # an error writing any file stops here, as it did one file at a time
    publish(out, "report.html", page)
    # last: a run stopped before this point leaves the old record, whose files no longer match what it says
    _keep_private(out, rendered.RECORD, before.data(set(written)))
    return written


def summary_line(results: dict[str, Result], summary: RunSummary, where: str) -> str:
    """The one line printed at the end of a batch (its counts are the report's: report.cohort); `where` says what
    graded ("2 worker(s)", "Dask cluster tcp://...")."""
    count = max(summary.graded, 1)
    counts = report.cohort(results)
    return (f"graded {summary.graded} submission(s) in {summary.elapsed:.1f} s ({summary.elapsed / count:.2f} s "
            f"each, {where}, sandbox: {summary.sandbox_name}); {summary.resumed} kept from before; "
            f"{len(counts.results)} students, {len(counts.handed_in)} submitted, mean total {counts.mean:.2f} over "
            f"them; students by outcome: {counts.outcome_text() or 'none'}; grading key fingerprint {summary.key_id}")
