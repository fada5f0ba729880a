"""Benchmark: `python -m autograder grade` against plain `nbgrader autograde` on the same honest submissions.

Builds K submissions from a source notebook (every third one with a deliberately wrong answer cell,
so totals differ between students), grades them both ways, checks the per-student totals agree,
and prints seconds per notebook for each and the ratio. It first measures the per-submission isolation
overhead on one real worker, as the worker times it: the submission's cgroups limited, killed and
removed, fresh IPC and mount namespaces, a fresh uid with fresh keyrings; and what the clean template
costs (each child is forked by a process that never held student data, reached over a socket).
(Moving the template into the next submission's cgroups happens while the worker waits for the next
job; that is reported apart.) Usage:

    python benchmarks/grading.py [--assignment optimizers] [-k 40] [--workers 2]
    python benchmarks/grading.py --fake   # the tests' small fake assignment (works before solutions exist)
    python benchmarks/grading.py --isolation-only [-k 40]   # just the isolation overhead
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from target import CORPUS, REPO, grading_target  # benchmarks run as scripts: their own folder is on sys.path


def _env() -> dict[str, str]:
    """Environment for the subprocesses: our venv first on PATH, the repo and the fake course importable."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": f"{REPO}{os.pathsep}{CORPUS}", "OMP_NUM_THREADS": "1"}


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


def _nbgrader(course: Path, assignment: str, notebook: str, source: dict, subs: list[tuple[str, dict]]) -> dict:
    """Grade with `nbgrader autograde` in a fresh course folder; return student -> total."""
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\nc.ExecutePreprocessor.timeout = 60\n")
    (course / "source" / assignment).mkdir(parents=True)
    (course / "source" / assignment / notebook).write_text(json.dumps(source))
    subprocess.run(["nbgrader", "generate_assignment", assignment, "--force"], cwd=course, env=_env(),
                   check=True, capture_output=True)
    for student, nb in subs:
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / notebook).write_text(json.dumps(nb))
    subprocess.run(["nbgrader", "autograde", assignment, "--create"], cwd=course, env=_env(), check=True,
                   capture_output=True)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        return {s: gb.find_submission(assignment, s).score for s, _ in subs}


def isolation_overhead(checks: str, assignment: str, k: int) -> dict[str, float]:
    """Median milliseconds over k one-cell submissions on one sandboxed worker: isolation parts and the job."""
    import statistics

    from autograder.grading.core import sandbox
    from autograder.grading.runner.wire import Job, Limits, RunCell

    parts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        exchange = Path(tmp) / "exchange-0"
        worker = sandbox.start_worker(0, checks, assignment, exchange, sandbox.bwrap_usable(), Path(tmp) / "log")
        try:
            for i in range(k):
                (exchange / f"job-{i}").mkdir()
                job = Job(f"job-{i}", (RunCell("c", "x = 1", True),), (), Limits(10.0, 512, 4096))
                reply = worker.request(job, wait=60)
                measured = {**reply.isolation_parts, "isolation": reply.isolation_seconds,
                            "job": reply.seconds, "cgroups": float(reply.cgroups)}
                for name, seconds in measured.items():
                    parts.setdefault(name, []).append(seconds * 1000)
        except sandbox.WorkerDied:
            print((Path(tmp) / "log").read_text()[-4000:], file=sys.stderr)  # why the worker stopped
            raise
        finally:
            worker.stop()
    return {name: statistics.median(values) for name, values in parts.items()}


def main() -> int:
    """Run both graders and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="optimizers")
    parser.add_argument("--fake", action="store_true", help="use the tests' fake assignment")
    parser.add_argument("-k", type=int, default=40, help="number of submissions (default 40)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--isolation-only", action="store_true", help="only measure the isolation overhead")
    args = parser.parse_args()
    assignment, notebook, checks, source = grading_target(args.fake, args.assignment)
    cost = isolation_overhead(checks, assignment, args.k)
    print(f"isolation overhead per submission: {cost['isolation']:.1f} ms (median of {args.k}: limits "
          f"{cost['limit']:.1f} ms, namespaces/uid/keyrings in the child {cost['enter']:.1f} ms, kill and remove "
          f"{cost['destroy']:.1f} ms; cgroups: {'yes' if cost['cgroups'] else 'NO, rlimits only'}); plus "
          f"{cost['background']:.1f} ms of cgroup moves while the worker waits; a whole one-cell submission "
          f"takes {cost['job']:.1f} ms")
    print(f"clean template: forking each child from the template (not the worker) takes {cost['spawn']:.1f} ms "
          f"per submission (descriptor and pipes over a socket, fork, the child's pid back; median of {args.k})")
    if args.isolation_only:
        return 0
    subs = _submissions(source, args.k)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "source.ipynb").write_text(json.dumps(source))
        for student, nb in subs:
            (tmp_path / "subs" / student / assignment).mkdir(parents=True)
            (tmp_path / "subs" / student / assignment / notebook).write_text(json.dumps(nb))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "subs"), "--assignment",
                        assignment, "--out", str(tmp_path / "out"), "--workers", str(args.workers), "--checks",
                        checks, "--source", str(tmp_path / "source.ipynb")], env=_env(), check=True)
        ours_s = time.perf_counter() - started
        ours = {}
        for path in (tmp_path / "out" / "results").glob("*.json"):
            result = json.loads(path.read_text())
            ours[result["student_id"]] = sum(row["score"] for row in result["rows"])
        started = time.perf_counter()
        theirs = _nbgrader(tmp_path / "course", assignment, notebook, source, subs)
        nbgrader_s = time.perf_counter() - started
    mismatched = {s: (ours.get(s), theirs[s]) for s in theirs if abs((ours.get(s) or 0) - theirs[s]) > 1e-6}
    print(f"{args.k} notebooks of '{assignment}': autograder {ours_s / args.k:.3f} s/notebook "
          f"({args.workers} workers, sandboxed, incl. start-up), nbgrader autograde {nbgrader_s / args.k:.3f} "
          f"s/notebook; speed-up {nbgrader_s / ours_s:.1f}x; totals agree: {not mismatched}")
    if mismatched:
        print(f"MISMATCH (ours, nbgrader): {mismatched}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
