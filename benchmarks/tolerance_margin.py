"""How close the course's own solutions come to each check's tolerance, per question and CPU SIMD level.

    .venv/bin/python benchmarks/tolerance_margin.py [--seeds 20]

A correct answer whose error used most of the tolerance could flip to "wrong" on another CPU (torch picks
AVX-512, AVX2 or plain kernels, with different rounding). For every question of backprop, optimizers and clipping
this grades the solution notebook's functions on the visible cases and N hidden draws, at each SIMD level in its
own child process, and prints the worst share of the tolerance used, err / (atol + rtol * |want|): the margin is
its inverse. The capstone is a training run: benchmarks/capstone_sweep.py measures its margin.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from simd_levels import LEVELS, in_child, per_level  # benchmarks run as scripts: their own folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent


def _namespace(aid: str) -> dict[str, Any]:
    """The solution notebook's solution cells, run as a student's notebook would run them."""
    import torch

    namespace: dict[str, Any] = {"torch": torch, "device": torch.device("cpu")}
    nb = json.loads((ROOT / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution") and "plt" not in "".join(cell["source"]):
            exec("".join(cell["source"]), namespace)
    return namespace


def _used(got: Any, want: Any, tol: Any) -> float:
    """The largest err / (atol + rtol * |want|) over the finite entries (0 for labels)."""
    import torch

    from autograder.checks.compare import as_float64

    g, w = as_float64(got), as_float64(want)
    if g is None or w is None or g.shape != w.shape or g.numel() == 0:
        return 0.0
    finite = torch.isfinite(w) & torch.isfinite(g)
    if not bool(finite.any()):
        return 0.0
    err = (g - w).abs()[finite]
    return float((err / (tol.atol + tol.rtol * w.abs()[finite])).max())


def level_report(seeds: int) -> dict[str, Any]:
    """Worst tolerance share per question in this process."""
    import torch

    from autograder.checks import backprop, clipping, optimizers
    from autograder.checks.builder import build
    from autograder.checks.spec import ERROR_KEY

    worst: dict[str, float] = {}
    for aid, module in (("backprop", backprop), ("optimizers", optimizers), ("clipping", clipping)):
        namespace = _namespace(aid)
        for spec in module.SPECS:
            question = build(spec)
            cases = spec.visible() + [c for k in range(seeds) for c in spec.hidden(torch.Generator().manual_seed(k))]
            share = 0.0
            for case in cases:
                out, want = question.call(namespace, case), spec.expect(case)
                if ERROR_KEY in out:
                    raise SystemExit(f"{aid}/{spec.grade_id}: the solution failed: {out[ERROR_KEY]}")
                share = max([share] + [_used(out.get(k), v, spec.tolerance(case)) for k, v in want.items()])
            worst[f"{aid}/{spec.grade_id}"] = share
    return {"capability": torch.backends.cpu.get_cpu_capability(), "worst": worst}


def main() -> None:
    """One child process per SIMD level; print each question's worst share and the smallest margin."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="hidden draws per question")
    args = parser.parse_args()
    if in_child():
        print(json.dumps(level_report(args.seeds)))
        return
    reports = per_level(__file__, ["--seeds", str(args.seeds)])
    for question in reports[LEVELS[0]]["worst"]:
        shares = {level: reports[level]["worst"][question] for level in LEVELS}
        print(f"{question:45s} " + "  ".join(f"{lv} {v:.2e}" for lv, v in shares.items())
              + f"  margin {1 / max(max(shares.values()), 1e-300):.3g}x")
    print("levels run: " + ", ".join(f"{lv} -> {r['capability']}" for lv, r in reports.items()))


if __name__ == "__main__":
    main()
