"""The checks registry: the interface the batch grader and the notebooks rely on, and robustness to garbage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.checks import ASSIGNMENTS, get_assignment
from autograder.checks.messages import text
from autograder.checks.spec import ERROR_KEY, STATUSES, Outcome, error_message

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [(a, q) for a in ASSIGNMENTS.values() for q in a.questions]
IDS = [f"{a.id}:{q.grade_id}" for a, q in QUESTIONS]


def _nbgrader_cells(assignment_id: str) -> list[dict]:
    nb = json.loads((ROOT / "solutions" / assignment_id / f"{assignment_id}.ipynb").read_text())
    return [c for c in nb["cells"] if "nbgrader" in c.get("metadata", {})]


def _is_plain(value: object) -> bool:
    """Tensors, numbers, str, None, bool and containers of those: what crosses a process boundary."""
    if isinstance(value, (torch.Tensor, int, float, str, bool)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def test_registry_matches_the_source_notebooks() -> None:
    # solutions/locale holds the notebooks' translations (autograder/notebook_i18n.py), not an assignment
    folders = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and p.name != "locale")
    assert sorted(ASSIGNMENTS) == folders
    for aid, assignment in ASSIGNMENTS.items():
        assert assignment.id == aid and assignment.notebook == f"{aid}.ipynb"
        cells = _nbgrader_cells(aid)
        tests = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
                 for c in cells if c["metadata"]["nbgrader"]["grade"] and not c["metadata"]["nbgrader"]["solution"]}
        manual = {c["metadata"]["nbgrader"]["grade_id"] for c in cells
                  if c["metadata"]["nbgrader"]["grade"] and c["metadata"]["nbgrader"]["solution"]}
        assert tests == {q.grade_id: q.points for q in assignment.questions}
        assert manual == set(assignment.manual)


def test_get_assignment_names_known_ids() -> None:
    assert get_assignment("optimizers") is ASSIGNMENTS["optimizers"]
    with pytest.raises(KeyError, match="optimizers"):
        get_assignment("nope")
    with pytest.raises(KeyError, match="adam_step_basic"):
        ASSIGNMENTS["optimizers"].question("nope")


def test_forbidden_lists() -> None:
    assert ASSIGNMENTS["exploding"].forbidden == ()
    for aid in ("optimizers", "clipping", "backprop"):
        assert "torch.autograd" in ASSIGNMENTS[aid].forbidden


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_cases_are_plain_deterministic_and_hidden_extends_visible(assignment, question) -> None:
    visible = question.make_cases(torch.Generator().manual_seed(1), False)
    hidden = question.make_cases(torch.Generator().manual_seed(1), True)
    again = question.make_cases(torch.Generator().manual_seed(1), True)
    other = question.make_cases(torch.Generator().manual_seed(2), True)
    assert visible and len(hidden) > len(visible) - (assignment.id == "exploding")
    assert all(_is_plain(c) for c in hidden)
    assert repr(hidden) == repr(again)
    assert repr(hidden) != repr(other), "hidden cases must depend on the generator (per-student seeds)"


GARBAGE: dict[str, object] = {
    "missing": {},
    "returns None": None,
    "returns a list": [1, 2, 3],
    "returns a wrong shape": torch.zeros(7, 1, 2),
    "raises": ZeroDivisionError,
}


def _garbage_functions(question, kind: str) -> dict:
    if kind == "missing":
        return {}

    def bad(*args, **kwargs):
        if GARBAGE[kind] is ZeroDivisionError:
            raise ZeroDivisionError("boom")
        return GARBAGE[kind]

    return {name: bad for name in question.functions}


@pytest.mark.parametrize("assignment, question", [p for p in QUESTIONS if p[0].id != "exploding"], ids=[
    i for i, p in zip(IDS, QUESTIONS, strict=True) if p[0].id != "exploding"])
@pytest.mark.parametrize("kind", list(GARBAGE))
def test_call_and_judge_never_crash_on_garbage(assignment, question, kind: str) -> None:
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    outputs = [question.call(_garbage_functions(question, kind), c) for c in cases]
    assert all(isinstance(o, dict) for o in outputs)
    if not (kind == "returns None" and question.grade_id == "clip_grad_value"):  # None is its right return
        assert all(ERROR_KEY in o for o in outputs), outputs
    outcome = question.judge(cases, outputs)
    assert isinstance(outcome, Outcome) and outcome.status in STATUSES
    assert outcome.score == 0 and outcome.text() and "Traceback" not in outcome.text()


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_judge_survives_junk_outputs(assignment, question) -> None:
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    for junk in (None, "text", 3, {"params": "x", "loss": [1, 2]}, {"state": 5, "loss": np.ones(3)}, {ERROR_KEY: 7}):
        outcome = question.judge(cases, [junk] * len(cases))
        assert outcome.score == 0 and outcome.status in STATUSES
    assert question.judge(cases, []).score == 0  # fewer outputs than cases


def _solution_functions(assignment_id: str) -> dict:
    """The source notebook's code cells run in one namespace (as a solved notebook would)."""
    namespace: dict = {"__name__": "solution_under_test"}
    for cell in json.loads((ROOT / "solutions" / assignment_id / f"{assignment_id}.ipynb").read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and meta.get("solution") and "def " in source and "plt." not in source:
            exec(source.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""), namespace)
        elif cell["cell_type"] == "code" and meta.get("grade_id") == "setup":
            exec(source, namespace)
    return namespace


def _to_numpy(value: object) -> object:
    """Outputs as the batch grader sees them after .npz: numpy arrays instead of tensors."""
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("assignment, question", [p for p in QUESTIONS if p[0].id != "exploding"], ids=[
    i for i, p in zip(IDS, QUESTIONS, strict=True) if p[0].id != "exploding"])
def test_solutions_get_full_marks_with_tensor_or_numpy_outputs(assignment, question) -> None:
    functions = _solution_functions(assignment.id)
    cases = question.make_cases(torch.Generator().manual_seed(9), True)
    outputs = [question.call(functions, c) for c in cases]
    for outs in (outputs, [_to_numpy(o) for o in outputs]):
        outcome = question.judge(cases, outs)
        assert (outcome.score, outcome.status) == (question.points, "passed"), outcome.text()


def test_wrong_dtype_device_and_nan_are_described() -> None:
    question = ASSIGNMENTS["optimizers"].question("sgd_step_basic")
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    as_float32 = text(error_message(question.call({"sgd_step": lambda p, g, s, lr, **k: (p - lr * g).float()},
                                                  cases[0])))
    assert "expected dtype torch.float64" in as_float32
    elsewhere = text(error_message(question.call(
        {"sgd_step": lambda p, g, s, lr, **k: torch.empty_like(p, device="meta")}, cases[0])))
    assert "expected a tensor on" in elsewhere and "got meta" in elsewhere
    exits = question.call({"sgd_step": lambda *a, **k: exit(3)}, cases[0])
    assert ERROR_KEY in exits and text(error_message(exits)).startswith("raised SystemExit")
    nan = question.call({"sgd_step": lambda p, g, s, lr, **k: p * float("nan")}, cases[0])
    outcome = question.judge(cases[:1], [nan])
    assert outcome.score == 0 and "NaN where the reference is finite" in outcome.text()


def test_forbidden_shortcut_is_reported_as_such() -> None:
    question = ASSIGNMENTS["optimizers"].question("sgd_step_basic")
    cases = question.make_cases(torch.Generator().manual_seed(0), False)

    def cheat(param, grad, state, lr, **kwargs):
        p = torch.nn.Parameter(param.clone())
        p.grad = grad
        try:
            torch.optim.SGD([p], lr=lr).step()
        except Exception:  # noqa: BLE001 - hiding the tripwire does not help
            pass
        return param - lr * grad

    outcome = question.judge(cases, [question.call({"sgd_step": cheat}, c) for c in cases])
    assert outcome.status == "forbidden" and "torch.optim" in outcome.text()


def test_exploding_judge_measures_the_loss_itself() -> None:
    question = ASSIGNMENTS["exploding"].questions[0]
    cases = question.make_cases(torch.Generator().manual_seed(0), False)

    def liar(model, x, y, steps):
        return {"loss": [0.0] * 3, "grad_norm": [1.0] * 3}  # trains nothing, claims success

    outcome = question.judge(cases, [question.call({"train": liar}, c) for c in cases])
    assert outcome.score == 0 and "1.00 x the starting loss" in outcome.text()
    assert "optimizer steps (measured by the grader)" in outcome.text()
    junk = question.judge(cases, [question.call({"train": lambda *a: None}, c) for c in cases])
    assert junk.score == 0 and "must return a dict" in junk.text()


def test_hidden_seed_follows_the_nbgrader_student_folder(tmp_path: Path) -> None:
    from autograder.checks.notebook import FIXED_SEED, seed_for, student_id

    folder = tmp_path / "course" / "autograded" / "alice" / "optimizers"
    folder.mkdir(parents=True)
    assert student_id(folder) == "alice" and student_id(tmp_path) is None
    alice, bob = seed_for("optimizers", "adam_step_basic", "alice"), seed_for("optimizers", "adam_step_basic", "bob")
    assert alice != bob and alice == seed_for("optimizers", "adam_step_basic", "alice")
    assert seed_for("optimizers", "adam_step_basic", None) == FIXED_SEED
