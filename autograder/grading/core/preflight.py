"""Before grading without bubblewrap: can the students' unprivileged uid run this Python at all?

As root, the bare fallback runs each submission under a uid of its own. A Python installed under a private
home (mode 0700, as pyenv does for root) is then unreadable to that uid, and every honest notebook would score
0 with "ModuleNotFoundError". The grader asks first, with the same uid switch, and refuses in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys

from autograder.grading.runner import isolation

#: What a child imports before any student code runs (the standard library, torch, the checks' numerics).
PROBE = "import cProfile, json, linecache, numpy, torch"


def unsandboxed_problem(python: str = sys.executable, probe: str = PROBE) -> str | None:
    """None when the fallback's unprivileged uid can start `python` and import what a child needs; else why."""
    if os.geteuid() != 0:
        return None  # no uid switch: the child runs as the grader does
    uid = isolation.FIRST_UID - 1  # outside every worker's pool, never a real user
    fix = ("install bubblewrap (apt-get install bubblewrap) or use a Python that other users can read "
           "(e.g. /usr/bin/python3 with its own virtual environment)")
    try:
        done = subprocess.run([python, "-I", "-c", probe], user=uid, group=uid, extra_groups=[], cwd="/",
                              env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"},
                              capture_output=True, text=True, timeout=300, check=False)
    except OSError as exc:
        return f"grading without a sandbox runs students as uid {uid}, which cannot start {python} " \
               f"({exc.strerror}); {fix}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["exit code " + str(done.returncode)])[-1]
        return f"grading without a sandbox runs students as uid {uid}, whose Python {python} fails ({last}); {fix}"
    return None
