"""Start `python -m autograder serve` on a free loopback port (the tests' fake course) and talk to it over HTTP."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"
CHECKS = "fakecourse.checks:get_assignment"


def free_port() -> int:
    """A port nothing listens on now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A service process, its base URL and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, how: int = signal.SIGTERM, wait: float = 60) -> int:
        """Send `how` and wait for the process to end; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(how)
        return self.process.wait(wait)


def env() -> dict[str, str]:
    """The environment a service (or a tokens command) runs with: this checkout and the fake course importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(CORPUS)])}


def start(root: Path, db: Path, source: Path, *extra: str, wait: float = 180, assignment: str = "fake",
          checks: str = CHECKS) -> Running:
    """Start the service for one assignment (the fake one) and wait until /healthz answers (or fail with its log)."""
    port = free_port()
    log = root / f"serve-{port}.log"
    command = [sys.executable, "-m", "autograder", "serve", "--db", str(db), "--assignment", assignment, "--checks",
               checks, "--source", str(source), "--port", str(port), *extra]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env(), cwd=root)
    running = Running(process, f"http://127.0.0.1:{port}/", log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(running.url + "healthz", timeout=5) as reply:
                if reply.status == 200:
                    return running
        except OSError:
            time.sleep(0.2)
    running.stop(signal.SIGKILL)
    raise AssertionError(f"the service did not answer within {wait} s: {log.read_text()[-2000:]}")


def issue_tokens(root: Path, db: Path, students: list[str], instructors: tuple[str, ...] = ("prof",)) -> dict[str, str]:
    """Run `python -m autograder tokens` for these students; id -> token (from the CSV it writes)."""
    roster, out = root / "roster.txt", root / "tokens.csv"
    roster.write_text("\n".join(students) + "\n")
    command = [sys.executable, "-m", "autograder", "tokens", "--roster", str(roster), "--out", str(out),
               "--db", str(db), *[a for name in instructors for a in ("--instructor", name)]]
    subprocess.run(command, check=True, env=env(), cwd=root, capture_output=True)
    with open(out) as f:
        return {row["student_id"]: row["token"] for row in csv.DictReader(f)}


def request(url: str, token: str | None = None, body: bytes | None = None, timeout: float = 120,
            headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, lower-case headers) of a GET (or a POST when `body` is given), whatever the status."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET", headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, reply.read(), {k.lower(): v for k, v in reply.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


def submit(url: str, token: str | None, notebook: bytes, assignment: str = "fake") -> tuple[int, dict[str, Any]]:
    """POST a notebook; (status, JSON reply)."""
    status, body, _ = request(f"{url}api/submit/{assignment}", token, notebook)
    return status, json.loads(body)


def wait_idle(url: str, timeout: float = 240) -> dict[str, Any]:
    """Wait until every stored submission has its result; the final /healthz."""
    deadline = time.monotonic() + timeout
    while True:
        health = json.loads(request(url + "healthz")[1])
        if health["submissions"] == health["results"] and health["queued"] == 0:
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"still grading after {timeout} s: {health}")
        time.sleep(0.2)
