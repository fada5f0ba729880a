"""Grade the capstone loops of tests/capstone_loops.py over seeds, in this process (one SIMD level)."""

from __future__ import annotations

from typing import Any

import torch

from autograder import simd
from autograder.checks import get_assignment
from autograder.checks.exploding import POINTS_TARGET, target_ratio
from autograder.checks.exploding_task import STEP_BUDGET
from tests.capstone_loops import HONEST, UNTAMED

#: The SIMD levels this CPU runs: forced on a CPU without its instructions, a level dies of SIGILL (autograder.simd).
RUNNABLE = simd.supported(simd.cpu_flags())


def seeds(n: int) -> list[int]:
    """Seed 0 (the visible case) and the first n-1 hidden seeds the question draws."""
    question = get_assignment("exploding").question("train_loop")
    found = [0]
    k = 0
    while len(found) < n:
        case = question.make_cases(torch.Generator().manual_seed(k), True)[-1]
        k += 1
        if case["seed"] not in found:
            found.append(int(case["seed"]))
    return found


def sweep_level(n: int) -> dict[str, Any]:
    """Grade every loop on n seeds: counts, the worst honest loss ratio, untamed loops that kept the target."""
    question = get_assignment("exploding").question("train_loop")
    full = runs = 0
    worst: tuple[float, str, int] = (0.0, "", -1)
    failures: list[str] = []
    untamed_kept: list[str] = []
    for seed in seeds(n):
        case = {"label": f"seed {seed}", "seed": seed, "steps": STEP_BUDGET}
        for name, loop in HONEST.items():
            out = question.call({"train": loop}, case)
            outcome = question.judge([case], [out])
            runs += 1
            full += outcome.score == outcome.max_score
            if outcome.score != outcome.max_score:
                failures.append(f"{name}, seed {seed}: {outcome.text()}")
            worst = max(worst, (target_ratio(case, out), name, seed))
        for name, loop in UNTAMED.items():
            out = question.call({"train": loop}, case)
            if question.judge([case], [out]).score >= POINTS_TARGET:
                untamed_kept.append(f"{name}, seed {seed}")
    return {"capability": torch.backends.cpu.get_cpu_capability(), "runs": runs, "full": full,
            "worst": worst[0], "worst_loop": worst[1], "worst_seed": worst[2], "failures": failures[:5],
            "untamed_kept": untamed_kept}
