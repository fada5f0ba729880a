"""Forbidden shortcuts: the static scan follows aliases and helpers; the tripwire raises, records and restores,
traps private routes (fused kernels, torch.func, the engine), and the batch worker's arming frees the originals."""

from __future__ import annotations

import gc
import importlib
import json
import linecache
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder.checks import ASSIGNMENTS, forbidden
from autograder.checks.forbidden import ForbiddenCall, Tripwire, _targets, scan, tripwire

SOURCE = '''
import torch
import torch.nn.utils as nu
from torch import optim as o
from torch.autograd import grad as g

def helper(p):
    return o.Adam([p])

def adam_step(param, grad, state):
    helper(param)
    return param

def clip(grads):
    nu.clip_grad_norm_(grads, 1.0)

def via_backward(x):
    x.sum().backward()

def via_grad(x):
    return g(x.sum(), x)

def honest(x):
    return torch.linalg.vector_norm(x)

def calls_honest(x):
    return honest(x) * 2

def step(p):
    return o.SGD([p], lr=0.1)

class Layer:
    def backward(self, dout):
        return dout

def own_layer_backward(dout, cache):
    return cache.backward(dout)

def local_step(p):
    step = lambda q: q * 2  # a local name that shadows the top-level step() above
    return step(p)
'''
FORBIDDEN = ("torch.optim", "torch.autograd", "Tensor.backward", "torch.nn.utils.clip_grad_norm_")


def test_scan_follows_aliases_and_helpers() -> None:
    names = ["adam_step", "clip", "via_grad", "honest", "calls_honest", "own_layer_backward", "local_step"]
    found = scan(SOURCE, names, FORBIDDEN)
    assert found["adam_step"] == ["torch.optim"]  # through helper() and the `o` alias
    assert found["clip"] == ["torch.nn.utils.clip_grad_norm_"]
    assert found["via_grad"] == ["torch.autograd"]
    assert found["honest"] == [] and found["calls_honest"] == []


def test_scan_spares_honest_look_alikes() -> None:
    """A student's own layer.backward(...) and a local name shadowing a forbidden helper are not shortcuts.

    A real Tensor.backward() call is caught at run time by the tripwire (see below).
    """
    found = scan(SOURCE, ["own_layer_backward", "local_step", "via_backward"], FORBIDDEN)
    assert found == {"own_layer_backward": [], "local_step": [], "via_backward": []}


def test_scan_survives_bad_source_and_unknown_names() -> None:
    assert scan("def broken(:", ["f"], FORBIDDEN) == {"f": []}
    assert scan(SOURCE, ["not_defined"], FORBIDDEN) == {"not_defined": []}


def test_a_cell_that_does_not_parse_hides_nothing_in_the_others() -> None:
    """Cells are parsed one by one: a syntax error (or a NUL) in one answer cell leaves out only that cell,
    so a shortcut in another cell, and one reached through a helper defined in a third, are still found."""
    cells = ["import torch.optim as o\ndef helper(p):\n    return o.SGD([p], lr=0.1)\n",
             "def broken(:\n    pass\n", "x = 1\x00\n",
             "def adam_step(p):\n    return helper(p)\n"]
    found = scan(cells, ["adam_step", "broken"], FORBIDDEN)
    assert found == {"adam_step": ["torch.optim"], "broken": []}
    assert scan("".join(cells), ["adam_step"], FORBIDDEN) == {"adam_step": []}  # one text: nothing parses


def test_the_scan_reads_the_definition_the_kernel_binds() -> None:
    """The definition in effect is the last one in source order that binds the notebook-level name (at the top
    level, under if/try/with, or declared `global`), never a method or a local helper of that name; nbgrader's
    check reads the live function and gave this notebook full marks where the scan, walking breadth first, took a
    dead nested `def` for the answer and made it `forbidden`."""
    shadowed = ("import torch\nif False:\n    def sgd_step(p):\n        return torch.optim.SGD([p], lr=0.1)\n"
                "def sgd_step(p):\n    return p * 2\n"
                "class Check:\n    def sgd_step(self, p):\n        return torch.optim.SGD([p], lr=0.1)\n"
                "def compare(p):\n    def sgd_step(q):\n        return torch.optim.SGD([q], lr=0.1)\n"
                "    return sgd_step(p)\n")
    assert scan(shadowed, ["sgd_step"], FORBIDDEN) == {"sgd_step": []}
    rebound = ("import torch\ndef sgd_step(p):\n    return p * 2\ntry:\n    pass\nexcept ImportError:\n    pass\n"
               "else:\n    def sgd_step(p):\n        return torch.optim.SGD([p], lr=0.1)\n"
               "def install():\n    global adam_step\n    def adam_step(p):\n        return torch.optim.Adam([p])\n")
    assert scan(rebound, ["sgd_step", "adam_step"], FORBIDDEN) == {"sgd_step": ["torch.optim"],
                                                                   "adam_step": ["torch.optim"]}


@pytest.mark.parametrize("name, shortcut", [
    ("optimizer class", lambda p: torch.optim.SGD([p], lr=0.1)),
    ("autograd.grad", lambda p: torch.autograd.grad((p * p).sum(), p)),
    ("Tensor.backward", lambda p: (p * p).sum().backward()),
    ("clip_grad_norm_", lambda p: torch.nn.utils.clip_grad_norm_([p], 1.0)),
    ("functional adam", lambda p: __import__("torch.optim.adam", fromlist=["adam"]).adam(
        [p], [p], [p], [p], [], [torch.tensor(0.0)], beta1=0.9, beta2=0.9, lr=1.0, weight_decay=0.0, eps=1e-8,
        maximize=False, amsgrad=False)),
])
def test_tripwire_raises_records_and_restores(name: str, shortcut) -> None:
    p = torch.zeros(3, requires_grad=True)
    with tripwire() as wire:
        with pytest.raises(ForbiddenCall):
            shortcut(p)
    assert wire.tripped, name
    (p * p).sum().backward()  # everything works again once disarmed
    torch.optim.SGD([p], lr=0.1).step()


#: Every name the course forbids, from the assignments themselves: the one list both nets must cover.
COURSE_FORBIDDEN = sorted({name for a in ASSIGNMENTS.values() for name in a.forbidden})
#: name -> (a call that uses it, the shortcut the tripwire must record). `p` has a gradient; `f(t) = sum t^2`.
USES = {
    "torch.optim": ("torch.optim.SGD([p], lr=0.1)", "torch.optim"),
    "torch.autograd": ("torch.autograd.grad(f(p), p)", "torch.autograd.grad"),
    "Tensor.backward": ("f(p).backward()", "Tensor.backward"),
    "torch.func": ("torch.func.grad(f)(p)", "torch.func.grad"),
    "torch.nn.utils.clip_grad": ("torch.nn.utils.clip_grad.clip_grad_norm_([p], 1.0)",
                                 "torch.nn.utils.clip_grad_norm_"),
    "torch.nn.utils.clip_grad_norm_": ("torch.nn.utils.clip_grad_norm_([p], 1.0)", "torch.nn.utils.clip_grad_norm_"),
    "torch.nn.utils.clip_grad_value_": ("torch.nn.utils.clip_grad_value_([p], 1.0)",
                                        "torch.nn.utils.clip_grad_value_"),
    "torch.nn.utils.get_total_norm": ("torch.nn.utils.get_total_norm([p.grad])", "torch.nn.utils.get_total_norm"),
    "torch.nn.utils.clip_grads_with_norm_": ("torch.nn.utils.clip_grads_with_norm_([p], 1.0, torch.tensor(2.0))",
                                             "torch.nn.utils.clip_grads_with_norm_"),
}
#: The scan leaves `x.backward()` to the tripwire: statically it is a student's own layer.backward(...) too.
RUN_TIME_ONLY = {"Tensor.backward"}


def test_every_forbidden_name_has_a_use_here() -> None:
    """The tests below are parametrized from the course's own list: a name dropped from an assignment (or
    added without a use here) fails this test, so no entry can disappear from both nets unnoticed."""
    assert sorted(USES) == COURSE_FORBIDDEN


def _with_gradient() -> torch.Tensor:
    """A leaf with a gradient, for the clipping shortcuts."""
    p = torch.ones(3, requires_grad=True)
    p.grad = torch.full((3,), 2.0)
    return p


@pytest.mark.parametrize("name", sorted(USES))
def test_the_tripwire_traps_every_forbidden_name(name: str) -> None:
    """Each forbidden name, used the ordinary way, raises ForbiddenCall and records the shortcut."""
    call, recorded = USES[name]
    namespace = {"torch": torch, "p": _with_gradient(), "f": lambda t: (t * t).sum()}
    with tripwire() as wire:
        with pytest.raises(ForbiddenCall):
            eval(call, namespace)
    assert recorded in wire.tripped, (name, wire.tripped)


@pytest.mark.parametrize("name", sorted(set(USES) - RUN_TIME_ONLY))
def test_the_scan_finds_every_forbidden_name(name: str) -> None:
    """Each forbidden name, used inside a graded function (through a helper, under an alias), is found
    by the static scan with the course's list."""
    call = USES[name][0].replace("torch.", "tt.")
    source = f"import torch as tt\ndef helper(p, f):\n    return {call}\ndef graded(p):\n    return helper(p, None)\n"
    assert name in scan(source, ["graded"], COURSE_FORBIDDEN)["graded"]


def test_tripwire_records_a_swallowed_call() -> None:
    from torch.nn.utils import clip_grad_norm_  # bound before arming: the internals still trip

    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    with tripwire() as wire:
        try:
            clip_grad_norm_([p], 1.0)
        except Exception:  # noqa: BLE001 - a student hiding the shortcut
            pass
    assert wire.tripped == ["torch.nn.utils.clip_grad_norm_"]


def _fused_sgd(op: Any, p: torch.Tensor) -> None:
    """One fused SGD step through `op` (torch._fused_sgd_, or the dispatcher's own packet)."""
    op([p], [torch.ones_like(p)], [], weight_decay=0.0, momentum=0.0, lr=0.5, dampening=0.0, nesterov=False,
       maximize=False, is_first_step=True)


@pytest.mark.parametrize("name, shortcut", [
    ("torch._fused_sgd_", lambda p: _fused_sgd(torch._fused_sgd_, p)),
    ("aten packet", lambda p: _fused_sgd(torch.ops.aten._fused_sgd_.default, p)),
    ("C function table", lambda p: _fused_sgd(torch._C._VariableFunctions._fused_sgd_, p)),
    ("fused Adam", lambda p: torch._fused_adam_([p], [p.clone()], [torch.zeros(3)], [torch.zeros(3)], [],
                                                [torch.tensor(1.0)], lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.0,
                                                eps=1e-8, amsgrad=False, maximize=False)),
    ("foreach norms", lambda p: torch._foreach_norm([p])),
    ("torch.func.grad", lambda p: torch.func.grad(lambda t: (t * t).sum())(p)),
    ("autograd.functional", lambda p: torch.autograd.functional.vjp(lambda t: (t * t).sum(), p)),
    ("functional module", lambda p: importlib.import_module("torch.optim._functional").sgd(
        [p], [p.clone()], [None], weight_decay=0.0, momentum=0.0, lr=0.1, dampening=0.0, nesterov=False,
        maximize=False)),
    ("engine", lambda p: torch.autograd.Variable._execution_engine.run_backward(
        ((p.detach().requires_grad_() * 2).sum(),), (torch.ones(()),), False, False, (), False)),
])
def test_tripwire_traps_private_routes_and_restores_them(name: str, shortcut: Any) -> None:
    """Fused optimizer kernels (however reached), torch.func, autograd.functional, optim._functional, the engine."""
    p = torch.zeros(3)
    with tripwire() as wire:
        with pytest.raises(ForbiddenCall):
            shortcut(p)
    assert wire.tripped, name
    _fused_sgd(torch._fused_sgd_, p)  # torch's own kernel is back once disarmed
    assert torch.equal(p, torch.full((3,), -0.5))


def test_traps_keep_no_original_inside() -> None:
    """No trap carries __wrapped__ or an original in its closure (functools.wraps used to keep them reachable)."""
    with tripwire():
        for owner, attr, _ in _targets():
            trap = getattr(owner, attr)
            trap = getattr(trap, "_trap", trap)  # the engine's stand-in hands out the trap for any attribute
            assert not hasattr(trap, "__wrapped__"), attr
            cells = [c.cell_contents for c in getattr(trap, "__closure__", None) or ()]
            assert all(isinstance(c, (str, Tripwire)) for c in cells), (attr, cells)


ARM_FOR_GOOD = """
import gc, importlib, weakref, torch
from autograder.checks import forbidden
originals = []
for owner, attr, name in forbidden._targets():
    if not isinstance(getattr(owner, attr), type):  # a C class lives as long as torch: replaced, not freed
        try:
            originals.append((name, attr, weakref.ref(getattr(owner, attr))))
        except TypeError:  # the engine object: checked through its attribute below
            pass
wire = forbidden.arm_for_good()
assert forbidden.arm_for_good() is wire
alive = [(name, attr) for name, attr, ref in originals if ref() is not None]  # freed by arm_for_good itself
assert not alive, alive
functional = importlib.import_module('torch.optim._functional')
for route in (lambda: functional.adam, lambda: importlib.import_module('torch.optim.adam').adam,
              lambda: torch.nn.utils.clip_grad_norm_, lambda: torch.Tensor.backward,
              lambda: torch.autograd.Variable._execution_engine.run_backward):
    try:
        route()()
        raise SystemExit('a route is not trapped')
    except forbidden.ForbiddenCall:
        pass
try:
    torch._fused_sgd_([torch.zeros(2)], [torch.ones(2)], [], weight_decay=0.0, momentum=0.0, lr=0.5, dampening=0.0,
                      nesterov=False, maximize=False, is_first_step=True)
    raise SystemExit('fused op not trapped')
except forbidden.ForbiddenCall:
    pass
print(sorted(set(wire.tripped)))
"""


def test_arm_for_good_leaves_no_original_reachable() -> None:
    """The batch worker's one-way arming: every original is freed (a weak reference to it dies), so neither
    __wrapped__, closures, gc.get_referrers nor gc.get_objects can bring one back; every route trips."""
    done = subprocess.run([sys.executable, "-c", ARM_FOR_GOOD], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSE_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torch._fused_sgd_" in done.stdout and "Tensor.backward" in done.stdout


PINNED = """
import gc, importlib, sys, torch
from autograder.checks import forbidden, pinning
folders = pinning.pin_forbidden_modules()
wire = forbidden.arm_for_good()
sgd, clip = sys.modules['torch.optim.sgd'], sys.modules['torch.nn.utils.clip_grad']
for name in [n for n in sys.modules if n.startswith(('torch.optim', 'torch.nn.utils'))]:
    del sys.modules[name]
assert importlib.import_module('torch.optim.' + 'sgd') is sgd, 'a fresh import is a new module'
assert importlib.reload(sgd) is sgd and importlib.import_module('torch.nn.utils.clip_grad') is clip
assert sys.modules['torch.optim'].SGD is sgd.SGD
for use in (lambda: sgd.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), lambda: clip.clip_grad_value_([], 1.0),
            lambda: torch.set_grad_enabled(True), lambda: torch.enable_grad().__enter__()):
    try:
        use()
        raise SystemExit('a reloaded or re-enabled shortcut works')
    except forbidden.ForbiddenCall:
        pass
y = torch.ones(2, requires_grad=True)
assert not torch.is_grad_enabled() and (y * y).sum().grad_fn is None, 'a graph was recorded'
with torch.no_grad():  # honest code may still turn recording off
    pass
for obj in gc.get_objects():  # destroying a Library would restore the kernels it overrode
    if isinstance(obj, torch.library.Library):
        obj._destroy()
try:
    torch._fused_sgd_([torch.zeros(2)], [torch.ones(2)], [], weight_decay=0.0, momentum=0.0, lr=0.5, dampening=0.0,
                      nesterov=False, maximize=False, is_first_step=True)
    raise SystemExit('the fused kernel is back')
except forbidden.ForbiddenCall:
    pass
print(' '.join(sorted(f.as_posix().split('site-packages/')[-1] for f in folders)))
"""


NAMES = """
import torch
from autograder.checks import forbidden
targets = forbidden._targets()
aliases = {}  # an original reachable under several names gets one trap, named after one of them
for owner, attr, name in targets:
    aliases.setdefault(id(getattr(owner, attr)), set()).add(name)
allowed = [aliases[id(getattr(owner, attr))] for owner, attr, _ in targets]
forbidden.arm_for_good()
wrong = []
for (owner, attr, name), names in zip(targets, allowed):
    trap = getattr(owner, attr)
    try:
        getattr(trap, '_trap', trap)()
    except forbidden.ForbiddenCall as exc:
        if str(exc).split(' ')[0] not in names:
            wrong.append((attr, name, str(exc).split(' ')[0]))
assert not wrong, wrong
"""


def test_every_trap_names_its_own_shortcut() -> None:
    """After arming for good, each trap reports the shortcut it stands for (traps are matched to originals
    by id, so an original freed during arming once lent its id, and its trap, to another: torch.autograd.grad
    was reported as torch.optim)."""
    done = subprocess.run([sys.executable, "-c", NAMES], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSE_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]


def test_reimports_reloads_and_undone_registrations_stay_trapped() -> None:
    """In the worker's arming: a module dropped from sys.modules and imported again, or reloaded, is the
    trapped one; autograd recording cannot be turned back on; destroying every torch.library.Library the
    garbage collector finds does not bring the fused kernels back; the folders to cover are torch's."""
    done = subprocess.run([sys.executable, "-c", PINNED], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSE_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["torch/autograd", "torch/func", "torch/nn/utils", "torch/optim"]


def test_scan_never_parses_in_two_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # CPython 3.11's AST validator keeps global state (python/cpython#106905): the batch grader's threads
    # once got "SystemError: AST constructor recursion depth mismatch" for random students.
    real_parse, active, peak = forbidden.ast.parse, [0], [0]
    guard = threading.Lock()

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        try:
            return real_parse(*args, **kwargs)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(forbidden.ast, "parse", slow_parse)
    source = "import torch\ndef f(p):\n    return torch.optim.SGD([p], lr=0.1)\n"
    results: list[dict[str, list[str]]] = []
    threads = [threading.Thread(target=lambda: results.append(forbidden.scan(source, ["f"], ["torch.optim"])))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1
    assert results == [{"f": ["torch.optim"]}] * 6


@pytest.mark.parametrize("aid", ["optimizers", "clipping"])
def test_the_forbidden_status_comes_from_the_field_not_the_wording(aid: str) -> None:
    """An output marked by forbidden_output scores forbidden; an error text that merely reads 'forbidden: ' does not."""
    from autograder.checks import ASSIGNMENTS
    from autograder.checks.messages import text
    from autograder.checks.spec import ERROR_KEY, error_message

    question = ASSIGNMENTS[aid].questions[0]
    cases = question.make_cases(torch.Generator().manual_seed(0), False)
    marked = forbidden.forbidden_output("torch.optim.Adam")
    assert forbidden.is_forbidden(marked) and text(error_message(marked)).startswith("torch.optim.Adam was called")
    outcome = question.judge(cases, [marked] * len(cases))
    assert outcome.status == "forbidden" and outcome.score == 0.0 and "torch.optim.Adam was called" in outcome.text()
    forged = {ERROR_KEY: marked[ERROR_KEY]}  # the same message, without the field
    worded = question.judge(cases, [forged] * len(cases))
    assert worded.status != "forbidden" and worded.score == 0.0
    assert not forbidden.is_forbidden({ERROR_KEY: "forbidden: x"}) and not forbidden.is_forbidden("forbidden: x")


def test_the_notebook_check_says_forbidden_once() -> None:
    """The student-visible line of the source scan says 'forbidden' once (the verdict's prefix), in both languages:
    'forbidden: <grade_id>: f uses ... (write ...)'."""
    from autograder.checks.messages import text, verdict
    from autograder.message import say

    used = forbidden.used_message("adam_step", ["torch.optim", "Tensor.backward"])
    assert text(used) == "adam_step uses torch.optim, Tensor.backward (write the computation yourself)"
    line = say("check.error", grade_id="adam_step", error=used)
    assert verdict("forbidden", line, None).count("forbidden") == 1
    assert verdict("forbidden", line, "zh_CN").count("禁止") == 1


def test_the_hidden_test_names_a_forbidden_shortcut_once(capsys: pytest.CaptureFixture[str]) -> None:
    """grade() (nbgrader's hidden test) says the function used a forbidden shortcut: 'forbidden' once, the points
    lost, the question and what was used."""
    from autograder.checks import notebook

    static = ("import torch\ndef sgd_step(param, grad, state, lr, **kw):\n"
              "    return torch.optim.SGD([param], lr=lr) and param\n")
    called = ("import torch\ndef grad_norm(grads, norm_type=2.0):\n"
              "    return torch.nn.utils.get_total_norm([g for g in grads if g is not None], norm_type)\n")
    for aid, grade_id, code, said in (("optimizers", "sgd_step_basic", static, "sgd_step uses torch.optim"),
                                      ("clipping", "grad_norm", called, "was called inside the graded function")):
        namespace: dict[str, object] = {"__name__": "__main__"}  # a notebook's
        filename = f"<cell {grade_id}>"
        if code is static:  # as Jupyter keeps a cell's source, for the scan to read; the other is caught when called
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        exec(compile(code, filename, "exec"), namespace)
        assert notebook.grade(aid, grade_id, namespace) == 0.0
        shown = capsys.readouterr().out
        assert f"points: forbidden: {grade_id}: " in shown and said in shown, shown
        assert shown.count("forbidden") == 1, shown


PER_CASE_AFTER_ARMING = """
import torch
from autograder.checks import ASSIGNMENTS, forbidden
forbidden.arm_for_good()
try:
    torch.optim.SGD([torch.zeros(1)], lr=0.1)  # before the case: not the case's
except forbidden.ForbiddenCall:
    pass
with forbidden.tripwire() as wire:
    assert wire.tripped == [], wire.tripped
    for use in (lambda: torch.optim.Adam([torch.zeros(1)]), lambda: torch.nn.utils.clip_grad_norm_([], 1.0)):
        try:
            use()
            raise SystemExit('a shortcut ran inside a case')
        except forbidden.ForbiddenCall:
            pass
    seen = list(wire.tripped)
assert seen == ['torch.optim', 'torch.nn.utils.clip_grad_norm_'], seen
question = ASSIGNMENTS['optimizers'].question('adam_step_basic')
case = question.make_cases(torch.Generator().manual_seed(0), False)[0]
def adam_step(param, grad, state, **hyper):
    return torch.optim.Adam([param], **hyper)
out = question.call({'adam_step': adam_step}, case)
assert forbidden.is_forbidden(out), out
assert question.judge([case], [out]).status == 'forbidden'
"""


def test_a_case_in_a_process_armed_for_good_reports_what_it_tripped() -> None:
    """In the batch worker (armed for good) a case does not re-arm: its wire is the process-wide one seen from the
    case's start, so a shortcut called inside the case (and only those) still makes the output forbidden."""
    done = subprocess.run([sys.executable, "-c", PER_CASE_AFTER_ARMING], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COURSE_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_scans_walk_visits_what_ast_walk_visits_in_the_same_order() -> None:
    """The scan walks the tree itself (faster than ast.walk): the same nodes in the same order, so a later
    import still wins over an earlier one exactly as before."""
    import ast

    source = SOURCE + ("\nclass Net:\n    def backward(self, g):\n        import numpy as o\n"
                       "        return [lambda x: o.sum(x) for _ in g if (y := _)]\n")
    tree = ast.parse(source)
    assert forbidden._walk(tree) == list(ast.walk(tree))
    assert forbidden._aliases(forbidden._walk(tree))["o"] == "numpy"  # the nested import comes later


def test_an_original_in_a_reference_cycle_is_collected_and_only_then_the_collector_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Arming frees the originals; the full collection (~60 ms with torch loaded) runs only when one outlived its
    last reference (a cycle), or when one cannot be watched although the collector tracks it."""
    runs: list[int] = []
    collect = gc.collect

    def counted(*args: Any) -> int:
        runs.append(1)
        return collect(*args)
    monkeypatch.setattr(gc, "collect", counted)

    def plain() -> None:
        """No cycle: freed by its reference count."""

    def looped() -> None:
        """Holds itself: only the collector frees it."""
    looped.itself = looped  # type: ignore[attr-defined]
    watched = forbidden._mortal([plain, int])  # a static type never dies: left out
    assert len(watched) == 1
    del plain
    forbidden._free(watched)
    assert runs == [] and watched[0] is not None and watched[0]() is None
    watched = forbidden._mortal([looped])
    del looped
    assert watched[0] is not None and watched[0]() is not None
    forbidden._free(watched)
    assert runs == [1] and watched[0]() is None
    forbidden._free(forbidden._mortal([len]))  # a builtin takes no weak reference: cannot tell, so collect
    assert runs == [1, 1]
    forbidden._free(forbidden._mortal([torch.autograd.Variable._execution_engine]))  # untracked: refcount only
    assert runs == [1, 1]


def test_the_notebook_scan_reads_the_function_being_graded_not_an_older_one_kept_under_an_alias() -> None:
    """In a kernel every function is __main__'s: the correct sgd_step kept as `_old` (an earlier key of globals())
    must not stand in for the wrapper now bound to sgd_step that reaches torch.optim; the batch grader, which reads
    the cells' text in order, flags it too."""
    import linecache

    from autograder.checks import notebook

    namespace: dict = {"__name__": "__main__", "torch": torch}
    solution = Path(__file__).resolve().parents[1] / "solutions" / "optimizers" / "optimizers.ipynb"
    cells = json.loads(solution.read_text())["cells"]
    answer = next("".join(c["source"]) for c in cells
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == "sgd-step")
    later = ("_old = sgd_step\n\ndef sgd_step(param, grad, state, **hyper):\n    torch.optim.SGD\n"
             "    return _old(param, grad, state, **hyper)\n")
    for name, source in (("<cell sgd-step>", answer), ("<cell #40>", later)):
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), namespace)
    assert notebook.run("optimizers", "sgd_step_basic", namespace, hidden=False).status == "forbidden"
    namespace["sgd_step"] = namespace["_old"]
    assert notebook.run("optimizers", "sgd_step_basic", namespace, hidden=False).status == "passed"


def test_scan_reads_cells_in_ipythons_syntax_as_the_kernel_runs_them() -> None:
    """A `%%time` over an answer, or a `%matplotlib inline` line above it, runs under nbgrader and in the batch
    grader (IPython's syntax): the scan reads those cells too instead of leaving them out as unparsable."""
    body = "def f(p):\n    return torch.optim.SGD([p], lr=1)\n"
    for cell in ("%%time\n" + body, "%matplotlib inline\n!echo hi\n" + body, "%%capture out\n%time x = 1\n" + body):
        assert scan(["import torch", cell], ["f"], ["torch.optim"]) == {"f": ["torch.optim"]}, cell
    assert scan(["def f(:\n"], ["f"], ["torch.optim"]) == {"f": []}  # neither syntax: still left out


GRAD_IMPORTED = "import torch\nfrom torch.autograd import grad\n"
SGD_STEP = "def sgd_step(param, grad, state, lr):\n    return param - lr * grad\n"


@pytest.mark.parametrize(("cells", "hits"), [
    # the optimizers' own parameter is called grad: an unused import of torch.autograd.grad does not make it one
    ([GRAD_IMPORTED, SGD_STEP], []),
    ([GRAD_IMPORTED + SGD_STEP], []),
    (["import torch\nfrom torch.optim import SGD\n", "def sgd_step(param, grad, state, SGD):\n    return SGD\n"], []),
    (["from torch.autograd import grad\n", "def clip(grads):\n    return [grad * 2 for grad in grads]\n"], []),
    # ... but the import itself, where the function uses it, still is
    ([GRAD_IMPORTED, "def sgd_step(param, g, state, lr):\n    return param - lr * grad(g, param)[0]\n"],
     ["torch.autograd"]),
    ([GRAD_IMPORTED, "def sgd_step(param, g, state, lr, grad=grad):\n    return param - lr * g\n"],
     ["torch.autograd"]),  # a default is evaluated where the def stands
    (["def sgd_step(param, g, state, lr):\n    from torch.autograd import grad\n    return grad(g, param)\n"],
     ["torch.autograd"]),  # imported inside: the name means the module's
    ([GRAD_IMPORTED, "def sgd_step(param, g, state, lr):\n    f = lambda grad: grad\n    return f(grad)\n"],
     ["torch.autograd"]),  # the lambda's parameter hides the import only inside the lambda
    ([GRAD_IMPORTED, "def sgd_step(param, g, state, lr):\n    def inner(grad, f=grad):\n        return f(grad)\n"
                     "    return inner(g)\n"], ["torch.autograd"]),  # a nested def's default: where it stands
    ([GRAD_IMPORTED, "def sgd_step(param, g, state, lr):\n    global grad\n    grad = grad\n    return grad\n"],
     ["torch.autograd"]),  # declared global: the notebook's name
])
def test_a_name_the_function_binds_itself_is_not_an_import_of_that_name(cells: list[str], hits: list[str]) -> None:
    """Only a name that means the import inside the function counts: a parameter, an assignment or a loop
    variable of the same name is the student's own (nbgrader, which scans the function's text alone, agrees)."""
    found = scan(cells, ["sgd_step", "clip"], FORBIDDEN)
    assert sorted({*found["sgd_step"], *found["clip"]}) == hits


DEEP = "x = 1" + " + 1" * 20_000 + "\n"
SHORTCUT = "import torch\ndef sgd_step(p, g, s, lr):\n    return torch.optim.SGD([p], lr=lr)\n"


def _at_depth(depth: int, fn: Any) -> Any:
    """fn() called `depth` frames further down the stack."""
    return fn() if depth == 0 else _at_depth(depth - 1, fn)


def test_a_cell_nested_deeper_than_python_reads_defines_nothing_and_stops_nothing() -> None:
    """A 20,000-term sum made the trusted scan raise RecursionError (the student then had no grade, as for a failure
    of the grader): it is a cell that is not code, the others are read, and the answer is the same however deep the
    stack the scan is called from (the batch, the service, a Dask node)."""
    cells = [DEEP, SHORTCUT, "y = (" * 150 + "1" + ")" * 150 + "\n"]
    shallow = scan(cells, ["sgd_step"], FORBIDDEN)
    assert shallow == {"sgd_step": ["torch.optim"]}
    assert _at_depth(sys.getrecursionlimit() - 60, lambda: scan(cells, ["sgd_step"], FORBIDDEN)) == shallow
    assert forbidden._parse("x = 1" + " + 1" * 800 + "\n") is not None  # the same answer near the limit ...
    assert _at_depth(sys.getrecursionlimit() - 60, lambda: forbidden._parse("x = 1" + " + 1" * 800 + "\n")) \
        is not None  # ... from deep down the stack as from the top


def test_a_cell_of_magics_costs_the_trusted_scan_little_and_stops_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """IPython's transformer reads a cell once per magic line, up to 500 times (then raises): 501 shell lines made the
    scan fail, and 499 beside 30 KB of code cost a minute of the grader's own CPU. Over IPYTHON_BUDGET the cell is
    read as not code, and the transformer is never called on it; small magic cells are still read."""
    from autograder.grading.runner import cells as runner_cells

    assert scan(["!echo hi\n" * 501, SHORTCUT], ["sgd_step"], FORBIDDEN) == {"sgd_step": ["torch.optim"]}
    called: list[int] = []
    real = runner_cells.as_python
    def counted(source: str) -> str | None:
        called.append(len(source))
        return real(source)
    monkeypatch.setattr(runner_cells, "as_python", counted)
    heavy = "!echo hi\n" * 499 + "x = 1;" * 5_000 + "\n"
    assert forbidden._parse(heavy) is None and called == []
    light = "%matplotlib inline\n" + SHORTCUT
    assert scan([light], ["sgd_step"], FORBIDDEN) == {"sgd_step": ["torch.optim"]} and called == [len(light)]
    assert forbidden._parse("%%time\n" * 5_000 + "x = 1\n") is not None  # stacked cell magics: a loop, no recursion
