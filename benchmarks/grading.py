"""Benchmark: `python -m autograder grade` against plain `nbgrader autograde` on the same honest submissions.

Builds K submissions from a source notebook (every third one with a deliberately wrong answer cell,
so totals differ between students), grades them both ways, checks the per-student totals agree, and
prints, from the same run:

- seconds per notebook for each grader and the ratio (target: at least 50x over nbgrader at K = 40);
- the fixed cost of our run: start -> first result, and last result -> outputs written (target: at most
  1.5 s together), from the result files' and the report's modification times;
- a worker's steady-state cost per honest submission: the median of the results' `seconds` (the
  submission's own time; a worker's start-up is recorded apart, as `startup`) over the honest
  submissions that waited for no start-up (target: at most 0.1 s);
- a single-notebook regrade (`--student ID` on the graded OUT, as a whole command; target: at most 2 s);
- the CPU the machine was busy for during a whole run (every process), next to what one `import torch` costs (a
  run pays it in the grader and in every worker) and what 50x leaves on this machine's cores;
- a stage-by-stage profile of one honest submission on one sandboxed worker (the worker's `Reply.stages`
  and the trusted side's steps, medians over K), with the cost of each isolation guarantee: the submission's
  cgroups (limits; made, and the next child forked in them, while the worker waits; killed and removed), the
  job handed to that child, fresh namespaces, uid and keyrings in the child, every process of the submission killed,
  only accepted phases copied out, the scratch space wiped.

Our grader runs `--repeat` times (default 1) and the medians are printed, each run with the load average.
Usage:

    python benchmarks/grading.py [--assignment optimizers] [-k 40] [--workers 2] [--repeat 3]
    python benchmarks/grading.py --fake   # the tests' small fake assignment (works before solutions exist)
    python benchmarks/grading.py --isolation-only [-k 40]   # just the per-stage profile and isolation costs
    python benchmarks/grading.py --no-nbgrader   # our grader only (no ratio)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from target import CORPUS, REPO, grading_target  # benchmarks run as scripts: their own folder is on sys.path

#: The worker's stages (Reply.stages) in order, and what each one is for; "(isolation)" marks a guarantee's cost.
STAGES = (
    ("prepare", "job folder wiped, inputs read, code written"),
    ("limit", "(isolation) the submission's cgroups limited: memory, processes, CPU weight"),
    ("scratch", "(isolation) scratch space wiped, private work folder made, pipes"),
    ("spawn", "(isolation) the job handed to the child the clean template forked while the worker waited "
              "(descriptor and pipes over sockets)"),
    ("cells", "child start to the cells before the first test cell accepted (its isolation 'enter' included, "
              "below), then every later chunk of cells (those between two test cells)"),
    ("questions", "every question's round: inputs down, the student's calls, the result frame up"),
    ("exit", "last phase accepted to the child's exit seen"),
    ("destroy", "(isolation) every process in the cgroups killed, the cgroups removed"),
    ("kill", "(isolation) everything else of the submission killed and reaped, pipes drained"),
    ("copy", "(isolation) only the accepted phases written out for the grader"),
    ("wipe", "(isolation) scratch space wiped again"),
)
#: Measured apart (not on the submission's path, or inside a stage above).
EXTRA = (
    ("enter", "(isolation) in the child: fresh IPC and mount namespaces, runner covered, rlimits, own uid, "
              "fresh keyrings (part of 'cells')"),
    ("prepared", "(isolation) the next submission's cgroups made, the template moved in, the next child forked "
                 "there and the template moved out, while the worker waits for the next job (not on any "
                 "submission's path)"),
)
#: The trusted side's steps of one submission (functions of autograder.grading timed by wrapping them).
TRUSTED = (("student", "_prepare", "read, parse, sanitize"), ("student", "_forbidden", "forbidden-shortcut scan"),
           ("judging", "draw_cases", "hidden inputs drawn"), ("plain", "dump", "inputs written"),
           ("judging", "read_cells", "cells phases read"), ("judging", "judge_question", "questions judged"))


def _env() -> dict[str, str]:
    """Environment for the subprocesses: our venv first on PATH, the repo and the fake course importable."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": f"{REPO}{os.pathsep}{CORPUS}", "OMP_NUM_THREADS": "1"}


def _run(argv: list[str], **kwargs: Any) -> None:
    """Run a command quietly; when it fails, stop with its command line, exit status and the end of what it said."""
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-2000:]
        sys.exit(f"benchmark: `{' '.join(argv[:4])} ...` exited {done.returncode}:\n{said}")


def _load() -> str:
    """The 1-minute load average (other jobs on the machine slow every timing)."""
    return f"{os.getloadavg()[0]:.2f}"


def _submissions(source: dict, k: int) -> list[tuple[str, dict]]:
    """K released-and-answered notebooks: the solutions, with one answer cell broken in every third."""
    answers = [c for c in source["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    made = []
    for i in range(k):
        nb = copy.deepcopy(source)
        if i % 3 == 2 and answers:
            target = answers[(i // 3) % len(answers)]["metadata"]["nbgrader"]["grade_id"]
            for cell in nb["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == target:
                    names = [line.split("(")[0][4:] for line in "".join(cell["source"]).splitlines()
                             if line.startswith("def ")]
                    cell["source"] = "".join(f"def {n}(*args, **kwargs):\n    return None\n" for n in names)
        made.append((f"student{i:03d}", nb))
    return made


def _honest(i: int) -> bool:
    """Whether submission i is the unbroken solution (see _submissions)."""
    return i % 3 != 2


def _nbgrader(course: Path, assignment: str, notebook: str, source: dict, subs: list[tuple[str, dict]]) -> dict:
    """Grade with `nbgrader autograde` in a fresh course folder; return student -> total."""
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\nc.ExecutePreprocessor.timeout = 60\n")
    (course / "source" / assignment).mkdir(parents=True)
    (course / "source" / assignment / notebook).write_text(json.dumps(source))
    _run(["nbgrader", "generate_assignment", assignment, "--force"], cwd=course)
    for student, nb in subs:
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / notebook).write_text(json.dumps(nb))
    _run(["nbgrader", "autograde", assignment, "--create"], cwd=course)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        return {s: gb.find_submission(assignment, s).score for s, _ in subs}


def _timed(module: Any, name: str, into: dict[str, list[float]]) -> Callable[[], None]:
    """Wrap module.name so each call's seconds are added to into[name]; returns the undo."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.setdefault(name, []).append(time.perf_counter() - started)
    setattr(module, name, wrapper)
    return lambda: setattr(module, name, original)


def profile(checks: str, assignment_id: str, source: dict, k: int) -> dict[str, Any]:
    """Grade k honest submissions one after another on one sandboxed worker, as the batch does; medians (ms) of
    the worker's stages and isolation parts, the trusted side's steps, and whole submissions."""
    from autograder import plain
    from autograder.grading.core import judging, sandbox, student, tmpdir
    from autograder.grading.core.model import Submission
    from autograder.grading.inbox.notebook import parse
    from autograder.grading.runner.assignments import load_assignment
    from autograder.grading.runner.wire import Limits

    assignment = load_assignment(checks, assignment_id)
    parsed = parse(json.dumps(source).encode())
    modules = {"student": student, "judging": judging, "plain": plain}
    trusted: dict[str, list[float]] = {}
    undo = [_timed(modules[m], name, trusted) for m, name, _ in TRUSTED]
    replies, requests, whole = [], [], []
    with tempfile.TemporaryDirectory(dir=tmpdir.default_parent()) as tmp:  # where the grader's own folder goes
        exchange = Path(tmp) / "exchange-0"
        started = time.perf_counter()
        worker = sandbox.start_worker(0, checks, assignment_id, exchange, sandbox.bwrap_usable(), Path(tmp) / "log")
        start_up = time.perf_counter() - started

        def run(job: Any) -> Any:
            begun = time.perf_counter()
            reply = worker.request(job, wait=120)
            requests.append(time.perf_counter() - begun)
            replies.append(reply)
            return reply
        try:
            for i in range(k + 1):  # the first (a worker's first job pays one-off costs) is left out below
                sub = Submission(f"s{i}", "x", json.dumps(source).encode())
                begun = time.perf_counter()
                result = student.grade_submission(sub, assignment, parsed, 12345, run, exchange, Limits())
                whole.append(time.perf_counter() - begun)
                if any(row.status != "passed" for row in result.rows):
                    raise SystemExit(f"the source notebook does not pass its own checks: {result.rows}")
        except sandbox.WorkerDied:
            print((Path(tmp) / "log").read_text()[-4000:], file=sys.stderr)  # why the worker stopped
            raise
        finally:
            worker.stop()
            for step in undo:
                step()
    calls = len(replies) // (k + 1)  # jobs per submission (1 unless a question had to be rerun)
    steady = replies[calls:]

    def median_ms(values: list[float]) -> float:
        return 1000 * statistics.median(values) if values else 0.0
    per_sub = {}  # each step's seconds per submission (a step may run once per question), the first left out
    for name, values in trusted.items():
        each = max(1, len(values) // (k + 1))
        per_sub[name] = [sum(values[i * each:(i + 1) * each]) for i in range(1, k + 1)]
    return {"start_up": start_up * 1000, "whole": median_ms(whole[1:]), "request": median_ms(requests[calls:]),
            "reply": median_ms([r.seconds for r in steady]), "first": 1000 * whole[0],
            "stages": {name: median_ms([r.stages.get(name, 0.0) for r in steady]) for name, _ in STAGES + EXTRA},
            "isolation": median_ms([r.isolation_seconds for r in steady]), "cgroups": bool(steady[0].cgroups),
            "trusted": {name: median_ms(values) for name, values in per_sub.items()}}


def print_profile(cost: dict[str, Any], k: int) -> None:
    """The per-stage profile, and what isolation costs."""
    print(f"one sandboxed worker, {k} honest submissions one after another (medians; the first left out); "
          f"load {_load()}:")
    print(f"  worker start-up {cost['start_up']:.0f} ms; first submission {cost['first']:.0f} ms; then per "
          f"submission {cost['whole']:.1f} ms in all = {cost['request']:.1f} ms waiting for the worker (its own "
          f"{cost['reply']:.1f} ms) + the trusted side")
    print("  worker, stage by stage (ms):")
    for name, what in STAGES + EXTRA:
        print(f"    {name:10s} {cost['stages'][name]:7.2f}  {what}")
    print("  trusted side, per submission (ms):")
    for _, name, what in TRUSTED:
        print(f"    {name:15s} {cost['trusted'].get(name, 0.0):7.2f}  {what}")
    isolated = [n for n, what in STAGES if what.startswith("(isolation)")] + ["enter"]
    on_path = sum(cost["stages"][n] for n in isolated)
    print(f"  isolation on a submission's path: {on_path:.1f} ms ({', '.join(isolated)}); the worker's own count "
          f"(limit + enter + destroy) {cost['isolation']:.1f} ms; plus {cost['stages']['prepared']:.1f} ms while "
          f"idle; cgroups: {'yes' if cost['cgroups'] else 'NO, rlimits only'}")


def _busy_cpu() -> float:
    """CPU seconds this machine has spent busy since boot, every core and process together (/proc/stat: user, nice,
    system, irq and softirq time; idle, I/O wait and time stolen by the host left out). The grader's workers, their
    templates and children are not all waited for by processes of ours, so getrusage would miss some of them."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(n) for n in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _grade(subs_dir: Path, out: Path, assignment: str, checks: str, source: Path, workers: int,
           *extra: str) -> tuple[float, float, float]:
    """Run `python -m autograder grade` as an instructor does; (wall-clock start, end) in time.time(), and the CPU
    seconds the machine was busy meanwhile (the command with every process it started, and whatever else ran)."""
    cpu, started = _busy_cpu(), time.time()
    _run([sys.executable, "-m", "autograder", "grade", str(subs_dir), "--assignment", assignment, "--out", str(out),
          "--workers", str(workers), "--checks", checks, "--source", str(source), *extra], cwd=REPO)
    return started, time.time(), _busy_cpu() - cpu


def torch_import_cpu(repeat: int = 3) -> float:
    """CPU seconds of `import torch` in a fresh interpreter, with collection off as the grader and its workers import
    it (the median of `repeat`): a run pays it once in the grader and once in every worker."""
    costs = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import gc; gc.disable(); import torch"], env=_env(), check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(costs)


def ours(tmp: Path, assignment: str, checks: str, workers: int, k: int) -> dict[str, Any]:
    """One whole run of our grader and one single-notebook regrade on its OUT: the timings and the totals."""
    out = tmp / "out"
    shutil.rmtree(out, ignore_errors=True)
    load = _load()
    started, ended, cpu = _grade(tmp / "subs", out, assignment, checks, tmp / "source.ipynb", workers)
    results = {p: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    done = sorted(p.stat().st_mtime for p in results)
    written = (out / "report.html").stat().st_mtime
    honest = [r["seconds"] for r in results.values()
              if _honest(int(r["student_id"].removeprefix("student"))) and not r.get("startup")]
    regrade_from, regrade_to, _ = _grade(tmp / "subs", out, assignment, checks, tmp / "source.ipynb", workers,
                                      "--student", "student001")
    return {"seconds": ended - started, "first": done[0] - started, "last": written - done[-1],
            "exit": ended - written, "steady": statistics.median(honest), "regrade": regrade_to - regrade_from,
            "startups": sorted(r.get("startup") or 0.0 for r in results.values())[-workers:], "load": load,
            "cpu": cpu,
            "totals": {r["student_id"]: sum(row["score"] for row in r["rows"]) for r in results.values()}}


def main() -> int:
    """Run both graders and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="optimizers")
    parser.add_argument("--fake", action="store_true", help="use the tests' fake assignment")
    parser.add_argument("-k", type=int, default=40, help="number of submissions (default 40)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of our grader; medians are printed (default 1)")
    parser.add_argument("--isolation-only", action="store_true", help="only the per-stage profile")
    parser.add_argument("--no-nbgrader", action="store_true", help="skip nbgrader (no ratio)")
    args = parser.parse_args()
    os.environ.setdefault("COURSE_GRADING_KEY", "benchmark-key-not-secret-0123456789")
    assignment, notebook, checks, source = grading_target(args.fake, args.assignment)
    print_profile(profile(checks, assignment, source, args.k), args.k)
    if args.isolation_only:
        return 0
    subs = _submissions(source, args.k)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "source.ipynb").write_text(json.dumps(source))
        for student, nb in subs:
            (tmp_path / "subs" / student / assignment).mkdir(parents=True)
            (tmp_path / "subs" / student / assignment / notebook).write_text(json.dumps(nb))
        runs = []
        for _ in range(args.repeat):
            runs.append(ours(tmp_path, assignment, checks, args.workers, args.k))
            run = runs[-1]
            print(f"  our run: {run['seconds']:.2f} s (load {run['load']}; CPU {run['cpu']:.1f} s): start -> first "
                  f"result {run['first']:.2f} s, last result -> outputs written {run['last']:.2f} s, then exit "
                  f"{run['exit']:.2f} s; steady "
                  f"{run['steady']:.3f} s per honest submission; workers' start-up waits "
                  f"{', '.join(f'{s:.2f}' for s in run['startups'])} s; regrade of one {run['regrade']:.2f} s")
        theirs: dict[str, float] = {}
        nbgrader_s = 0.0
        if not args.no_nbgrader:
            load = _load()
            started = time.perf_counter()
            theirs = _nbgrader(tmp_path / "course", assignment, notebook, source, subs)
            nbgrader_s = time.perf_counter() - started
            print(f"  nbgrader autograde: {nbgrader_s:.1f} s (load {load})")
    med = {key: statistics.median(run[key] for run in runs) for key in ("seconds", "first", "last", "steady",
                                                                         "regrade", "cpu")}
    print(f"{args.k} notebooks of '{assignment}', {args.workers} sandboxed workers, medians of {args.repeat} run(s):")
    print(f"  autograder {med['seconds']:.2f} s in all ({med['seconds'] / args.k:.3f} s/notebook, start-up included)"
          + (f"; nbgrader autograde {nbgrader_s:.1f} s ({nbgrader_s / args.k:.2f} s/notebook); speed-up "
             f"{nbgrader_s / med['seconds']:.1f}x (target >= 50x)" if theirs else ""))
    fixed = med["first"] + med["last"]
    print(f"  fixed cost {fixed:.2f} s = start -> first result {med['first']:.2f} s + last result -> outputs "
          f"written {med['last']:.2f} s (target <= 1.5 s)")
    print(f"  a worker's steady-state cost per honest submission {med['steady']:.3f} s (median of the results' "
          "seconds, start-up apart; target <= 0.1 s)")
    print(f"  single-notebook regrade (--student on the graded OUT, whole command) {med['regrade']:.2f} s "
          "(target <= 2 s)")
    cores, imports, one_import = len(os.sched_getaffinity(0)), 1 + args.workers, torch_import_cpu()
    print(f"  CPU busy during the whole run (every process) {med['cpu']:.1f} s on {cores} core(s): {imports} torch "
          f"imports (the grader's and each worker's) at {one_import:.2f} s each, then "
          f"{1000 * (med['cpu'] - imports * one_import) / args.k:.0f} ms per notebook for everything else")
    if theirs:
        goal = nbgrader_s / 50
        print(f"  50x: the whole run within {goal:.2f} s, at most {goal * cores:.1f} s of CPU on {cores} core(s), of "
              f"which the {imports} imports take {imports * one_import:.1f} s")
    mismatched = {s: (runs[0]["totals"].get(s), theirs[s]) for s in theirs
                  if abs((runs[0]["totals"].get(s) or 0) - theirs[s]) > 1e-6}
    if theirs:
        print(f"  totals agree with nbgrader: {not mismatched}")
    if mismatched:
        print(f"MISMATCH (ours, nbgrader): {mismatched}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
