"""Benchmark: `autograder serve` on loopback with N workers, driven by concurrent students at a steady rate.

Starts the service (its own database in a temporary folder), issues tokens to S students, then sends
K submissions at R per second, each from a random student in its own thread (several in flight at once):
honest notebooks, notebooks with one answer broken, and a few that are not notebooks at all (truncated
JSON, answered 422). It prints p50/p95/max seconds from the start of the upload to the result in the
reply, throughput, errors (any other status, or no reply), lost submissions (a reply promised a
submission the database lacks, or that has no result) and duplicated results, then grades every
student's last submission with the batch grader (`autograder grade`, same key) and counts the students
whose rows agree. Usage:

    python benchmarks/serve.py [--assignment optimizers] [--students 50] [-k 300] [--rate 1] [--workers 2]
    python benchmarks/serve.py --fake -k 60   # the tests' small fake assignment

Targets on a 2-core machine at 1 submission per second: p50 <= 1.5 s, p95 <= 4 s, nothing lost or
duplicated, every compared student identical to the batch.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from target import REPO, grading_target  # benchmarks run as scripts: their own folder is on sys.path

sys.path.insert(0, str(REPO))
from tests.serve_helpers import issue_tokens, request, start, submit


def variants(source: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(kind, notebook bytes): the honest notebook, one per answer cell with that answer broken, and one truncated."""
    answers = [c for c in source["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    made = [("honest", json.dumps(source).encode())]
    for cell in answers:
        nb = copy.deepcopy(source)
        target = cell["metadata"]["nbgrader"]["grade_id"]
        for other in nb["cells"]:
            if other["metadata"].get("nbgrader", {}).get("grade_id") == target:
                names = [line.split("(")[0][4:] for line in "".join(other["source"]).splitlines()
                         if line.startswith("def ")]
                other["source"] = "".join(f"def {n}(*args, **kwargs):\n    return None\n" for n in names)
        made.append(("broken", json.dumps(nb).encode()))
    made.append(("not a notebook", made[0][1][:300]))
    return made


def drive(url: str, tokens: dict[str, str], notebooks: list[tuple[str, bytes]], count: int, rate: float,
          seed: int, assignment: str) -> list[dict[str, Any]]:
    """Send `count` submissions at `rate` per second from random students; one record per submission."""
    rng = random.Random(seed)
    students = sorted(tokens)
    plan = []
    for _ in range(count):
        kind, data = notebooks[0] if rng.random() < 0.5 else rng.choice(notebooks[1:])
        if kind == "not a notebook" and rng.random() < 0.7:  # keep refusals rare (about 1 in 30)
            kind, data = notebooks[0]
        plan.append((rng.choice(students), kind, data))
    records: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(student: str, kind: str, data: bytes) -> None:
        began = time.perf_counter()
        try:
            status, reply = submit(url, tokens[student], data, assignment=assignment)
        except OSError as exc:
            status, reply = 0, {"error": str(exc)}
        with lock:
            records.append({"student": student, "kind": kind, "status": status, "reply": reply,
                            "seconds": time.perf_counter() - began, "sent": began})

    threads = []
    start_time = time.perf_counter()
    for i, (student, kind, data) in enumerate(plan):
        delay = start_time + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one, args=(student, kind, data))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return records


def warm_up(url: str, assignment: str, workers: int, timeout: float = 300) -> None:
    """Wait until the service's workers have started (they warm up in the background after any start)."""
    deadline = time.monotonic() + timeout
    while json.loads(request(url + "healthz")[1])["warm_workers"][assignment] < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start within {timeout:.0f} s")
        time.sleep(0.5)


def main() -> int:
    """Run the load and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="optimizers")
    parser.add_argument("--fake", action="store_true", help="use the tests' fake assignment")
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("-k", type=int, default=300, help="submissions to send (default 300)")
    parser.add_argument("--rate", type=float, default=1.0, help="submissions per second (default 1)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    assignment, notebook, checks, source = grading_target(args.fake, args.assignment)
    notebooks = variants(source)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        root = Path(tmp)
        source_file = root / notebook
        source_file.write_text(json.dumps(source))
        db = root / "serve.db"
        tokens = issue_tokens(root, db, [f"student{i:03d}" for i in range(args.students)], instructors=())
        policy = root / "policy.toml"
        policy.write_text("[defaults]\nrate_per_hour = 0\n")  # the benchmark's students submit as fast as drawn
        service = start(root, db, source_file, "--workers", str(args.workers), "--policy", str(policy),
                        assignment=assignment, checks=checks)
        warm_up(service.url, assignment, args.workers)
        began = time.perf_counter()
        try:
            records = drive(service.url, tokens, notebooks, args.k, args.rate, args.seed, assignment)
            elapsed = time.perf_counter() - began
        finally:
            service.stop()
        report(records, elapsed, db, args, assignment)
        agree(records, root, source_file, checks, notebook, assignment)
    return 0


def report(records: list[dict[str, Any]], elapsed: float, db: Path, args: argparse.Namespace, assignment: str
           ) -> None:
    """Latency, throughput, errors, lost and duplicated."""
    graded = [r for r in records if r["status"] == 200 or (r["status"] == 422 and r["kind"] == "not a notebook")]
    errors = [r for r in records if r not in graded]
    seconds = sorted(r["seconds"] for r in graded)
    with sqlite3.connect(db) as connection:
        results = dict(connection.execute("SELECT submission_id, count(*) FROM results GROUP BY submission_id"))
        stored = {row[0] for row in connection.execute("SELECT id FROM submissions")}
    promised = {r["reply"]["submission"] for r in records if "submission" in r["reply"]}
    lost = sorted(n for n in promised if n not in stored or n not in results)
    duplicated = sorted(n for n, count in results.items() if count > 1)
    p = statistics.quantiles(seconds, n=100) if len(seconds) > 1 else seconds * 99
    print(f"{len(records)} submissions from {args.students} students at {args.rate:g}/s, {args.workers} workers, "
          f"assignment {assignment}: {len(graded)} answered with their result "
          f"({sum(r['kind'] == 'broken' for r in graded)} broken, "
          f"{sum(r['kind'] == 'not a notebook' for r in graded)} not notebooks: 422)")
    print(f"upload -> result: p50 {p[49]:.2f} s, p95 {p[94]:.2f} s, max {seconds[-1]:.2f} s "
          f"(targets: p50 <= 1.5 s, p95 <= 4 s)")
    print(f"throughput {len(graded) / elapsed:.2f} submissions/s over {elapsed:.0f} s; errors {len(errors)}"
          + (f" (e.g. {errors[0]['status']}: {str(errors[0]['reply'])[:120]})" if errors else ""))
    print(f"lost {len(lost)}, duplicated {len(duplicated)} (stored {len(stored)}, results {sum(results.values())})")


def agree(records: list[dict[str, Any]], root: Path, source: Path, checks: str, notebook: str, assignment: str
          ) -> None:
    """Grade every student's last answered submission with the batch grader; count identical rows."""
    from autograder.grading.drivers import pipeline

    last: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: r["sent"]):
        if "rows" in record["reply"]:
            last[record["student"]] = record
    subs = root / "batch-subs"
    with sqlite3.connect(root / "serve.db") as connection:
        for student, record in last.items():
            blob = connection.execute("SELECT notebook FROM submissions WHERE id = ?",
                                      (record["reply"]["submission"],)).fetchone()[0]
            folder = subs / student / assignment
            folder.mkdir(parents=True)
            (folder / notebook).write_bytes(blob)
    settings = pipeline.Settings(submissions=subs, assignment_id=assignment, out=root / "batch", workers=2,
                                 checks=checks, source=source)
    began = time.perf_counter()
    batch = pipeline.grade(settings, io.StringIO())
    seconds = time.perf_counter() - began
    from autograder.checks.messages import text

    # the reply words each row's message (English here: no Accept-Language); a batch row keeps it as a Message
    same = sum([(r.grade_id, r.score, r.status, text(r.message, None)) for r in batch[s].rows]
               == [(r["grade_id"], r["score"], r["status"], r["message"]) for r in record["reply"]["rows"]]
               for s, record in last.items())
    print(f"agreement with the batch grader: {same} of {len(last)} students' last submissions have identical rows; "
          f"the batch took {seconds / max(len(last), 1):.2f} s per notebook with 2 workers (same machine, just after; "
          "with its workers' start-up)")


if __name__ == "__main__":
    sys.exit(main())
