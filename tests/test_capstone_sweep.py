"""Same notebook, same grade on every CPU: the capstone's honest loops earn full marks at every SIMD level.

Each level torch can select (ATEN_CPU_CAPABILITY=default/avx2/avx512) that this CPU runs grades every honest loop of
tests/capstone_loops.py on seed 0 and the first hidden seed in a child process, so torch's dispatch is chosen
fresh; the untamed loops must lose the target. The 50-seed sweep is benchmarks/capstone_sweep.py (it prints the
counts and the margin). Cost: about 20 s on the idle 2-core course machine, 50 s on a slower one: `slow`, so `make
check` leaves it to `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.simd import LEVELS, NEEDS, cpu_flags
from tests.capstone_sweep import RUNNABLE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 2


def _start(level: str) -> subprocess.Popen[str]:
    code = f"import json; from tests.capstone_sweep import sweep_level; print(json.dumps(sweep_level({SEEDS})))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": level, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    """One sweep per SIMD level, run side by side."""
    children = {level: _start(level) for level in RUNNABLE}
    found = {}
    for level, child in children.items():
        out, err = child.communicate(timeout=900)
        assert child.returncode == 0, err[-3000:]
        found[level] = json.loads(out.strip().splitlines()[-1])
    return found


def _report(reports: dict[str, dict], level: str) -> dict:
    """The level's sweep, or a skip where this CPU lacks its instructions (forced there, torch dies of SIGILL)."""
    if level not in RUNNABLE:
        lacks = ", ".join(sorted(NEEDS[level] - (cpu_flags() or frozenset())))
        pytest.skip(f"this CPU cannot run torch's {level} kernels (it lacks {lacks})")
    return reports[level]


@pytest.mark.parametrize("level", LEVELS)
def test_every_honest_loop_earns_full_marks(reports: dict[str, dict], level: str) -> None:
    report = _report(reports, level)
    assert report["runs"] > 0 and report["full"] == report["runs"], report["failures"]


@pytest.mark.parametrize("level", LEVELS)
def test_untamed_loops_lose_the_target(reports: dict[str, dict], level: str) -> None:
    assert _report(reports, level)["untamed_kept"] == []


def test_the_levels_really_differ() -> None:
    """The sweep means something only if the child processes run different kernels where the CPU has them."""
    found = set()
    for level in RUNNABLE:
        done = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                              env={**os.environ, "ATEN_CPU_CAPABILITY": level}, capture_output=True, text=True,
                              check=True)
        found.add(done.stdout.strip())
    assert "DEFAULT" in found and len(found) == len(RUNNABLE), found  # each level its own kernels
