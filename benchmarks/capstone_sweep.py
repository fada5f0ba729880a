"""Sweep the capstone's honest training loops over student seeds and torch's CPU SIMD levels; print the counts.

    .venv/bin/python benchmarks/capstone_sweep.py [--seeds 50]

Each SIMD level (ATEN_CPU_CAPABILITY=default/avx2/avx512, those this CPU supports) runs in its own child process,
grading every loop of tests/capstone_loops.py through the checks' own contract (make_cases -> call -> judge) on
seed 0 and the first N-1 hidden seeds. It prints, per level, how many (loop, seed) pairs earned full marks and the
worst honest loss ratio (final / starting loss, measured by the grader) against the target
LOSS_FACTOR: the margin the capstone's target is chosen with.
"""

from __future__ import annotations

import argparse
import json

from simd_levels import in_child, per_level  # benchmarks run as scripts: their own folder is on sys.path

from tests.capstone_sweep import sweep_level


def main() -> None:
    """Run the sweep at every SIMD level in child processes and print one summary line per level."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="student seeds per loop (seed 0 + hidden draws)")
    args = parser.parse_args()
    if in_child():
        print(json.dumps(sweep_level(args.seeds)))
        return
    from autograder.checks.exploding_task import LOSS_FACTOR

    for level, report in per_level(__file__, ["--seeds", str(args.seeds)]).items():
        print(f"{level:>7} (torch runs {report['capability']}): honest full marks {report['full']}/{report['runs']}, "
              f"worst honest ratio {report['worst']:.3f} ({report['worst_loop']}, seed {report['worst_seed']}) "
              f"vs target {LOSS_FACTOR}: margin {LOSS_FACTOR / report['worst']:.2f}x; untamed loops that kept the "
              f"target: {report['untamed_kept']}")


if __name__ == "__main__":
    main()
