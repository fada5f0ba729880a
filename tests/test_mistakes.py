"""Each known wrong variant is a tested kernel: it differs from the reference on the check's own (visible)
inputs, and the judge names it when given the kernel's own outputs.

That second part is circular (a kernel that stops matching the bug it names still passes it): that the
kernels ARE the bugs is tested by the hand-written students in test_mistake_names_*.py."""

from __future__ import annotations

import pytest
import torch

from autograder import reference
from autograder.checks import backprop, clipping, optimizers
from autograder.checks.builder import CheckSpec, Mistake, build
from autograder.checks.compare import Tolerance, compare
from autograder.checks.mistakes import backprop as bp_wrong
from autograder.checks.mistakes import optimizers as opt_wrong

SPECS = [*optimizers.SPECS, *clipping.SPECS, *backprop.SPECS]
PAIRS = [(s, m) for s in SPECS for m in s.mistakes]


def _cases(spec: CheckSpec) -> list[dict]:
    return build(spec).make_cases(torch.Generator().manual_seed(5), True)


def _mistake_outputs(mistake: Mistake, case: dict, want: dict) -> dict:
    """What a student with this mistake returns: the mistake's outputs, the reference elsewhere."""
    wrong = mistake.kernel(case)  # overflow mistakes: the naive exp-based kernel
    return {**want, **(wrong or {})}


@pytest.mark.parametrize("spec, mistake", PAIRS, ids=[f"{s.grade_id}:{m.name}" for s, m in PAIRS])
def test_mistake_differs_and_is_named(spec: CheckSpec, mistake: Mistake) -> None:
    cases = _cases(spec)
    wants = [spec.expect(c) for c in cases]
    outputs = [_mistake_outputs(mistake, c, w) for c, w in zip(cases, wants, strict=True)]
    tol = Tolerance(1e-8, 1e-11)
    differs = [any(not compare(o.get(k), w[k], tol).ok for k in w) for o, w in zip(outputs, wants, strict=True)]
    assert any(differs), f"{mistake.name} never differs from the reference on {spec.grade_id}'s cases"
    visible = len(build(spec).make_cases(torch.Generator().manual_seed(5), False))
    assert any(differs[:visible]), f"the visible cases of {spec.grade_id} do not separate {mistake.name}"
    outcome = build(spec).judge(cases, outputs)
    assert outcome.score < spec.points
    assert mistake.name in outcome.text(), outcome.text()


@pytest.mark.parametrize("name, hyper", [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("adam", {"lr": 0.1, "betas": (0.8, 0.9), "amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.1, "amsgrad": True}),
    ("adamw", {}),
])
def test_hand_written_optimizers_equal_torch(name: str, hyper: dict) -> None:
    gen = torch.Generator().manual_seed(3)
    p0 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    grads = torch.randn(9, 4, 3, generator=gen, dtype=torch.float64) * torch.logspace(-8, 1, 9, dtype=torch.float64
                                                                                      ).view(-1, 1, 1)
    mine = optimizers.KERNELS[name](p0, list(grads), **hyper)
    torch.testing.assert_close(mine, reference.optimizer_trajectory(name, p0, list(grads), **hyper),
                               rtol=1e-12, atol=1e-14)


def test_hand_written_mlp_and_rnn_equal_autograd() -> None:
    gen = torch.Generator().manual_seed(4)
    params = {"W1": torch.randn(3, 5, generator=gen, dtype=torch.float64), "b1": torch.randn(5, generator=gen,
              dtype=torch.float64), "W2": torch.randn(5, 2, generator=gen, dtype=torch.float64),
              "b2": torch.randn(2, generator=gen, dtype=torch.float64)}
    x, y = torch.randn(6, 3, generator=gen, dtype=torch.float64), torch.randint(0, 2, (6,), generator=gen)
    for act in ("relu", "tanh", "sigmoid"):
        mine = bp_wrong.mlp(params, x, y, act)
        loss, grads = reference.mlp_loss_and_grads(params, x, y, act)
        torch.testing.assert_close(mine, {"loss": loss, **grads})


def test_unknown_mistake_name_is_refused() -> None:
    with pytest.raises(ValueError, match="mistake"):
        opt_wrong.sgd(torch.zeros(2), [torch.zeros(2)], lr=0.1, mistake="typo")
