"""Run a benchmark script once per CPU SIMD level torch can select, each in a child process of its own.

A level is chosen when torch loads (ATEN_CPU_CAPABILITY), so every level needs a fresh interpreter: the script
calls `per_level` in the parent, and in the child (`in_child()`) prints one JSON report as its last line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.capstone_sweep import RUNNABLE as LEVELS  # noqa: E402 - the levels this CPU runs, as the suite's sweep

FLAG = "_SIMD_LEVEL_CHILD"


def in_child() -> bool:
    """True inside the child process of one level."""
    return bool(os.environ.get(FLAG))


def per_level(script: str, args: list[str]) -> dict[str, dict[str, Any]]:
    """{level: the JSON report the child of `script` printed last}, one single-threaded child per level."""
    reports = {}
    for level in LEVELS:
        env = {**os.environ, "ATEN_CPU_CAPABILITY": level, FLAG: "1", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, script, *args], env=env, capture_output=True, text=True, check=True)
        reports[level] = json.loads(done.stdout.strip().splitlines()[-1])
    return reports
