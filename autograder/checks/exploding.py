"""The `exploding` capstone: the student's training loop must tame the provided diverging tanh RNN.

The call (sandbox side) trains a fresh model and sends back its parameters and the history; the judge
(trusted side) rebuilds the model from those parameters and measures the loss itself, so a history that
lies about the loss earns nothing.
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import warnings
from typing import Any

import torch

from autograder.checks import exploding_history as history_check
from autograder.checks import exploding_task as task
from autograder.checks import generators
from autograder.checks.builder import Unusable, case_label, label, student
from autograder.checks.compare import as_float64, describe
from autograder.checks.guard import same
from autograder.checks.spec import (
    ERROR_KEY,
    Assignment,
    Case,
    Functions,
    Outcome,
    Output,
    Question,
    error_message,
    error_output,
)
from autograder.checks.where import describe_exception
from autograder.message import Message, say

POINTS_HISTORY, POINTS_TARGET = 1.0, 2.0


def _make_cases(gen: torch.Generator, hidden: bool) -> list[Case]:
    """Visible: seed 0; hidden: one fresh seed (a loop tuned to one seed must still work)."""
    seed = int(torch.randint(1, 10_000, (), generator=gen)) if hidden else 0
    return [{"label": case_label("label.seed", seed=seed), "seed": seed, "steps": task.STEP_BUDGET}]


#: At most this many parameter snapshots travel back: the rules allow two forward passes per step.
MAX_SNAPSHOTS_PER_STEP = 2


def _history(history: Any, key: str) -> tuple[list[float], Message | None]:
    """history[key] as Python floats, or what is wrong with it (the history point only is lost)."""
    if not isinstance(history, dict) or key not in history:
        return [], say("train.not_dict", got=describe(history))
    values = history[key]
    if not isinstance(values, (list, tuple)):
        return [], say("train.not_list", key=repr(key), got=describe(values))
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (float, int)):
            return [], say("train.not_float", key=repr(key), index=i, got=describe(v))
    return [float(v) for v in values], None


def _call(functions: Functions, case: Case) -> Output:
    """Train a fresh model with the student's loop; return its parameters, history and what the hooks saw."""
    try:
        fn = student(functions, "train")
        model = task.make_model(case["seed"])
        x, y = task.make_task(case["seed"])
        x_before, y_before = x.clone(), y.clone()
        snapshots: list[torch.Tensor] = []
        calls, foreign = [0], [0]
        cap = MAX_SNAPSHOTS_PER_STEP * int(case["steps"])

        def seen(module: torch.nn.Module, _: Any) -> None:
            """Count forward passes of the given model (and of copies, which carry the hook along)."""
            if module is not model:
                foreign[0] += 1
                return
            calls[0] += 1
            if len(snapshots) < cap:
                snapshots.append(history_check.flat_parameters(model))
        model.register_forward_pre_hook(seen)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny tensors: thread start-up costs more than it saves (3x here)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), generators.seeded():
                warnings.simplefilter("ignore")
                history = fn(model, x, y, int(case["steps"]))
        finally:
            torch.set_num_threads(threads)
        if not (same(x, x_before) and same(y, y_before)):
            raise Unusable(say("train.changed_inputs"))
        loss, loss_error = _history(history, "loss")
        norm, norm_error = _history(history, "grad_norm")
        history_error = loss_error or norm_error
        return {"state": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
                "loss": torch.tensor(loss, dtype=torch.float64), "grad_norm": torch.tensor(norm, dtype=torch.float64),
                "history_error": history_error.to_plain() if history_error else "", "forward_calls": calls[0],
                "foreign_calls": foreign[0], "final": history_check.flat_parameters(model),
                "snapshots": torch.stack(snapshots) if snapshots else torch.zeros((0, 0), dtype=torch.float64)}
    except Unusable as exc:
        return error_output(exc.message)
    except (Exception, SystemExit) as exc:  # the student's loop may raise anything
        return error_output(say("train.raised", error=describe_exception(exc)))


def _loss_of(case: Case, state: Any) -> float:
    """The task loss of a parameter set, measured here (never taken from the history)."""
    model = task.make_model(case["seed"])
    if state is not None:
        if not isinstance(state, dict):
            raise ValueError("no parameters came back")
        model.load_state_dict({k: torch.as_tensor(as_float64(v)).float() for k, v in state.items()}, strict=True)
    with torch.no_grad():
        return float(task.mse(model, *task.make_task(case["seed"])))


def _taken(case: Case, out: Output) -> tuple[int | None, Any]:
    """(optimizer steps the model took, the recorded parameter vectors) from what came back, None when unusable."""
    steps = int(case["steps"])
    size = sum(p.numel() for p in task.make_model(int(case["seed"])).parameters())
    snapshots, final = as_float64(out.get("snapshots")), as_float64(out.get("final"))
    # untrusted sizes: at most the snapshots the sandbox side keeps, each one parameter vector long
    if (snapshots is not None and final is not None and tuple(final.shape) == (size,) and snapshots.dim() == 2
            and len(snapshots) <= MAX_SNAPSHOTS_PER_STEP * steps
            and (len(snapshots) == 0 or snapshots.shape[1] == size)):
        snapshots = snapshots.reshape(-1, size)
        return history_check.steps_taken(snapshots, final), snapshots
    return None, None


def target_ratio(case: Case, out: Output, measured: list[tuple[float, float, float]] | None = None) -> float:
    """Median loss over the run's last TAIL_STEPS forward passes and at the parameters left behind, over the fresh
    model's loss, all measured by the grader (inf when any of them is NaN/inf, NaN when nothing usable came back)."""
    try:
        if measured is None:
            _, snapshots = _taken(case, out)
            measured = history_check.measure(int(case["seed"]), snapshots) if snapshots is not None else []
        tail = [m[0] for m in measured[-task.TAIL_STEPS:]] + [_loss_of(case, out.get("state"))]
        if not all(math.isfinite(v) for v in tail):
            return math.inf
        return float(statistics.median(tail)) / _loss_of(case, None)
    except Exception:
        return math.nan


def _history_problem(case: Case, out: Output, taken: int | None,
                     measured: list[tuple[float, float, float]]) -> Message | None:
    """Why the history point is lost, or None: well-formed, finite, one entry per step, matching the grader."""
    steps = int(case["steps"])
    if out.get("history_error"):
        return error_message({ERROR_KEY: out["history_error"]})
    loss, norm = as_float64(out.get("loss")), as_float64(out.get("grad_norm"))
    if loss is None or norm is None or loss.dim() != 1 or norm.shape != loss.shape or not 1 <= len(loss) <= steps:
        return say("train.history_shape", steps=steps)
    if not bool(torch.isfinite(loss).all() and torch.isfinite(norm).all()):
        bad = int((~(torch.isfinite(loss) & torch.isfinite(norm))).nonzero()[0])
        return say("train.history_nan", step=bad + 1)
    snapshots = as_float64(out.get("snapshots"))
    if taken is None or snapshots is None or snapshots.dim() != 2 or len(snapshots) > MAX_SNAPSHOTS_PER_STEP * steps:
        return say("train.unchecked")
    if len(loss) != taken:
        return say("train.entries", entries=len(loss), taken=taken)
    return history_check.check(loss.tolist(), norm.tolist(), measured)


def _judge_one(case: Case, out: Any) -> tuple[float, Message]:
    """(points, message) for one case: 1 for a history that matches the grader's measurements, 2 for the target."""
    if not isinstance(out, dict) or ERROR_KEY in out:
        return 0.0, error_message(out) if isinstance(out, dict) else say("train.nothing", got=describe(out))
    steps, calls, foreign = int(case["steps"]), out.get("forward_calls"), out.get("foreign_calls")
    if isinstance(foreign, int) and foreign > 0:
        return 0.0, say("train.copy", n=foreign)
    taken, snapshots = _taken(case, out)
    measured = history_check.measure(int(case["seed"]), snapshots) if snapshots is not None else []
    points, notes = 0.0, []
    problem = _history_problem(case, out, taken, measured)
    if problem is None:
        points += POINTS_HISTORY
    else:
        notes.append(problem)
    start = _loss_of(case, None)
    ratio = target_ratio(case, out, measured)
    tail = say("train.tail", n=task.TAIL_STEPS)
    if not isinstance(out.get("state"), dict):
        notes.append(say("train.no_state"))
    if not isinstance(calls, int) or calls > 2 * steps or taken is None or taken > steps:
        notes.append(say("train.budget", calls=str(calls), taken=str(taken), steps=steps, passes=2 * steps))
    elif not math.isfinite(ratio):
        notes.append(say("train.diverged"))
    elif ratio > task.LOSS_FACTOR:
        notes.append(say("train.above", tail=tail, ratio=f"{ratio:.2f}", start=f"{start:.4g}",
                         factor=f"{task.LOSS_FACTOR:g}"))
    else:
        points += POINTS_TARGET
    if notes:
        return points, notes[0] if len(notes) == 1 else say("list.semicolon", items=tuple(notes))
    return points, say("train.reached", tail=tail, ratio=f"{ratio:.2f}", start=f"{start:.4g}", taken=str(taken))


def _judge(cases: list[Case], outputs: list[Output]) -> Outcome:
    """Average the per-case points; the message names the first problem."""
    max_points = POINTS_HISTORY + POINTS_TARGET
    outputs = list(outputs) + [error_output(say("check.no_output"))] * (len(cases) - len(outputs))
    results = [_judge_one(c, o) for c, o in zip(cases, outputs, strict=True)]
    if not results:
        return Outcome(0.0, max_points, "error", say("check.no_cases", grade_id="train_loop"))
    score = round(sum(p for p, _ in results) / len(results), 2)
    worst = min(zip(results, cases, strict=True), key=lambda r: r[0][0])
    message = say("check.case", grade_id="train_loop", label=label(worst[1]), problem=worst[0][1])
    status = "passed" if score >= max_points else ("partial" if score > 0 else "failed")
    return Outcome(score, max_points, status, message)


TRAIN = Question(grade_id="train_loop", points=POINTS_HISTORY + POINTS_TARGET, functions=("train",),
                 make_cases=_make_cases, call=_call, judge=_judge,
                 description=(f"median loss of the last {task.TAIL_STEPS} steps at most {task.LOSS_FACTOR} x the "
                              f"starting loss within {task.STEP_BUDGET} steps, no NaN/inf"))

ASSIGNMENT = Assignment(id="exploding", notebook="exploding.ipynb", questions=(TRAIN,),
                        manual=("exploding_diagnosis",), forbidden=())
