"""The `exploding` capstone: the student's training loop must tame the provided diverging tanh RNN.

The call (sandbox side) trains a fresh model and sends back its parameters and the history; the judge
(trusted side) rebuilds the model from those parameters and measures the loss itself, so a history that
lies about the loss earns nothing.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from typing import Any

import torch

from autograder.checks import exploding_task as task
from autograder.checks.builder import Unusable, student
from autograder.checks.compare import as_float64, describe
from autograder.checks.spec import ERROR_KEY, Assignment, Case, Functions, Outcome, Output, Question

POINTS_HISTORY, POINTS_TARGET = 1.0, 2.0


def _make_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Visible: seed 0; hidden: one fresh seed (a loop tuned to one seed must still work)."""
    seed = int(torch.randint(1, 10_000, (), generator=gen)) if hidden else 0
    return [{"label": f"task and model seed {seed}", "seed": seed, "steps": task.STEP_BUDGET}]


def _history(history: Any, key: str) -> torch.Tensor:
    """history[key] as a float64 tensor, or Unusable saying what came back."""
    if not isinstance(history, dict) or key not in history:
        raise Unusable(f"train: expected a dict with keys 'loss' and 'grad_norm', got {describe(history)}")
    try:
        return torch.tensor([float(v) for v in history[key]], dtype=torch.float64)
    except (TypeError, ValueError):
        raise Unusable(f"train: history[{key!r}] must be a list of numbers, got {describe(history[key])}") from None


def _call(functions: Functions, case: Case) -> Output:
    """Train a fresh model with the student's loop; return its parameters, history and forward count."""
    try:
        fn = student(functions, "train")
        model = task.make_model(case["seed"])
        x, y = task.make_task(case["seed"])
        calls = [0]
        model.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny tensors: thread start-up costs more than it saves (3x here)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                history = fn(model, x, y, int(case["steps"]))
        finally:
            torch.set_num_threads(threads)
        return {"state": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
                "loss": _history(history, "loss"), "grad_norm": _history(history, "grad_norm"),
                "forward_calls": calls[0]}
    except Unusable as exc:
        return {ERROR_KEY: str(exc)}
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the student's loop may raise anything
        return {ERROR_KEY: f"train raised {type(exc).__name__}: {str(exc).strip()[:200]}"}


def _final_loss(case: Case, out: Output) -> float:
    """The task loss of the returned parameters, measured here (never taken from the history)."""
    model = task.make_model(case["seed"])
    state = out.get("state")
    if not isinstance(state, dict):
        raise ValueError("no parameters came back")
    model.load_state_dict({k: torch.as_tensor(as_float64(v)).float() for k, v in state.items()}, strict=True)
    with torch.no_grad():
        return float(task.mse(model, *task.make_task(case["seed"])))


def _judge_one(case: Case, out: Any) -> tuple[float, str]:
    """(points, message) for one case: 1 for a clean history, 2 for reaching the target in budget."""
    if not isinstance(out, dict) or ERROR_KEY in out:
        return 0.0, str(out.get(ERROR_KEY) if isinstance(out, dict) else f"nothing came back ({describe(out)})")
    points, notes = 0.0, []
    loss, norm = as_float64(out.get("loss")), as_float64(out.get("grad_norm"))
    steps, calls = int(case["steps"]), out.get("forward_calls")
    if loss is None or norm is None or loss.dim() != 1 or norm.shape != loss.shape or not 1 <= len(loss) <= steps:
        notes.append(f"history must hold one loss and one gradient norm per step (1 to {steps} steps)")
    elif not isinstance(calls, int) or len(loss) > calls:
        # every recorded loss needs a forward pass of the model: a longer history was not measured in training
        notes.append(f"the history has {len(loss)} losses but the model ran {calls} times: it was not measured")
    elif not bool(torch.isfinite(loss).all() and torch.isfinite(norm).all()):
        bad = int((~(torch.isfinite(loss) & torch.isfinite(norm))).nonzero()[0])
        notes.append(f"the history has NaN/inf at step {bad + 1}: training diverged")
    else:
        points += POINTS_HISTORY
    try:
        final = _final_loss(case, out)
    except Exception as exc:  # noqa: BLE001 - garbage parameters
        final, notes = math.nan, notes + [f"the trained parameters could not be loaded ({type(exc).__name__})"]
    if not isinstance(calls, int) or calls > 2 * steps:
        notes.append(f"the model was run {calls} times; the budget is {steps} steps (about one forward each)")
    elif not math.isfinite(final) or final > task.LOSS_TARGET:
        notes.append(f"final loss {final:.4g} (measured by the grader) is above the target {task.LOSS_TARGET}")
    else:
        points += POINTS_TARGET
    return points, "; ".join(notes) or f"final loss {final:.4g} <= {task.LOSS_TARGET} in {len(loss)} steps"


def _judge(cases: list[Case], outputs: list[Output]) -> Outcome:
    """Average the per-case points; the message names the first problem."""
    max_points = POINTS_HISTORY + POINTS_TARGET
    outputs = list(outputs) + [None] * (len(cases) - len(outputs))
    results = [_judge_one(c, o) for c, o in zip(cases, outputs)]
    if not results:
        return Outcome(0.0, max_points, "error", "train_loop: no cases were graded")
    score = round(sum(p for p, _ in results) / len(results), 2)
    worst = min(zip(results, cases), key=lambda r: r[0][0])
    message = f"train_loop: case [{worst[1]['label']}]: {worst[0][1]}"
    status = "passed" if score >= max_points else ("partial" if score > 0 else "failed")
    return Outcome(score, max_points, status, message)


TRAIN = Question(grade_id="train_loop", points=POINTS_HISTORY + POINTS_TARGET, functions=("train",),
                 make_cases=_make_cases, call=_call, judge=_judge,
                 description=f"reach loss <= {task.LOSS_TARGET} within {task.STEP_BUDGET} steps, no NaN/inf")

ASSIGNMENT = Assignment(id="exploding", notebook="exploding.ipynb", questions=(TRAIN,),
                        manual=("exploding_diagnosis",), forbidden=())
