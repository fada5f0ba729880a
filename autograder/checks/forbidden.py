"""Detect forbidden shortcuts (torch.optim, autograd, torch's clipping) in graded functions.

Two independent nets: `scan` reads the source (AST) and follows calls into the student's own helpers;
`tripwire` replaces the shortcuts at run time so that calling one raises `ForbiddenCall` naming it, and
records the call even when the student's code swallows the exception.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
from collections.abc import Iterable, Iterator
from typing import Any, Callable

import torch

#: Prefix of an error output that means "a forbidden shortcut was used" (the judge reports status forbidden).
FORBIDDEN_PREFIX = "forbidden: "

#: Everything the tripwire intercepts; names are those a message shows to the student.
SHORTCUTS = ("torch.optim", "torch.autograd", "Tensor.backward", "torch.nn.utils.clip_grad_norm_",
             "torch.nn.utils.clip_grad_value_")


class ForbiddenCall(RuntimeError):
    """Raised by the tripwire when a graded function calls a shortcut it must implement itself."""


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


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> full dotted name for every import anywhere in the source."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _local_names(fn: ast.AST) -> set[str]:
    """Names a function binds itself (parameters, assignments): calling one is not calling a top-level helper."""
    local = {a.arg for a in ast.walk(fn) if isinstance(a, ast.arg)}
    local.update(n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return local


def _uses(fn: ast.AST, aliases: dict[str, str]) -> tuple[set[str], set[str]]:
    """(full dotted names used, plain names called) inside one function body.

    `x.backward(...)` is left to the run-time tripwire: statically it cannot be told apart from a student's
    own layer object with a `backward` method (a common, honest style in the backprop exercise).
    """
    used: set[str] = set()
    called: set[str] = set()
    local = _local_names(fn)
    for node in ast.walk(fn):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update(_aliases(ast.Module(body=[node], type_ignores=[])).values())
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in local:
            called.add(node.func.id)
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node)
            if name:
                head, _, rest = name.partition(".")
                full = aliases.get(head, head)
                used.add(f"{full}.{rest}" if rest else full)
    return used, called


def _matches(name: str, forbidden: str) -> bool:
    """True when `name` is `forbidden` or lies inside it (torch.optim.Adam inside torch.optim)."""
    return name == forbidden or name.startswith(forbidden + ".")


def scan(source: str, function_names: Iterable[str], forbidden: Iterable[str]) -> dict[str, list[str]]:
    """function -> sorted forbidden names it reaches (directly or through the student's own helpers)."""
    forbidden = tuple(forbidden)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {name: [] for name in function_names}
    aliases = _aliases(tree)
    defs = {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    result: dict[str, list[str]] = {}
    for name in function_names:
        hits: set[str] = set()
        seen, todo = set(), [name]
        while todo:  # follow calls into other functions defined in the same source
            current = todo.pop()
            if current in seen or current not in defs:
                continue
            seen.add(current)
            used, called = _uses(defs[current], aliases)
            hits.update(f for f in forbidden for u in used if _matches(u, f))
            todo.extend(called)
        result[name] = sorted(hits)
    return result


class Tripwire:
    """Record of the shortcuts hit while the tripwire was armed."""

    def __init__(self) -> None:
        """Start with nothing tripped."""
        self.tripped: list[str] = []

    def trap(self, name: str) -> Callable[..., Any]:
        """A replacement for `name` that records the call and raises ForbiddenCall."""
        def trapped(*args: Any, **kwargs: Any) -> Any:
            """Record the call, then refuse it."""
            self.tripped.append(name)
            raise ForbiddenCall(f"{name} is a forbidden shortcut in this exercise: write the computation yourself")
        return trapped


@functools.cache
def _targets() -> tuple[tuple[Any, str, str], ...]:
    """(owner object, attribute, shortcut name) for every patched entry point (computed once: checks arm it per case)."""
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
    ]
    for module in optim_modules:
        for attr in dir(module):
            if attr.startswith(("_single_tensor_", "_multi_tensor_", "_fused_")) or attr in (
                    "adam", "adamw", "rmsprop", "sgd"):
                if callable(getattr(module, attr)) and not attr.endswith("_doc"):
                    targets.append((module, attr, f"torch.optim.{attr.lstrip('_')}"))
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


@contextlib.contextmanager
def tripwire() -> Iterator[Tripwire]:
    """Arm every shortcut so it raises ForbiddenCall; restore the originals on exit (nesting is fine)."""
    wire = Tripwire()
    saved: list[tuple[Any, str, Any]] = []
    try:
        for owner, attr, name in _targets():
            saved.append((owner, attr, owner.__dict__[attr] if attr in vars(owner) else getattr(owner, attr)))
            setattr(owner, attr, functools.wraps(getattr(owner, attr))(wire.trap(name))
                    if callable(getattr(owner, attr)) else wire.trap(name))
        yield wire
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)
