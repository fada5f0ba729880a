"""Inputs must not change: snapshots of the tensors a check hands to the student, compared after each call.

A run function registers the tensors it passes in (`watch`); `student()` wraps every student function so
that, right after it returns, a changed input is reported naming the function and the argument. The one
exception is an optimizer's `param`, which may be updated in place when that same tensor is returned
(what torch.optim does); the gradients a clipping function must change are simply not watched.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from autograder.message import Message, say


class ChangedInput(Exception):
    """A student function changed one of its input tensors in place; `message` says which."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.code)
        self.message = message


@dataclass
class _Item:
    """One watched tensor, its snapshot, and whether returning it excuses an in-place change."""

    what: str
    tensor: Tensor
    before: Tensor
    may_return: bool


@dataclass
class Guard:
    """The tensors watched during one case."""

    items: list[_Item] = field(default_factory=list)

    def after(self, function: str, returned: Any) -> None:
        """Raise ChangedInput when a watched tensor differs from its snapshot after `function` returned."""
        for item in list(self.items):
            if same(item.tensor, item.before):
                continue
            if item.may_return and returned is item.tensor:
                self.items.remove(item)  # updated in place and returned: it is now the output
                continue
            code = "changed.returnable" if item.may_return else "changed.input"
            raise ChangedInput(say(code, function=function, what=item.what))


_CURRENT: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("course_input_guard", default=None)


def same(a: Tensor, b: Tensor) -> bool:
    """Same shape, dtype and values (NaN equal to NaN)."""
    with torch._C.DisableTorchFunctionSubclass():
        if type(a) is not torch.Tensor:
            a = torch.Tensor.as_subclass(a, torch.Tensor)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        a = a.detach().to("cpu")
        if torch.equal(a, b):  # one fused comparison: the usual case, ~5x cheaper than the NaN-aware one below
            return True
        equal = a == b
        if a.is_floating_point() or a.is_complex():
            equal = equal | (torch.isnan(a) & torch.isnan(b))
        return bool(equal.all())


def watch(what: str, tensor: Tensor, may_return: bool = False) -> Tensor:
    """Register `tensor` (passed to the student as `what`) with the current guard; return it."""
    guard = _CURRENT.get()
    if guard is not None and isinstance(tensor, Tensor):
        guard.items.append(_Item(what, tensor, tensor.detach().to("cpu").clone(), may_return))
    return tensor


def after_call(function: str, returned: Any) -> None:
    """Check the current guard after a student function returned (no guard: nothing to check)."""
    guard = _CURRENT.get()
    if guard is not None:
        guard.after(function, returned)


@contextlib.contextmanager
def guarding() -> Iterator[Guard]:
    """A fresh guard for the duration of one case."""
    guard = Guard()
    token = _CURRENT.set(guard)
    try:
        yield guard
    finally:
        _CURRENT.reset(token)
