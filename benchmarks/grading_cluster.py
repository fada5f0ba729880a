"""Benchmark: grading on a Dask cluster (`--scheduler`) against the local sandboxed workers, same notebooks.

Starts a local Dask cluster (single-threaded worker processes on 127.0.0.1) with 1 and then 2
workers, grades K submissions on each and locally with the same number of workers, checks that
every run gives every student the same total, and prints notebooks per second, the 2-worker
speed-up on the cluster (target >= 1.4x on the 2-core course machine) and the cluster's overhead
per submission against local grading (target <= 30%), all from this one run. Each timing is one
whole `grade` run as an instructor sees it, on a cluster that is already up: its first batch (printed
apart, as "cold") starts the sandboxed workers, which the Dask workers then keep warm for the next
batches, as a course's cluster does; every local run starts its own. Local and cluster runs alternate,
and the median of each kind counts (the fastest is printed too). Usage:

    python benchmarks/grading_cluster.py [--assignment optimizers] [-k 24]
    python benchmarks/grading_cluster.py --fake   # the tests' small fake assignment
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from target import CORPUS, REPO, grading_target  # benchmarks run as scripts: their own folder is on sys.path


def _cohort(source: dict[str, Any], k: int, root: Path, assignment: str, notebook: str) -> None:
    """K answered notebooks (the solutions) under root/subs; every third has one answer replaced by a stub."""
    answers = [c["metadata"]["nbgrader"]["grade_id"] for c in source["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for i in range(k):
        nb = copy.deepcopy(source)
        if i % 3 == 2 and answers:
            target = answers[(i // 3) % len(answers)]
            for cell in nb["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == target:
                    names = [line[4:].split("(")[0] for line in "".join(cell["source"]).splitlines()
                             if line.startswith("def ")]
                    cell["source"] = "".join(f"def {n}(*args, **kwargs):\n    return None\n" for n in names)
        folder = root / "subs" / f"student{i:03d}" / assignment
        folder.mkdir(parents=True)
        (folder / notebook).write_text(json.dumps(nb))


def _run(root: Path, out: str, assignment: str, checks: str, workers: int, scheduler: str | None
         ) -> tuple[float, dict[str, tuple[float, str]]]:
    """(seconds, student -> (total, statuses)) of one whole grading run, in this process."""
    from autograder.grading.drivers import pipeline
    from autograder.grading.runner.wire import Limits

    settings = pipeline.Settings(submissions=root / "subs", assignment_id=assignment, out=root / out,
                                 workers=workers, limits=Limits(), checks=checks, source=root / "source.ipynb",
                                 scheduler=scheduler)
    started = time.perf_counter()
    results = pipeline.grade(settings, stream=io.StringIO())
    return time.perf_counter() - started, {s: (r.total, " ".join(row.status for row in r.rows))
                                           for s, r in results.items()}


def _why(root: Path, run: str, student: str) -> str:
    """The first message of a student's first row in one run (to explain a mismatch)."""
    result = json.loads((root / run / "results" / f"{student}.json").read_text())
    return str(result["rows"][0]["message"])[:200]


def main() -> int:
    """Grade locally and on 1- and 2-worker clusters; print rates, speed-up and overhead."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="optimizers")
    parser.add_argument("--fake", action="store_true", help="use the tests' fake assignment")
    parser.add_argument("-k", type=int, default=24, help="number of submissions (default 24)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each kind; the fastest counts (default 2)")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(CORPUS)])  # the Dask workers import the same
    os.environ.setdefault("COURSE_GRADING_KEY", "benchmark-key-not-secret-0123456789")
    assignment, notebook, checks, source = grading_target(args.fake, args.assignment)
    from distributed import LocalCluster

    runs: dict[str, list[float]] = {}
    totals: dict[str, dict[str, tuple[float, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "source.ipynb").write_text(json.dumps(source))
        _cohort(source, args.k, root, assignment, notebook)
        for n in (1, 2):
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address="127.0.0.1:0", memory_limit=0) as cluster:
                load = f"{os.getloadavg()[0]:.2f}"
                seconds, totals[f"cold{n}"] = _run(root, f"cold{n}", assignment, checks, n, cluster.scheduler_address)
                runs[f"cold{n}"] = [seconds]
                print(f"  {n} Dask worker(s), first batch (the sandboxed workers start): {seconds:.2f} s (load {load})")
                for r in range(args.repeat):  # alternate: other load on the machine slows whichever runs then
                    for name, scheduler in ((f"local{n}", None), (f"dask{n}", cluster.scheduler_address)):
                        load = f"{os.getloadavg()[0]:.2f}"
                        seconds, totals[f"{name}-{r}"] = _run(root, f"{name}-{r}", assignment, checks, n,
                                                              scheduler)
                        runs.setdefault(name, []).append(seconds)
                        print(f"  {name} run {r + 1}: {seconds:.2f} s (load {load})")
        timings = {name: statistics.median(values) for name, values in runs.items()}
        first = totals["local1-0"]
        mismatches = [f"  MISMATCH {run} {student}: {got[student]} vs local1-0 {first.get(student)}: "
                      f"{_why(root, run, student)}"
                      for run, got in totals.items() for student in sorted(s for s in got if got[s] != first.get(s))]
    agree = not mismatches
    rate = {name: args.k / seconds for name, seconds in timings.items()}
    fastest = {name: args.k / min(values) for name, values in runs.items()}
    print(f"{args.k} notebooks of '{assignment}', notebooks per second (median of {args.repeat} whole runs, "
          "sandboxed; fastest in brackets):")
    for n in (1, 2):
        overhead = timings[f"dask{n}"] / timings[f"local{n}"] - 1
        print(f"  {n} worker(s): Dask cluster {rate[f'dask{n}']:.2f}/s ({fastest[f'dask{n}']:.2f}), local "
              f"{rate[f'local{n}']:.2f}/s ({fastest[f'local{n}']:.2f}); cluster overhead per submission "
              f"{100 * overhead:+.0f}% ({(timings[f'dask{n}'] - timings[f'local{n}']) / args.k * 1000:+.0f} ms; "
              "target <= +30%)")
    print(f"  cluster speed-up, 2 workers over 1, this run: {rate['dask2'] / rate['dask1']:.2f}x (target >= 1.4x); "
          f"first batches (sandboxes starting): {timings['cold1'] / timings['cold2']:.2f}x; "
          f"local: {rate['local2'] / rate['local1']:.2f}x")
    print(f"  every run gave every student the same total: {agree}")
    print("\n".join(mismatches[:20]))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
