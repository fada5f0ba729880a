"""The batch: collect submissions, grade them on N warm sandboxed workers, write every output.

Each worker thread owns one worker process; a worker that dies is restarted and the job retried
once, so one submission can never stop the batch. Results are saved per student as they finish.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from autograder.grading import records, sandbox
from autograder.grading.assignments import DEFAULT_CHECKS, load_assignment
from autograder.grading.collect import Submission, collect, safe_id
from autograder.grading.notebook import Malformed, parse
from autograder.grading.judging import Verdict, rows_for
from autograder.grading.student import Limits, grade_submission

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Everything one grading run needs (the CLI's options)."""

    submissions: Path
    assignment_id: str
    out: Path
    workers: int = 2
    limits: Limits = field(default_factory=Limits)
    resume: bool = False
    checks: str = DEFAULT_CHECKS
    source: Path | None = None
    seed: int | None = None
    sandbox: str = "auto"  # auto | bwrap | none
    roster: Path | None = None


def _source_path(settings: Settings, notebook: str) -> Path:
    """The instructor's source notebook: --source, else solutions/<id>/<notebook> in the repository."""
    return settings.source or REPO / "solutions" / settings.assignment_id / notebook


def _with_roster(subs: list[Submission], roster: Path | None) -> list[Submission]:
    """Add a 'missing' submission for every roster id without one; make ids unique."""
    taken = {sub.student_id for sub in subs}
    seen: dict[str, int] = {}
    unique = []
    for sub in subs:
        if sub.student_id not in seen:
            seen[sub.student_id] = 1
            unique.append(sub)
            continue
        count = seen[sub.student_id]
        while f"{sub.student_id}-{count + 1}" in taken:  # never collide with a real id such as 'alice-2'
            count += 1
        seen[sub.student_id] = count + 1
        new_id = f"{sub.student_id}-{count + 1}"
        taken.add(new_id)
        seen[new_id] = 1
        unique.append(Submission(new_id, sub.origin, sub.data, sub.late, sub.problem))
    if roster:
        for line in roster.read_text().splitlines():
            student = safe_id(line.split(",")[0]) if line.strip() else ""
            if student and student not in seen and student != "student_id":
                unique.append(Submission(student, str(roster), None, problem="no submission found"))
                seen[student] = 1
    return unique


def internal_error(sub: Submission, assignment: Any, exc: Exception) -> dict[str, Any]:
    """A result for a submission the grader itself failed on: error rows naming the exception."""
    reason = Verdict("error", f"internal grader error: {type(exc).__name__}: {exc}")
    return {"student_id": sub.student_id, "assignment": assignment.id, "notebook": assignment.notebook,
            "origin": sub.origin, "late": sub.late, "seed": None, "notes": [], "output": {}, "seconds": 0.0,
            "rows": rows_for(sub.student_id, assignment, {q.grade_id: reason for q in assignment.questions})}


class Progress:
    """A one-line progress bar on a terminal (nothing when stderr is not a tty)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        """Start at zero of `total`."""
        self.total, self.done, self.stream = total, 0, stream
        self.enabled = stream.isatty()
        self.lock = threading.Lock()

    def step(self, label: str) -> None:
        """One more finished."""
        with self.lock:
            self.done += 1
            if self.enabled:
                filled = int(30 * self.done / max(self.total, 1))
                self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {label[:30]:30}")
                self.stream.flush()
                if self.done == self.total:
                    self.stream.write("\n")


def _work(index: int, jobs: queue.Queue, settings: Settings, ctx: dict[str, Any],
          save: Callable[[dict[str, Any]], None]) -> None:
    """One worker thread: start its worker, grade submissions from the queue, restart on death."""
    exchange, log = ctx["tmp"] / f"exchange-{index}", settings.out / "logs" / f"worker-{index}.log"
    holder: dict[str, Any] = {"worker": None}

    def start() -> sandbox.Worker:
        holder["worker"] = sandbox.start_worker(index, settings.checks, settings.assignment_id, exchange,
                                                ctx["sandboxed"], log)
        return holder["worker"]

    def run(job: dict[str, Any]) -> dict[str, Any]:
        wait = settings.limits.timeout * (len(job["questions"]) + 1) + 60
        for attempt in (1, 2):
            try:
                return (holder["worker"] or start()).request(job, wait)
            except sandbox.WorkerDied as exc:
                if holder["worker"] is not None:
                    holder["worker"].stop()
                holder["worker"] = None
                if attempt == 2:
                    return {"op": "failed", "job": job["job"], "error": f"{exc} (twice)"}
        raise AssertionError("unreachable")

    try:
        while True:
            try:
                sub = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                result = grade_submission(sub, ctx["assignment"], ctx["source"], ctx["seed"], run, exchange,
                                          settings.limits)
            except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the student
                result = internal_error(sub, ctx["assignment"], exc)
            result["run_seed"], result["sandbox"] = ctx["seed"], ctx["sandbox_name"]
            save(result)
    finally:
        if holder["worker"] is not None:
            holder["worker"].stop()


def grade(settings: Settings, stream: TextIO = sys.stderr) -> dict[str, dict[str, Any]]:
    """Grade every submission not yet graded (all unless --resume); return all results of the assignment."""
    assignment = load_assignment(settings.checks, settings.assignment_id)
    source_file = _source_path(settings, assignment.notebook)
    if not source_file.is_file():
        raise ValueError(f"source notebook {source_file} not found (give it with --source)")
    try:
        source = parse(source_file.read_bytes())
    except Malformed as exc:
        raise ValueError(f"source notebook {source_file}: {exc}") from None
    subs = _with_roster(collect(settings.submissions, assignment.id, assignment.notebook), settings.roster)
    settings.out.mkdir(parents=True, exist_ok=True)
    done = records.load_results(settings.out, assignment.id) if settings.resume else {}
    todo = [s for s in subs if s.student_id not in done]
    use_bwrap = settings.sandbox != "none" and sandbox.bwrap_usable()
    if settings.sandbox == "bwrap" and not use_bwrap:
        raise ValueError("--sandbox bwrap: bubblewrap is not usable on this machine")
    if not use_bwrap:
        print(sandbox.NO_SANDBOX_WARNING, file=stream)
    seed = settings.seed if settings.seed is not None else int.from_bytes(os.urandom(8), "big") >> 1
    (settings.out / "logs").mkdir(exist_ok=True)
    ctx = {"assignment": assignment, "source": source, "seed": seed, "sandboxed": use_bwrap,
           "sandbox_name": "bubblewrap" if use_bwrap else "NONE (rlimits only)",
           "tmp": Path(tempfile.mkdtemp(prefix="grading-"))}
    jobs: queue.Queue = queue.Queue()
    for sub in todo:
        jobs.put(sub)
    progress, lock = Progress(len(todo), stream), threading.Lock()

    def save(result: dict[str, Any]) -> None:
        records.save_result(settings.out, result)
        with lock:
            done[result["student_id"]] = result
        progress.step(result["student_id"])

    started = time.perf_counter()
    threads = [threading.Thread(target=_work, args=(i, jobs, settings, ctx, save), daemon=True)
               for i in range(max(1, min(settings.workers, len(todo))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shutil.rmtree(ctx["tmp"], ignore_errors=True)
    everything = records.load_results(settings.out, assignment.id)
    ctx.update(elapsed=time.perf_counter() - started, graded=len(todo), resumed=len(everything) - len(todo))
    from autograder.grading import outputs

    outputs.write_all(settings.out, assignment, everything, ctx)
    print(outputs.summary_line(everything, ctx, settings.workers), file=stream)
    return everything
