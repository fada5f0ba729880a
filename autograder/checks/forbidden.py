"""Detect forbidden shortcuts (torch.optim, autograd, torch's clipping) in graded functions.

Two independent nets: `scan` reads the source (AST) and follows calls into the student's own helpers;
`tripwire` replaces the shortcuts at run time so that calling one raises `ForbiddenCall` naming it, and
records the call even when the student's code swallows the exception. Run-time shortcuts are the
Python entry points (torch.optim and its functional forms, autograd, torch.func, clipping) and, at
the dispatcher, torch's private fused optimizer kernels (`torch._fused_adam_` and the like, however
they are reached). The traps keep no `__wrapped__`; `arm_for_good` (the batch grader's worker, before
it forks a child per submission) replaces every module-level reference and closure cell holding an
original, so that no original is left for student code to find. The notebook `tripwire` must restore
the originals afterwards, so it keeps them (in its own frame): there the check is evidence, not a wall.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import ctypes
import functools
import gc
import importlib
import os
import re
import sys
import threading
import types
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch

from autograder.checks.spec import ERROR_KEY
from autograder.checks.wording import CHECKS
from autograder.message import Message, Param, say

#: Key of an error output saying that a forbidden shortcut was used (its value names the shortcut): the judge
#: gives the question status forbidden from this field, never from the wording of the error text.
FORBIDDEN_KEY = "__forbidden__"


def forbidden_output(shortcut: str) -> dict[str, Any]:
    """The error output of a case that called `shortcut` (plain data: it may cross the sandbox boundary)."""
    return {ERROR_KEY: say("forbidden.called_inside", shortcut=shortcut).to_plain(), FORBIDDEN_KEY: shortcut}


def is_forbidden(output: Any) -> bool:
    """True for an output made by forbidden_output."""
    return isinstance(output, dict) and isinstance(output.get(FORBIDDEN_KEY), str)


def used_message(function: str, shortcuts: Iterable[str]) -> Message:
    """How a notebook check words a graded function whose source uses forbidden shortcuts."""
    return say("forbidden.used", function=function, shortcuts=", ".join(shortcuts))


class ForbiddenCall(RuntimeError):
    """Raised by the tripwire when a graded function calls a shortcut it must implement itself."""


#: The text of every ForbiddenCall (in English: an exception's text has no reader yet), read back by `reworded`.
_TRAPPED = re.compile(re.escape(CHECKS["forbidden.trapped"]).replace(re.escape("{shortcut}"), r"(\S+)"))


def reworded(kind: str, text: str) -> Param:
    """A cell's exception text as the grader shows it: the tripwire's own as a message (worded in the reader's
    language), any other as it is (Python's and the student's text stays as written)."""
    found = _TRAPPED.fullmatch(text) if kind == ForbiddenCall.__name__ else None
    return say("forbidden.trapped", shortcut=found.group(1)) if found else text


def _dotted(node: ast.AST) -> str | None:
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _walk(root: ast.AST) -> list[ast.AST]:
    """Every node under `root`, itself first, in ast.walk's order (breadth first), as a list: several times faster
    than ast.walk's nested generators, which most of a scan's time went to."""
    nodes = [root]
    position = 0
    while position < len(nodes):
        node = nodes[position]
        position += 1
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                nodes.append(value)
            elif isinstance(value, list):
                nodes.extend(item for item in value if isinstance(item, ast.AST))
    return nodes


def _bound_defs(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The `def`s that bind a notebook-level name, in source order (a later one rebinds the name, as when the cell
    runs): those at the top level or under if/try/with/for/while, and those in a function that declares the name
    `global`; never a method or another function's local helper, which the kernel never binds to that name."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def visit(body: list[ast.stmt], global_names: frozenset[str] | None) -> None:
        """Collect from `body`; `global_names`: None at the notebook level, else what the enclosing function
        declares global."""
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if global_names is None or node.name in global_names:
                    found.append(node)
                visit(node.body, frozenset(name for inner in _walk(node) if isinstance(inner, ast.Global)
                                           for name in inner.names))
            elif not isinstance(node, ast.ClassDef):  # a method binds no notebook-level name
                for field in ("body", "orelse", "finalbody"):
                    visit([n for n in getattr(node, field, None) or [] if isinstance(n, ast.stmt)], global_names)
                for block in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:  # except / case
                    visit(block.body, global_names)

    visit(getattr(tree, "body", []), None)
    return found


def _aliases(nodes: Iterable[ast.AST]) -> dict[str, str]:
    """Local name -> full dotted name for every import among `nodes` (later ones win, in ast.walk's order)."""
    aliases: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _params(a: ast.arguments) -> list[ast.arg]:
    """Every parameter of a def or lambda."""
    return [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]


def _body(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.AST]:
    """A def's statements, or a lambda's one expression."""
    return list(fn.body) if isinstance(fn.body, list) else [fn.body]


def _own_names(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """The names a function binds itself, which hide an import of the same name inside it: its parameters and what
    its own body assigns (not a nested function's), less what it declares global or nonlocal. A name it imports
    is not among them: that one still means the module it names."""
    names = {p.arg for p in _params(fn.args)}
    declared: set[str] = set()
    todo = _body(fn)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (*_SCOPES, ast.ClassDef)):
            if not isinstance(node, ast.Lambda):
                names.add(node.name)
            continue  # its body is a scope of its own
        else:
            todo.extend(ast.iter_child_nodes(node))
    return names - declared


def _outer_parts(fn: ast.AST) -> list[ast.AST]:
    """What a def or lambda evaluates where it stands, not in its own scope: decorators, defaults, annotations."""
    a = getattr(fn, "args", None)
    parts = [*getattr(fn, "decorator_list", []), getattr(fn, "returns", None)]
    if a is not None:
        parts += [*a.defaults, *a.kw_defaults]
        parts += [p.annotation for p in _params(a)]
    return [p for p in parts if p is not None]


def _uses(fn: ast.AST, aliases: dict[str, str]) -> tuple[set[str], set[str]]:
    """(full dotted names used, plain names called) inside one function body. A name the function binds itself (a
    parameter, an assignment; or one of a function nested in it, within that one) is its own, not the import of
    that name elsewhere in the notebook (`def sgd_step(param, grad, ...)` beside `from torch.autograd import grad`),
    and a call of it is not a call of a top-level helper.

    `x.backward(...)` is left to the run-time tripwire: statically it cannot be told apart from a student's
    own layer object with a `backward` method (a common, honest style in the backprop exercise).
    """
    used: set[str] = set()
    called: set[str] = set()
    todo: list[tuple[ast.AST, frozenset[str]]] = [(part, frozenset()) for part in _outer_parts(fn)]
    if isinstance(fn, _SCOPES):
        own = frozenset(_own_names(fn))
        todo += [(node, own) for node in _body(fn)]
    else:
        todo.append((fn, frozenset()))
    while todo:  # a stack, not recursion: a student's nesting never reaches Python's recursion limit here
        node, hidden = todo.pop()
        if isinstance(node, _SCOPES):
            todo += [(part, hidden) for part in _outer_parts(node)]
            inner = hidden | _own_names(node)
            todo += [(child, inner) for child in _body(node)]
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update(_aliases([node]).values())
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in hidden:
            called.add(node.func.id)
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node)
            if name:
                head, _, rest = name.partition(".")
                full = head if head in hidden else aliases.get(head, head)
                used.add(f"{full}.{rest}" if rest else full)
        todo += [(child, hidden) for child in ast.iter_child_nodes(node)]
    return used, called


#: This process's parsing thread (see _parser), by process id: a forked child has none of its parent's threads.
_parsers: dict[int, concurrent.futures.ThreadPoolExecutor] = {}
_PARSERS_LOCK = threading.Lock()
#: The most a cell in IPython's syntax may cost to read here, in magic or shell lines times characters: IPython's
#: transformer reads the whole cell again for each such line (up to 500 times), in the grader's own process. A cell
#: over it is read as one that is not code (it defines nothing here; the sandbox still runs it as the kernel would).
IPYTHON_BUDGET = 200_000


def _matches(name: str, forbidden: str) -> bool:
    """True when `name` is `forbidden` or lies inside it (torch.optim.Adam inside torch.optim)."""
    return name == forbidden or name.startswith(forbidden + ".")


def _parser() -> concurrent.futures.ThreadPoolExecutor:
    """This process's one parsing thread. One: CPython 3.11's AST validator is not thread-safe (python/cpython#106905).
    A thread of its own: how deeply a student's expression may nest before Python gives up (RecursionError) depends on
    the stack it is parsed from, and must not depend on who asked (the batch, the service, a Dask node)."""
    with _PARSERS_LOCK:
        pid = os.getpid()
        if pid not in _parsers:
            _parsers.clear()
            _parsers[pid] = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cell-parser")
        return _parsers[pid]


def _parse(source: str) -> ast.Module | None:
    """The source's syntax tree, or None when it does not parse, as Python or as IPython's syntax (such a cell
    defines nothing when it runs). A cell magic's body (`%%time` over an answer: the kernel runs it) is read as code;
    a line magic's argument stays a string here (the run-time tripwire still sees what it calls)."""
    return _parser().submit(_read, source).result()


def _read(source: str) -> ast.Module | None:
    """_parse, on the parsing thread."""
    while (tree := _python(source)) is None:
        head, _, body = source.lstrip().partition("\n")
        if not head.startswith("%%"):
            break
        source = body  # a loop, not recursion: a cell may stack thousands of cell magics
    if tree is not None:
        return tree
    lines = source.splitlines()
    magic = sum(1 for line in lines if line.lstrip().startswith(("!", "%")) or line.rstrip().endswith("?"))
    if magic * len(source) > IPYTHON_BUDGET:
        return None
    from autograder.grading.runner.cells import as_python  # late: IPython's transformer only for such cells

    python = as_python(source)
    return None if python is None else _python(python)


def _python(source: str) -> ast.Module | None:
    """ast.parse, or None for what is not Python: a syntax error, a NUL byte (ValueError on some versions), nesting
    deeper than Python reads (RecursionError)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def scan(source: str | Sequence[str], function_names: Iterable[str], forbidden: Iterable[str]
         ) -> dict[str, list[str]]:
    """function -> sorted forbidden names it reaches (directly or through the student's own helpers).

    `source` is one text or the notebook's cells, each parsed on its own (IPython's syntax too, as the kernel runs
    it): a cell that does not parse is left out (it defines nothing when it runs either), never the scan of every
    other cell.
    """
    cells = [source] if isinstance(source, str) else list(source)
    return scan_prefixes(cells, [len(cells)], function_names, forbidden)[len(cells)]


def scan_prefixes(cells: Sequence[str], counts: Iterable[int], function_names: Iterable[str],
                  forbidden: Iterable[str]) -> dict[int, dict[str, list[str]]]:
    """For each `count`: `scan` of the first `count` cells (what is defined where a question's test cell stands).

    One pass over the cells: each is parsed once, and the imports and definitions in effect grow cell by cell (the
    later ones win, as in `scan`); a function's uses are read once unless a later cell changes an import.
    """
    forbidden = tuple(forbidden)
    names = list(function_names)
    aliases: dict[str, str] = {}
    defs: dict[str, ast.AST] = {}
    uses: dict[str, tuple[set[str], set[str]]] = {}
    results: dict[int, dict[str, list[str]]] = {}
    done = 0
    for count in sorted(set(counts)):
        while done < min(count, len(cells)):
            tree = _parse(cells[done])
            done += 1
            nodes = _walk(tree) if tree is not None else []
            imported = _aliases(nodes)
            if any(aliases.get(name) != full for name, full in imported.items()):
                uses.clear()  # a name now means another module: read every function again
            aliases.update(imported)
            for node in _bound_defs(tree) if tree is not None else []:
                defs[node.name] = node
                uses.pop(node.name, None)
        results[count] = _hits(defs, aliases, uses, names, forbidden)
    return results


def _hits(defs: dict[str, ast.AST], aliases: dict[str, str], uses: dict[str, tuple[set[str], set[str]]],
          function_names: list[str], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """function -> the forbidden names it reaches through `defs` (`uses`: each function's uses, read on demand)."""
    result: dict[str, list[str]] = {}
    for name in function_names:
        hits: set[str] = set()
        seen, todo = set(), [name]
        while todo:  # follow calls into other functions defined in the same source
            current = todo.pop()
            if current in seen or current not in defs:
                continue
            seen.add(current)
            if current not in uses:
                uses[current] = _uses(defs[current], aliases)
            used, called = uses[current]
            hits.update(f for f in forbidden for u in used if _matches(u, f))
            todo.extend(called)
        result[name] = sorted(hits)
    return result


#: Private aten kernels that ARE an optimizer step or clip_grad's per-tensor norms, trapped at the dispatcher.
FUSED_OPS = re.compile(r"aten::(_fused_(adam|adamw|sgd|adagrad)_?|_foreach_norm)(\.|$)")


class Tripwire:
    """Record of the shortcuts hit while the tripwire was armed."""

    def __init__(self) -> None:
        """Start with nothing tripped."""
        self.tripped: list[str] = []

    def stand_in(self, name: str, original: Any) -> Any:
        """The trap for `original`: a function for what is callable, else an object whose every attribute is one."""
        trap = self.trap(name, original)
        return trap if callable(original) else _TrappedObject(trap)

    def trap(self, name: str, like: Any = None) -> Callable[..., Any]:
        """A replacement for `name` that records the call and raises ForbiddenCall; it looks like `like`."""
        def trapped(*args: Any, **kwargs: Any) -> Any:
            """Record the call, then refuse it."""
            self.tripped.append(name)
            raise ForbiddenCall(CHECKS["forbidden.trapped"].format(shortcut=name))
        for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):  # never __wrapped__
            value = getattr(like, attribute, None)
            if isinstance(value, str):
                setattr(trapped, attribute, value)
        return trapped


class _TrappedObject:
    """Stands in for an object (the autograd engine): any method of it is the trap."""

    def __init__(self, trap: Callable[..., Any]) -> None:
        """Every attribute will be `trap`."""
        self._trap = trap

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """The trap, whatever was asked for."""
        return self.__dict__["_trap"]


@functools.cache
def _targets() -> tuple[tuple[Any, str, str], ...]:
    """(owner object, attribute, shortcut name) for every patched entry point (computed once: armed per case)."""
    import torch.nn.utils as nn_utils
    import torch.nn.utils.clip_grad as clip_grad
    # torch.optim deletes its submodule attributes, so fetch the modules by name
    optim_modules = [importlib.import_module(f"torch.optim.{m}") for m in ("adam", "adamw", "rmsprop", "sgd")]

    targets: list[tuple[Any, str, str]] = [
        (torch.optim.Optimizer, "__init__", "torch.optim"),
        (torch.optim.Optimizer, "step", "torch.optim"),
        (torch.autograd, "grad", "torch.autograd.grad"),
        (torch.autograd, "backward", "torch.autograd.backward"),
        # the engine entry point catches grad/backward imported by name before the tripwire was armed
        (torch.autograd, "_engine_run_backward", "torch.autograd"),
        (torch.Tensor, "backward", "Tensor.backward"),
        # the C++ engine behind them, reached directly or through a new engine object
        (torch.autograd.Variable, "_execution_engine", "torch.autograd"),
        *[(torch._C, attr, "torch.autograd") for attr in ("_ImperativeEngine", "_EngineBase")
          if hasattr(torch._C, attr)],
    ]
    for module in optim_modules:
        for attr in dir(module):
            if attr.startswith(("_single_tensor_", "_multi_tensor_", "_fused_")) or attr in (
                    "adam", "adamw", "rmsprop", "sgd"):
                if callable(getattr(module, attr)) and not attr.endswith("_doc"):
                    targets.append((module, attr, f"torch.optim.{attr.lstrip('_')}"))
    for module_name, attrs in (("torch.optim._functional", ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax",
                                                          "nadam", "radam", "asgd", "adadelta", "rprop")),
                               ("torch.autograd.functional", ("vjp", "jvp", "jacobian", "hessian", "vhp", "hvp")),
                               ("torch.func", ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
                                               "linearize"))):
        module = importlib.import_module(module_name)
        for attr in attrs:
            if callable(getattr(module, attr, None)):
                targets.append((module, attr, f"{module_name}.{attr}"))
    for owner in (nn_utils, clip_grad):
        for attr, name in (("clip_grad_norm_", "torch.nn.utils.clip_grad_norm_"),
                           ("clip_grad_norm", "torch.nn.utils.clip_grad_norm_"),
                           ("clip_grad_value_", "torch.nn.utils.clip_grad_value_"),
                           ("get_total_norm", "torch.nn.utils.get_total_norm"),
                           ("clip_grads_with_norm_", "torch.nn.utils.clip_grads_with_norm_"),
                           ("_get_total_norm", "torch.nn.utils.clip_grad_norm_"),
                           ("_clip_grads_with_norm_", "torch.nn.utils.clip_grad_norm_")):
            if hasattr(owner, attr):
                targets.append((owner, attr, name))
    return tuple(targets)


@functools.cache
def _fused_op_names() -> tuple[str, ...]:
    """The dispatcher's ops matching FUSED_OPS, sorted (listing all ~3,600 ops costs ms: done once)."""
    return tuple(sorted(n for n in torch._C._dispatch_get_all_op_names() if FUSED_OPS.match(n)))


def _trap_fused_ops(wire: Tripwire) -> Any:
    """Register trapping CPU kernels for FUSED_OPS (every route to them goes through the dispatcher)."""
    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():  # "overriding a previously registered kernel" is the point
        warnings.simplefilter("ignore")
        for op in _fused_op_names():
            short = op.split("::", 1)[1]
            library.impl(short, wire.trap(f"torch.{short.split('.')[0]}"), "CPU")
    return library


class _Since(Tripwire):
    """The process-wide wire seen from one point on: what it recorded since then (see `tripwire`)."""

    def __init__(self, wire: Tripwire) -> None:
        """Start at what `wire` has recorded so far."""
        super().__init__()
        self._wire, self._start = wire, len(wire.tripped)

    @property
    def tripped(self) -> list[str]:
        """The shortcuts hit since this view was made."""
        return self._wire.tripped[self._start:]

    @tripped.setter
    def tripped(self, value: list[str]) -> None:
        """Tripwire.__init__ sets its own list: this view keeps none."""


@contextlib.contextmanager
def tripwire() -> Iterator[Tripwire]:
    """Arm every shortcut so it raises ForbiddenCall; restore the originals on exit (nesting is fine).

    In a process armed for good (`arm_for_good`) every shortcut is already a trap and no original is left
    to restore: the wire yielded is then that process-wide one, seen from here on (re-arming per case
    cost ~3.5 ms, most of a graded call)."""
    if _PROCESS_WIRE:
        yield _Since(_PROCESS_WIRE[0])
        return
    wire = Tripwire()
    saved: list[tuple[Any, str, Any]] = []
    library = None
    try:
        for owner, attr, name in _targets():
            saved.append((owner, attr, owner.__dict__[attr] if attr in vars(owner) else getattr(owner, attr)))
            setattr(owner, attr, wire.stand_in(name, getattr(owner, attr)))
        library = _trap_fused_ops(wire)
        yield wire
    finally:
        if library is not None:
            library._destroy()
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


_PROCESS_WIRE: list[Tripwire] = []


def arm_for_good() -> Tripwire:
    """Arm every shortcut for the rest of this process, leaving no reference to an original reachable.

    For the batch grader's worker, which never needs the originals: every module attribute and closure
    cell that holds one gets the trap instead, so the originals are freed. Returns the one process-wide
    wire (calling it again just returns it).
    """
    if _PROCESS_WIRE:
        return _PROCESS_WIRE[0]
    wire = Tripwire()
    traps: dict[int, Callable[..., Any]] = {}
    # every original stays alive until all are replaced: traps are keyed by id, and a freed original's id
    # could come back as another original's (which would then get the wrong trap, and the wrong name)
    originals = []
    for owner, attr, name in _targets():
        original = getattr(owner, attr)
        originals.append(original)
        trap = traps.setdefault(id(original), wire.stand_in(name, original))
        setattr(owner, attr, trap)
    watched = _mortal(originals)  # before the swap: it replaces them in every list, `originals` included
    _replace_everywhere(traps)
    del traps, originals, original
    _PROCESS_WIRE.append(wire)
    _trap_fused_ops_for_good(wire)
    _lock_grad_mode(wire)
    _free(watched)
    return wire


def _free(watched: list[weakref.ref[Any] | None]) -> None:
    """Make sure the originals `watched` (see `_mortal`) are gone: one in a reference cycle outlives the swap, and
    only the full collection frees it, which costs ~60 ms with torch loaded, so it runs only then."""
    if any(ref is None or ref() is not None for ref in watched):
        gc.collect()


def _mortal(objects: list[Any]) -> list[weakref.ref[Any] | None]:
    """Weak references to those of `objects` that can die, None for one that takes none yet is in the collector's
    care (whether it died cannot be told: collect). Left out: the static types of an extension, which never die,
    and objects the collector does not track (the autograd engine), which only their reference count frees."""
    refs: list[weakref.ref[Any] | None] = []
    for obj in objects:
        if isinstance(obj, type) and not obj.__flags__ & _HEAP_TYPE:
            continue
        try:
            refs.append(weakref.ref(obj))
        except TypeError:
            if gc.is_tracked(obj):
                refs.append(None)
    return refs


#: Py_TPFLAGS_HEAPTYPE: a class made at run time (which can be freed), not a static type of an extension.
_HEAP_TYPE = 1 << 9


def _trap_fused_ops_for_good(wire: Tripwire) -> None:
    """Register the FUSED_OPS traps through a dispatcher handle that no Python object refers to.

    A torch.library.Library (or its finalizer) found with gc could be destroyed, and destroying it restores
    torch's own kernels; the bare handle is not tracked by gc, and one extra reference keeps it forever.
    """
    handle = torch._C._dispatch_library("IMPL", "aten", "", "", 0)
    with warnings.catch_warnings():  # "overriding a previously registered kernel" is the point
        warnings.simplefilter("ignore")
        for op in _fused_op_names():
            short = op.split("::", 1)[1]
            # the stub omits the with_keyset flag that Library.impl passes too
            handle.impl(short, "CPU", wire.trap(f"torch.{short.split('.')[0]}"), False)  # type: ignore[call-arg]
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(handle))


def _lock_grad_mode(wire: Tripwire) -> None:
    """Record no autograd graph in this thread, for good: calling a graph node (`y.grad_fn(...)`) would run
    torch's derivative formulas without the engine. Turning recording (or forward AD) on again is the trap."""
    torch._C._set_grad_enabled(False)
    grad_trap = wire.trap("torch.autograd")

    def set_grad_enabled(mode: bool) -> None:
        """Recording stays off: off is a no-op, on is a forbidden shortcut."""
        if mode:
            grad_trap()
    for attr, stand_in in (("_set_grad_enabled", set_grad_enabled), ("_set_fwd_grad_enabled", set_grad_enabled),
                           ("_enter_dual_level", grad_trap)):
        setattr(torch._C, attr, stand_in)


def _swap(value: Any, traps: dict[int, Callable[..., Any]]) -> Any:
    """`value` with originals swapped for traps (a tuple is rebuilt), or `value` itself when none is in it."""
    if id(value) in traps and traps[id(value)] is not value:
        return traps[id(value)]
    if type(value) is tuple and any(id(v) in traps for v in value):
        return tuple(traps.get(id(v), v) for v in value)
    return value


def _replace_everywhere(traps: dict[int, Callable[..., Any]]) -> None:
    """Swap each original (by id) for its trap in modules, classes, closure cells, dicts and lists."""
    for module in list(sys.modules.values()):
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for attr, value in items:
            if _swap(value, traps) is not value:
                setattr(module, attr, _swap(value, traps))
    objects = gc.get_objects()
    classes = [o for o in objects if issubclass(type(o), type)]
    class_dicts = {id(d) for c in classes for d in gc.get_referents(vars(c))}
    for cls in classes:
        for attr, value in list(vars(cls).items()):
            if id(value) in traps and traps[id(value)] is not value:
                try:
                    setattr(cls, attr, traps[id(value)])
                except (TypeError, AttributeError):  # a C type: its methods are not among the originals
                    pass
    for obj in objects:
        kind = type(obj)
        if kind is types.CellType:
            try:
                value = obj.cell_contents
            except ValueError:  # an empty cell
                continue
            if _swap(value, traps) is not value:
                obj.cell_contents = _swap(value, traps)
        elif kind is dict and id(obj) not in class_dicts:
            for key, value in list(obj.items()):
                if _swap(value, traps) is not value:
                    obj[key] = _swap(value, traps)
        elif kind is list:
            for position, value in enumerate(list(obj)):
                if _swap(value, traps) is not value:
                    obj[position] = _swap(value, traps)
