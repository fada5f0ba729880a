"""The `exploding` history is checked against the grader's own pre-clip norms; copies and fakes earn nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

from autograder.checks import exploding_task as task
from autograder.checks import get_assignment
from autograder.checks.exploding import POINTS_HISTORY, POINTS_TARGET
from autograder.checks.spec import Outcome


def _loop(model, x, y, steps, log: Callable[[float, torch.Tensor, int], tuple[Any, Any] | None]):
    """Adam + global clipping at 1; `log(loss, pre-clip norm, step)` says what goes into the history."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history: dict[str, list[Any]] = {"loss": [], "grad_norm": []}
    for k in range(steps):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        entry = log(loss.item(), norm, k)
        if entry is not None:
            history["loss"].append(entry[0])
            history["grad_norm"].append(entry[1])
        optimizer.step()
    return history


def _post_clip(loss: float, norm: torch.Tensor, k: int) -> tuple[float, float]:
    """Bug: the norm after clipping."""
    return loss, min(norm.item(), 1.0)


VARIANTS: dict[str, tuple[Callable[..., Any], str | None]] = {
    "correct": (lambda m, x, y, s: _loop(m, x, y, s, lambda l, n, k: (l, n.item())), None),
    "post-clip norm": (lambda m, x, y, s: _loop(m, x, y, s, _post_clip), "looks like the post-clip norm"),
    "zeros": (lambda m, x, y, s: _loop(m, x, y, s, lambda l, n, k: (l, 0.0)), "it is 0"),
    "tensors": (lambda m, x, y, s: _loop(m, x, y, s, lambda l, n, k: (l, n)), "not tensors"),
    "every other step": (lambda m, x, y, s: _loop(m, x, y, s, lambda l, n, k: (l, n.item()) if k % 2 == 0 else None),
                         "optimizer steps (measured by the grader)"),
    "deep copy": (lambda m, x, y, s: _loop(copy.deepcopy(m), x, y, s, lambda l, n, k: (l, n.item())),
                  "ran a copy of the model"),
}


def _manual(model, x, y, steps):
    """Correct alternative: plain SGD with a hand-written global norm and clip at 1."""
    history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
    params = list(model.parameters())
    for _ in range(steps):
        for p in params:
            p.grad = None
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        total = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
        history["loss"].append(float(loss))
        history["grad_norm"].append(float(total))
        coef = min(1.0, 1.0 / (float(total) + 1e-6))
        with torch.no_grad():
            for p in params:
                p -= 0.5 * coef * p.grad
    return history


VARIANTS["correct, manual norm and SGD"] = (_manual, None)


def _loss_after_step(model, x, y, steps):
    """Bug: the loss logged is recomputed after optimizer.step() (a forward pass of the next parameters)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        with torch.no_grad():
            history["loss"].append(((model(x) - y) ** 2).mean().item())
        history["grad_norm"].append(norm.item())
    return history


def _infinity_norm(model, x, y, steps):
    """Bug: the largest |gradient| (the infinity norm, before clipping) logged instead of the global 2-norm."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        largest = max(p.grad.abs().max().item() for p in model.parameters())
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        history["loss"].append(loss.item())
        history["grad_norm"].append(largest)
    return history


#: Look-alikes: (loop, what the message must say, what it must not say).
LOOK_ALIKES = {
    "loss after the step": (_loss_after_step, "is the loss AFTER the step", "history['grad_norm']"),
    "infinity norm": (_infinity_norm, "the infinity norm", "post-clip"),
}


@pytest.mark.parametrize("name", list(LOOK_ALIKES))
def test_history_look_alikes_are_told_their_own_mistake(name: str) -> None:
    """A loss logged after the step is about the loss (its norm is right); a max |g| is the infinity norm."""
    train, said, not_said = LOOK_ALIKES[name]
    outcome = _grade(train)
    assert said in outcome.text() and not_said not in outcome.text(), outcome.text()
    assert outcome.score == POINTS_TARGET, outcome.text()  # the target is met: only the history point goes


def _grade(train: Callable[..., Any]) -> Outcome:
    question = get_assignment("exploding").question("train_loop")
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    return question.judge(cases, [question.call({"train": train}, c) for c in cases])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_history_variants(name: str) -> None:
    train, expected = VARIANTS[name]
    outcome = _grade(train)
    if expected is None:
        assert outcome.status == "passed", outcome.text()
        return
    assert outcome.score < outcome.max_score and expected in outcome.text(), outcome.text()
    if name == "deep copy":
        assert outcome.score == 0
    else:  # the target is met: only the history point goes
        assert outcome.score == POINTS_TARGET, outcome.text()


def test_changing_x_in_place_is_reported() -> None:
    def train(model, x, y, steps):
        x.mul_(1.0001)
        return _loop(model, x, y, steps, lambda l, n, k: (l, n.item()))

    outcome = _grade(train)
    assert outcome.score == 0 and "changed x or y in place" in outcome.text()


def test_a_loop_that_raises_is_located() -> None:
    def train(model, x, y, steps):
        raise KeyError("no such optimizer " + "y" * 300 + " END")

    outcome = _grade(train)
    assert "train raised KeyError" in outcome.text() and "END" in outcome.text()
    assert "test_checks_exploding.py, line" in outcome.text()


def test_points_add_up() -> None:
    assert POINTS_HISTORY + POINTS_TARGET == get_assignment("exploding").question("train_loop").points



def test_a_notebook_that_made_float64_the_default_trains_the_task_the_grader_measures() -> None:
    """`torch.set_default_dtype(torch.float64)` in a student's cell: the loop runs under it (in the sandbox, or the
    kernel), the grader measures in a process of its own under float32; the provided task and model are the same
    float32 numbers either way (randn drew other numbers in float64, and the history point was lost)."""
    question = get_assignment("exploding").question("train_loop")
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    x, y = task.make_task(0)
    before = [p.detach().clone() for p in task.make_model(0).parameters()]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert torch.equal(task.make_task(0)[0], x) and torch.equal(task.make_task(0)[1], y)
        assert all(torch.equal(a, b) for a, b in zip(task.make_model(0).parameters(), before, strict=True))
        outputs = [question.call({"train": VARIANTS["correct"][0]}, c) for c in cases]
    finally:
        torch.set_default_dtype(previous)
    outcome = question.judge(cases, outputs)
    assert outcome.status == "passed", outcome.text()
