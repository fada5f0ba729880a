"""Grade one submission end to end (trusted side): read, sanitize, scan, run in the sandbox, judge.

`run` sends one job to a worker and returns its reply. As nbgrader does, each question is graded with the
notebook's state at its test cell: the job runs the cells before the first question's test cell, calls that
question, runs the cells up to the next one, and so on (autograder.grading.runner.phases). A question whose
phase did not finish is settled (timeout, crash, ...) and the remaining questions go to a fresh job, so one
endless loop or os._exit in a graded function costs only the question it happened in; cells that did not
finish settle every question after them at once (running them again would only cost another time limit).
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder import key, plain
from autograder.checks.spec import Assignment
from autograder.grading.core import judging, model
from autograder.grading.core.bounds import bounded_message, bounded_notes
from autograder.grading.core.model import Result, Verdict
from autograder.grading.inbox.collect import Submission, fingerprint, read
from autograder.grading.inbox.notebook import Malformed, Notebook, parse
from autograder.grading.inbox.sanitize import Plan, plan
from autograder.grading.runner import wire
from autograder.grading.runner.fields import safe_text
from autograder.grading.runner.limits import CODE_BYTES
from autograder.grading.runner.phases import cells_phase
from autograder.grading.runner.wire import Job, Limits, Reply
from autograder.message import Message, say

#: Sends one job to a sandboxed worker and returns its reply (pipeline._work, node.GradingNode._runner).
Runner = Callable[[Job], Reply]


def _forbidden(assignment: Assignment, built: Plan) -> dict[str, Verdict]:
    """Verdicts for questions whose functions use a forbidden shortcut in their source (AST scan), each read in the
    student's cells before its test cell: the definitions in effect where nbgrader's test cell checks them."""
    if not assignment.forbidden:
        return {}
    from autograder.checks.forbidden import scan_prefixes

    verdicts = {}
    # each cell parsed once, one scan per distinct test-cell position, for every question's functions (a function's
    # hits do not depend on which others are asked about), as text Python can parse: a lone surrogate or NUL (in a
    # comment, say) must not stop the scan
    cells = [cell for cell in built.cells if cell.answer]
    count = {position: len(built.answers_before(position))
             for position in {built.position(q.grade_id) for q in assignment.questions}}
    hits = scan_prefixes([safe_text(cell.source) for cell in cells], sorted(set(count.values())),
                         dict.fromkeys(f for q in assignment.questions for f in q.functions), assignment.forbidden)
    for question in assignment.questions:
        found = hits[count[built.position(question.grade_id)]]
        used = sorted({name for function in question.functions for name in found[function]})
        if used:
            verdicts[question.grade_id] = model.forbidden(question.functions, used, called=False)
    return verdicts


def _run_pending(pending: list[int], assignment: Assignment, built: Plan, cases: dict[str, list[Any]],
                 job_dir: Path, run: Runner, limits: Limits, verdicts: dict[str, Verdict], output: dict[str, str],
                 notes: list[Message], cell_errors: list[Message], expected: judging.Expected | None = None
                 ) -> list[int]:
    """Run one job for the pending question indices (in the order of their test cells); settle what it decided
    (`cell_errors`: replaced by this job's, when it has as many); return what is left."""
    questions = [assignment.questions[i] for i in pending]
    positions = tuple(built.position(q.grade_id) for q in questions)
    shutil.rmtree(job_dir, ignore_errors=True)
    job_dir.mkdir(parents=True)
    for position, q in enumerate(questions):  # the worker hands each to the child only in its own phase
        plain.dump(cases[q.grade_id], job_dir / f"cases-{position}")
    reply = run(Job(job_dir.name, built.cells, tuple(q.grade_id for q in questions), limits, positions))
    for stream, text, size in (("stdout", reply.stdout, reply.stdout_bytes), ("stderr", reply.stderr,
                                                                              reply.stderr_bytes)):
        if text:
            output[stream] = judging.merge_output(output.get(stream, ""), text)[: limits.output_bytes]
        cut = say("note.output_cut", limit=limits.output_bytes)
        if size > limits.output_bytes and cut not in notes:
            notes.append(cut)
    # Only the phases the worker accepted count (Reply.files), never whatever files exist.
    errors: list[Message] = []
    memory = cells_seen = False
    left: list[int] = []
    for position, q in enumerate(questions):
        chunk = judging.read_cells(job_dir, reply.files, cells_phase(position))
        if chunk is None:  # these cells would run again before every later question: all of them settle here
            what = _cells_before(assignment, built, positions[position])
            for later in questions[position:]:
                verdicts[later.grade_id] = judging.why_unfinished(None, reply, limits.timeout, what)
            break
        cells_seen = True
        errors += chunk[0]
        memory = memory or chunk[1]
        failed = judging.test_cell_failed(chunk[0], q.grade_id)
        if failed is not None:
            verdicts[q.grade_id] = failed
            continue
        result = judging.judge_question(q, cases[q.grade_id], job_dir / f"q{position}", errors[:20], memory,
                                        limits.memory_mb, reply.files,
                                        expected.get(q.grade_id) if expected is not None else None)
        if result is None:
            verdicts[q.grade_id] = judging.why_unfinished(q, reply, limits.timeout)
            left = pending[position + 1:]
            break
        verdicts[q.grade_id] = result
    # a later job reruns the earlier job's cells (and perhaps more): keep the longer account
    if cells_seen and len(errors) >= len(cell_errors):
        cell_errors[:] = errors[:20]
    shutil.rmtree(job_dir, ignore_errors=True)
    return left


def _cells_before(assignment: Assignment, built: Plan, end: int) -> str:
    """The labels of the cells between the test cell before position `end` and it ('' when there are none)."""
    start = max((p for p in (built.position(q.grade_id) for q in assignment.questions) if p < end), default=0)
    return judging.cells_named(cell.label for cell in built.cells[start:end])


def _code_fits(built: Plan) -> None:
    """Malformed when the code to run would not fit the job sent to the sandbox (decided before sending)."""
    size = len(json.dumps([wire.cell_json(cell) for cell in built.cells]))
    if size > CODE_BYTES:
        raise Malformed(say("malformed.code_size", size=size, limit=CODE_BYTES))


def _parse(sub: Submission, fingerprints: list[str]) -> Notebook:
    """Read and parse a submission, appending to `fingerprints` what was read (collect.fingerprint); Malformed
    (reading.Unreadable included) with the reason."""
    raw = read(sub)
    fingerprints.append(fingerprint(sub, raw))
    if raw is None:
        raise Malformed(sub.problem or say("upload.none"))
    return parse(raw)  # one notebook's bytes at a time, and only until it is parsed


def _prepare(parsed: Notebook, source: Notebook, assignment: Assignment) -> Plan:
    """Sanitize a parsed submission into the plan of what runs; Malformed with the reason."""
    built = plan(parsed, source, assignment)
    _code_fits(built)
    return built


def grade_submission(sub: Submission, assignment: Assignment, source: Notebook, seed: int, run: Runner,
                     exchange: Path, limits: Limits) -> Result:
    """The result of one student: rows, the seed, timing, notes and captured output."""
    started = time.perf_counter()
    student_seed = key.mix(seed, sub.student_id)
    verdicts: dict[str, Verdict] = {}
    notes: list[Message] = [say("note.late")] if sub.late else []
    output: dict[str, str] = {}
    cell_errors: list[Message] = []
    fingerprints = [fingerprint(sub, None)]  # what was graded: replaced below once the notebook is read
    language = None  # the student's notebook says which language its feedback is written in
    if sub.data is None and sub.locator is None:
        # collect gives the status (malformed: found but unusable); a problem found before any notebook was read
        # has no language, so it is carried as its reason's text
        reason = say("upload.problem", reason=sub.problem) if sub.problem else say("upload.none")
        verdicts = {q.grade_id: Verdict(sub.status or "missing", reason) for q in assignment.questions}
    else:
        try:
            parsed = _parse(sub, fingerprints)
            language = parsed.language
            built = _prepare(parsed, source, assignment)
        except Malformed as exc:
            language = language or exc.language  # parsed, or what unreadable bytes still name
            verdicts = {q.grade_id: Verdict("malformed", exc.message) for q in assignment.questions}
        else:
            notes += built.notes
            verdicts.update(_forbidden(assignment, built))
            verdicts.update(built.decided)
            cases = judging.draw_cases(assignment, student_seed)
            # in the order of their test cells, where each is graded
            pending = sorted((i for i, q in enumerate(assignment.questions) if q.grade_id not in verdicts),
                             key=lambda i: built.position(assignment.questions[i].grade_id))
            # the reference outputs are computed while the sandbox runs the student's code
            expected = judging.Expected([assignment.questions[i] for i in pending], cases) if pending else None
            rounds = 0
            while pending and rounds <= len(assignment.questions):
                rounds += 1
                job_dir = exchange / f"job-{secrets.token_hex(8)}"
                pending = _run_pending(pending, assignment, built, cases, job_dir, run, limits, verdicts, output,
                                       notes, cell_errors, expected)
    return Result(sub.student_id, assignment.id, assignment.notebook, sub.origin, sub.late,
                  student_seed, tuple(bounded_notes(notes)), output, round(time.perf_counter() - started, 3),
                  judging.rows_for(sub.student_id, assignment, verdicts), source=fingerprints[-1],
                  language=language, cell_errors=tuple(bounded_message(e) for e in cell_errors))
