"""Live processes seen from /proc, for tests that check what a grader leaves running."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

#: In every worker's command line, sandboxed (bwrap's argv names it) or bare.
WORKER_MODULE = "autograder.grading.runner.worker"


def mentioning(marker: str) -> set[int]:
    """Pids of live processes (not this one) whose command line contains `marker`."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(entry.name) != os.getpid() and \
                    marker.encode() in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def mentioned_soon(marker: str, within: float = 5.0) -> set[int]:
    """mentioning(marker), waiting up to `within` seconds for a first pid: a process just started may not show its
    command line yet (exec closes the parent's error pipe, which ends Popen, before it sets the arguments' place)."""
    deadline = time.monotonic() + within
    while not (found := mentioning(marker)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def dead_pid() -> int:
    """A pid with no process (a child that has been reaped): a grader that is gone."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
