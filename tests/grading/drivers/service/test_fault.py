"""Fault test: SIGKILL `autograder serve` in the middle of a load, start it again: every accepted submission
ends with exactly one result, the right one, no grading worker outlives the service, and no reply the students
got is contradicted. About 60 s on the loaded 2-core machine (two service starts)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from autograder.grading.drivers.service.db import Store, url_for
from autograder.grading.drivers.service.server import scratch_path
from tests.sandbox_required import sandbox_marks
from tests.serve_helpers import CORPUS, issue_tokens, start, submit, wait_idle

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

pytestmark = sandbox_marks("the grading service's fault test")

STUDENTS = [f"s{i:02d}" for i in range(10)]
HONEST = json.dumps(notebooks.submission()).encode()
BROKEN = json.dumps(notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"})).encode()
EXPECTED = {hashlib.sha256(HONEST).hexdigest(): 5.0, hashlib.sha256(BROKEN).hexdigest(): 4.0}


def _read(path: Path) -> bytes:
    """A /proc file's bytes (b'' for a process that is gone)."""
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_sigkill_mid_load_loses_nothing_and_grades_nothing_twice(tmp_path: Path) -> None:
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    db = tmp_path / "serve.db"
    tokens = issue_tokens(tmp_path, db, STUDENTS)
    service = start(tmp_path, db, source, "--workers", "2")
    replies: list[tuple[int, dict[str, Any]]] = []
    answered = threading.Event()

    def student(name: str) -> None:
        for round_ in range(3):
            try:
                reply = submit(service.url, tokens[name], HONEST if round_ % 2 else BROKEN)
            except OSError:  # the service died under this request: it may or may not have been stored
                return
            replies.append(reply)
            if len(replies) >= 6:
                answered.set()

    with concurrent.futures.ThreadPoolExecutor(len(STUDENTS)) as pool:
        for name in STUDENTS:
            pool.submit(student, name)
        assert answered.wait(180), service.log.read_text()[-2000:]
        service.stop(signal.SIGKILL)
    assert service.process.returncode == -signal.SIGKILL
    folder = str(scratch_path(url_for(str(db))))
    time.sleep(1)
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if folder.encode() in _read(p)]  # no orphan worker
    assert not Path(folder).exists()  # the hidden inputs went with the service, killed outright
    store = Store(url_for(str(db)))
    before = store.counts()
    for name in STUDENTS[:2]:  # accepted just before the kill, not yet graded: deterministic leftovers
        store.add(name, "fake", HONEST, hashlib.sha256(HONEST).hexdigest(), False, time.time())
    left = store.ungraded()
    store.close()
    assert len(left) >= 2 and before["results"] >= 6

    again = start(tmp_path, db, source, "--workers", "2")
    try:
        health = wait_idle(again.url)
    finally:
        again.stop()
    assert f"{len(left)} submission(s) from before queued for grading" in again.log.read_text()
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT s.id, s.sha256, r.total, (SELECT count(*) FROM results x WHERE "
                                  "x.submission_id = s.id) FROM submissions s JOIN results r ON r.submission_id = s.id"
                                  ).fetchall()
        submissions = connection.execute("SELECT count(*) FROM submissions").fetchone()[0]
    assert health["submissions"] == submissions == len(rows) == health["results"]  # each has a result
    assert all(count == 1 for *_, count in rows)  # none twice
    assert all(total == EXPECTED[sha] for _, sha, total, _ in rows)  # the right grade, recovered ones included
    told = {reply["submission"]: reply["score"] for status, reply in replies if status == 200}
    assert all(told[number] == total for number, _, total, _ in rows if number in told)
