"""A grade is a function of the notebook and the course key: the inputs drawn for it are the same at every SIMD level.

torch picks AVX-512, AVX2 or plain kernels (ATEN_CPU_CAPABILITY) when it loads; each level this CPU runs draws
every question's cases (visible and hidden, for many student seeds) and the capstone's task and model in a child
process of its own, and the bytes must agree. Kernels whose rounding depends on the level (float32 randn,
uniform_(a, b), vector_norm) must not decide an input. Cost: about 10 s on the idle 2-core course machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capstone_sweep import RUNNABLE

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 40

_CHILD = f"""
import hashlib, json
import torch
from autograder.checks import ASSIGNMENTS, exploding_task
from autograder.grading.core.judging import draw_cases

def feed(h, value):
    if isinstance(value, torch.Tensor):
        h.update(str(value.dtype).encode() + str(tuple(value.shape)).encode())
        h.update(value.detach().contiguous().numpy().tobytes())
    elif isinstance(value, dict):
        for k in sorted(value):
            h.update(repr(k).encode())
            feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for v in value:
            feed(h, v)
        h.update(b"]")
    else:
        h.update(repr(value).encode())

found = {{}}
for assignment in ASSIGNMENTS.values():
    hashes = {{q.grade_id: hashlib.sha256() for q in assignment.questions}}
    for seed in range({SEEDS}):
        for grade_id, cases in draw_cases(assignment, seed).items():
            feed(hashes[grade_id], cases)
            for case in cases:
                if "seed" in case:  # the capstone: the task and the fresh model it trains
                    feed(hashes[grade_id], exploding_task.make_task(case["seed"]))
                    feed(hashes[grade_id], list(exploding_task.make_model(case["seed"]).state_dict().values()))
    found.update({{f"{{assignment.id}}/{{k}}": h.hexdigest() for k, h in hashes.items()}})
print(json.dumps({{"capability": torch.backends.cpu.get_cpu_capability(), "hashes": found}}))
"""


@pytest.fixture(scope="module")
def draws() -> dict[str, dict]:
    """Each level's hashes of every question's drawn inputs, computed side by side."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    children = {level: subprocess.Popen([sys.executable, "-c", _CHILD], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env={**env, "ATEN_CPU_CAPABILITY": level})
                for level in RUNNABLE}
    found = {}
    for level, child in children.items():
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-3000:]
        found[level] = json.loads(out.strip().splitlines()[-1])
    return found


def test_levels_ran_different_kernels(draws: dict[str, dict]) -> None:
    """The comparison means something only if the plain kernels and every vector level this CPU has ran."""
    capabilities = {report["capability"] for report in draws.values()}
    assert "DEFAULT" in capabilities and len(capabilities) == len(RUNNABLE), capabilities


def test_every_question_draws_the_same_inputs_at_every_level(draws: dict[str, dict]) -> None:
    reference = draws[RUNNABLE[0]]["hashes"]
    differing = {level: sorted(q for q, h in report["hashes"].items() if reference.get(q) != h)
                 for level, report in draws.items()}
    assert all(not qs for qs in differing.values()), f"inputs differ from {RUNNABLE[0]}'s: {differing}"
