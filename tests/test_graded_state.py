"""A notebook's own torch settings never change what it is judged on: `nbgrader autograde` draws and judges in the
student's kernel, `autograder grade` in a process of its own, and both must give the same score
(autograder/checks/notebook.py `as_graded`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder.checks import ASSIGNMENTS, get_assignment, notebook
from autograder.grading.core import judging
from tests.test_checks import _solution_functions

ROOT = Path(__file__).resolve().parent.parent

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


def _counting_sgd(calls: list[int]) -> Callable[..., Any]:
    """The solution's sgd_step, counting its calls: what a function keeping state across calls sees."""
    right = _solution_functions("optimizers")["sgd_step"]

    def sgd_step(param: Any, grad: Any, state: Any, **hyper: Any) -> Any:
        calls.append(1)
        return right(param, grad, state, **hyper)
    return sgd_step


def test_under_autograde_the_visible_check_calls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch grader calls a question's functions on its graded draw only; nbgrader's test cell runs `check` and
    then `grade`: were `check` to call too, a function with state across calls (a lazy first call, a counter, torch's
    global generator) would be graded after other calls there than in the batch grader."""
    calls: list[int] = []
    namespace = {"sgd_step": _counting_sgd(calls)}
    notebook.check("optimizers", "sgd_step_basic", namespace)  # a student's own Jupyter: the visible cases run
    assert calls
    monkeypatch.setattr(notebook, "GRADED_STUDENT", "alice")
    calls.clear()
    notebook.check("optimizers", "sgd_step_basic", namespace)
    assert not calls


def test_the_graded_student_is_read_where_the_kernel_started_not_after_a_chdir(tmp_path: Path) -> None:
    """A student's cell that changes the working folder must not turn the graded draw into the fixed one."""
    folder = tmp_path / "autograded" / "alice" / "optimizers"
    folder.mkdir(parents=True)
    script = ("import os\nfrom autograder.checks import notebook\nseeds = []\n"
              "notebook.run = lambda *args, **kwargs: seeds.append(kwargs['seed']) or notebook.run\n"
              "os.chdir('/')\ntry:\n    notebook.grade('optimizers', 'sgd_step_basic', {})\nexcept AttributeError:\n"
              "    pass\nprint(seeds[0] == notebook.seed_for('optimizers', 'sgd_step_basic', 'alice'), seeds[0])\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "True", done.stdout


def test_drawing_and_judging_in_the_kernel_leave_torchs_global_generator_alone() -> None:
    """The capstone's judge builds models (their init draws from torch's global generator); in the kernel that would
    change what a student's later random draws give, which the batch grader (judging elsewhere) never does."""
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    with notebook.as_graded():
        torch.rand(3)
        torch.nn.Linear(4, 4)
    assert torch.equal(torch.random.get_rng_state(), before)
