"""Shortcuts through the course itself earn nothing (issue 9, section 4), on the real `optimizers` assignment.

Each student below replaces `adam_step` with a shortcut that scored full marks before: the course's own
known-mistake kernel with no mistake (imported, or found with gc), torch's private fused Adam kernel,
the original torch.optim functions kept reachable by the tripwire's wrappers, and torch.optim's
functional form. The honest solution in the same run must still pass everything, through the new
runner (its setup cell imports the course's device helper from the facade the sandbox shows).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from autograder.checks.messages import text
from autograder.grading.drivers import pipeline
from autograder.grading.runner.wire import Limits
from tests.paths import REPO
from tests.sandbox_required import sandbox_marks

SOURCE = REPO / "solutions" / "optimizers" / "optimizers.ipynb"
ADAM = ("adam_step_basic", "adam_step_flags")
pytestmark = sandbox_marks("the shortcut submissions")

SIGNATURE = ("def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, "
             "amsgrad=False):\n")
SHORTCUTS = {
    "imports-mistakes": SIGNATURE + """    try:
        from autograder.checks.mistakes import optimizers as known
    except ImportError:
        return param.clone()
    state.setdefault('p0', param.clone())
    state.setdefault('grads', []).append(grad.clone())
    return known.adam(state['p0'], state['grads'], lr, betas, eps, weight_decay, amsgrad)[-1].to(param.dtype)
""",
    "finds-mistakes-with-gc": SIGNATURE + """    import gc, types
    kernels = [f for f in gc.get_objects() if isinstance(f, types.FunctionType) and f.__name__ == 'adam'
               and f.__module__ in ('autograder.checks.mistakes.optimizers', 'autograder.reference.optimizers')]
    state.setdefault('p0', param.clone())
    state.setdefault('grads', []).append(grad.clone())
    for kernel in kernels:
        try:
            return kernel(state['p0'], state['grads'], lr, betas, eps, weight_decay, amsgrad)[-1].to(param.dtype)
        except Exception:
            continue
    return param.clone()
""",
    "fused-adam": SIGNATURE + """    import torch
    p = param.clone()
    if not state:
        state.update(m=torch.zeros_like(p), v=torch.zeros_like(p), vmax=torch.zeros_like(p),
                     t=torch.zeros((), dtype=torch.float32))
    state['t'] += 1
    getattr(torch, '_fused_' + 'adam_')([p], [grad.clone()], [state['m']], [state['v']],
                                        [state['vmax']] if amsgrad else [], [state['t']], lr=lr, beta1=betas[0],
                                        beta2=betas[1], weight_decay=weight_decay, eps=eps, amsgrad=amsgrad,
                                        maximize=False)
    return p
""",
    "unwraps-tripwire": SIGNATURE + """    import importlib
    optim = importlib.import_module('torch.' + 'optim')
    init = getattr(optim.Optimizer.__init__, '__wrapped__', None)
    step = getattr(optim.Optimizer.step, '__wrapped__', None)
    if init is None:
        return param.clone()
    p = param.detach().clone()
    p.grad = grad.clone()
    opt = state.setdefault('opt', object.__new__(optim.Adam))
    if 'done' not in state:
        init(opt, [p], dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                            maximize=False, foreach=None, capturable=False, differentiable=False, fused=None,
                            decoupled_weight_decay=False))
        state['done'] = True
    (step or optim.Adam.step)(opt)
    return p
""",
    "functional-adam": SIGNATURE + """    import importlib, torch
    functional = importlib.import_module('torch.optim.' + '_functional')
    p = param.clone()
    if not state:
        state.update(m=torch.zeros_like(p), v=torch.zeros_like(p), vmax=torch.zeros_like(p), t=torch.zeros(()))
    state['t'] += 1
    functional.adam([p], [grad.clone()], [state['m']], [state['v']], [state['vmax']], [state['t']],
                    amsgrad=amsgrad, beta1=betas[0], beta2=betas[1], lr=lr, weight_decay=weight_decay, eps=eps,
                    maximize=False)
    return p
""",
}


def _with_adam(source: dict[str, Any], code: str | None) -> dict[str, Any]:
    """The solution notebook, with the adam-step answer cell replaced by `code` (None: unchanged)."""
    nb = copy.deepcopy(source)
    for cell in nb["cells"]:
        if code is not None and cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "adam-step":
            cell["source"] = code
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Grade the honest solution and every shortcut in one batch, in the real sandbox."""
    root = tmp_path_factory.mktemp("shortcuts")
    source = json.loads(SOURCE.read_text())
    for student, code in {"honest": None, **SHORTCUTS}.items():
        folder = root / "subs" / student / "optimizers"
        folder.mkdir(parents=True)
        (folder / "optimizers.ipynb").write_text(json.dumps(_with_adam(source, code)))
    settings = pipeline.Settings(submissions=root / "subs", assignment_id="optimizers", out=root / "out", workers=2,
                                 source=SOURCE, sandbox="bwrap", limits=Limits(timeout=20.0, memory_mb=1024))
    return pipeline.grade(settings)


def test_the_honest_solution_passes_through_the_runner(graded: dict[str, Any]) -> None:
    """Control: the course's own notebook, setup cell included, still grades full marks in the new sandbox."""
    rows = graded["honest"].rows
    assert rows and all(r.status == "passed" for r in rows), {r.grade_id: text(r.message) for r in rows}


@pytest.mark.parametrize("student", sorted(SHORTCUTS))
def test_a_shortcut_earns_nothing(graded: dict[str, Any], student: str) -> None:
    """The Adam questions score 0; the other questions (honest code) still pass."""
    rows = {r.grade_id: r for r in graded[student].rows}
    for grade_id, row in rows.items():
        if grade_id in ADAM:
            assert row.score == 0 and row.status != "passed", (grade_id, text(row.message))
        else:
            assert row.status == "passed", (grade_id, text(row.message))


@pytest.mark.parametrize("student", ["fused-adam", "functional-adam"])
def test_private_torch_routes_are_reported_as_forbidden(graded: dict[str, Any], student: str) -> None:
    """Calling torch's fused kernel or functional Adam is named as a forbidden shortcut, not a wrong answer."""
    rows = {r.grade_id: r for r in graded[student].rows}
    assert rows["adam_step_basic"].status == "forbidden", text(rows["adam_step_basic"].message)
