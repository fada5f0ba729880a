"""A notebook's own torch settings never change what it is judged on: `nbgrader autograde` draws and judges in the
student's kernel, `autograder grade` in a process of its own, and both must give the same score
(autograder/checks/notebook.py `as_graded`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from autograder.checks import ASSIGNMENTS, get_assignment, notebook
from autograder.grading.core import judging
from tests.test_checks import _solution_functions

QUESTIONS = [(aid, q.grade_id) for aid in sorted(ASSIGNMENTS) for q in get_assignment(aid).questions]


def _draw(aid: str, grade_id: str) -> list[Any]:
    return get_assignment(aid).question(grade_id).make_cases(torch.Generator().manual_seed(7), True)


@pytest.mark.parametrize(("aid", "grade_id"), QUESTIONS)
def test_hidden_inputs_drawn_in_a_float64_kernel_are_the_batch_graders(aid: str, grade_id: str) -> None:
    batch = _draw(aid, grade_id)  # the grader's own process: float32 default
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with notebook.as_graded():
            kernel = _draw(aid, grade_id)
    finally:
        torch.set_default_dtype(previous)
    assert judging._same(kernel, batch)


def test_the_default_dtype_did_change_some_draws() -> None:
    """Without as_graded some questions draw other inputs in a float64 kernel: the test above proves something."""
    batch = {q: _draw(*q) for q in QUESTIONS}
    with _changed("float64"):
        assert [q for q in QUESTIONS if not judging._same(_draw(*q), batch[q])]


def _wrong_sgd(namespace: dict[str, Any]) -> Callable[..., Any]:
    right = namespace["sgd_step"]
    return lambda param, grad, state, **hyper: right(param, grad, state, **hyper) * 1.001


#: Contexts a student's cell entered and kept (`mode = torch.inference_mode(); mode.__enter__()`).
_OPEN: list[Any] = []


def _keep_open(context: Any) -> None:
    """Enter `context` and keep it entered (its object alive) until _changed ends."""
    _OPEN.append(context)
    context.__enter__()


#: Settings a student's cell may leave changed for the rest of the notebook.
SETTINGS: dict[str, Callable[[], Any]] = {
    "float64": lambda: torch.set_default_dtype(torch.float64),
    "no_grad": lambda: torch.set_grad_enabled(False),
    "inference": lambda: _keep_open(torch.inference_mode()),
    "autocast": lambda: torch.autocast("cpu", dtype=torch.bfloat16).__enter__(),
}
#: (assignment, question, the namespace of a wrong or a right answer): the optimizers' reference is torch.optim
#: (float64), backprop's torch.autograd, clipping's torch.nn.utils; the capstone's grader measures the loss itself.
ANSWERS = [("optimizers", "sgd_step_momentum", "wrong"), ("backprop", "linear", "right"),
           ("backprop", "mlp_loss_and_grads", "right"), ("clipping", "clip_grad_norm_flags", "right"),
           ("exploding", "train_loop", "right")]


def _namespace(aid: str, kind: str) -> dict[str, Any]:
    namespace = _solution_functions(aid)
    if kind == "wrong":
        namespace["sgd_step"] = _wrong_sgd(namespace)
    return namespace


@contextlib.contextmanager
def _changed(setting: str) -> Iterator[None]:
    """The kernel with one setting changed by the student, put back afterwards."""
    grad, dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    try:
        SETTINGS[setting]()
        yield
    finally:
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)
        while _OPEN:
            _OPEN.pop().__exit__(None, None, None)
        torch.set_autocast_enabled("cpu", False)


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize(("aid", "grade_id", "kind"), ANSWERS)
def test_a_kernel_with_changed_settings_gets_the_batch_graders_verdict(setting: str, aid: str, grade_id: str,
                                                                        kind: str) -> None:
    """In the kernel (nbgrader): draw, call and judge there. The batch: draw and judge in its own process, the
    student's calls in the sandbox under the notebook's settings. Same score, same message (its numbers come from
    the inputs drawn)."""
    namespace = _namespace(aid, kind)
    question = get_assignment(aid).question(grade_id)
    seed = 11
    cases = question.make_cases(torch.Generator().manual_seed(seed), True)
    with _changed(setting):
        outputs = [question.call(namespace, case) for case in cases]
    batch = question.judge(cases, outputs)
    with _changed(setting):
        kernel = notebook.run(aid, grade_id, namespace, hidden=True, seed=seed)
    assert (kernel.score, kernel.status, kernel.text()) == (batch.score, batch.status, batch.text())
    if kind == "wrong":
        assert batch.score < batch.max_score


def test_an_exception_whose_str_raises_costs_its_case_in_the_kernel_too() -> None:
    """The test cell's check must not raise on it (nbgrader would score the whole question 0): the case is lost, as
    the batch grader's child reports it."""
    namespace = _solution_functions("optimizers")
    right = namespace["sgd_step"]

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    def sgd_step(param: Any, grad: Any, state: Any, **hyper: Any) -> Any:
        if hyper.get("nesterov"):
            raise Unprintable()
        return right(param, grad, state, **hyper)

    namespace["sgd_step"] = sgd_step
    outcome = notebook.run("optimizers", "sgd_step_momentum", namespace, hidden=True)
    assert 0 < outcome.score < outcome.max_score
    assert "<exception str() failed>" in outcome.text()
