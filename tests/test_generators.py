"""Python's and numpy's global generators during a graded call (autograder/checks/generators.py): a student's function
that draws from them gets one grade, and their own state is as it was after the call."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from autograder.checks import generators
from autograder.checks.notebook import run


def _grad_norm_with_luck(grads: Any, norm_type: float = 2.0) -> Any:
    """The right norm, or 1.5 times it, by a coin of numpy's and one of Python's (a jitter, a shuffled batch)."""
    import torch

    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads
                                                  if g is not None]), norm_type) if any(
        g is not None for g in grads) else torch.tensor(0.0)
    draws = len(grads) + 1  # cases differ in length: their coins differ too
    luck = np.random.rand(draws)[-1] < 0.5 and [random.random() for _ in range(draws)][-1] < 0.7
    return total * 1.5 if luck else total


def _numpy_state() -> list[int]:
    """numpy's global generator's key, as plain numbers."""
    state: Any = np.random.get_state()
    return [int(k) for k in state[1]]


def test_a_function_drawing_from_the_global_generators_gets_one_grade_whatever_their_state() -> None:
    """The same function, graded after the global generators were left in three different states, gets the same
    outcome, and each generator is back in the state the student left it in."""
    outcomes = []
    for seed in (1, 2, 3):
        random.seed(seed)
        np.random.seed(seed)
        before = random.getstate(), _numpy_state()
        outcomes.append(run("clipping", "grad_norm", {"grad_norm": _grad_norm_with_luck}, hidden=True))
        assert random.getstate() == before[0] and _numpy_state() == before[1]
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert 0 < outcomes[0].score < outcomes[0].max_score  # the coin does fall both ways over the cases


def test_seeding_does_not_go_through_names_a_student_replaced(monkeypatch: Any) -> None:
    """`random.seed = lambda *a: None` in a student's cell does not stop the generators being seeded."""
    monkeypatch.setattr(random, "seed", lambda *args, **kwargs: None)
    monkeypatch.setattr(np.random, "seed", lambda *args, **kwargs: None)
    with generators.seeded():
        first = random.random(), np.random.rand()
    with generators.seeded():
        assert (random.random(), np.random.rand()) == first


SCRIPT = """
import torch  # loads numpy, not yet numpy.random (numpy 2 loads it on first use)
from autograder.checks.notebook import run

def grad_norm(grads, norm_type=2.0):
    import numpy as np
    total = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads if g is not None] or [torch.zeros(1)]),
                                     norm_type)
    return total * 1.5 if np.random.rand(len(grads) + 1)[-1] < 0.5 else total

print(run("clipping", "grad_norm", {"grad_norm": grad_norm}, hidden=True))
"""


def test_a_fresh_process_grades_numpy_draws_alike() -> None:
    """In a fresh process (a kernel under nbgrader, a Dask node) numpy's generator is seeded from the system when a
    student first draws from it: two processes give the same outcome only if the seeding loaded it first."""
    import subprocess
    import sys

    from tests.paths import REPO

    outcomes = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                               cwd=REPO).stdout for _ in range(2)}
    assert len(outcomes) == 1 and "Outcome(" in outcomes.pop()
