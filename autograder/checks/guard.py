"""Inputs must not change: snapshots of the tensors a check hands to the student, compared after each call.

A run function registers the tensors it passes in (`watch`); `student()` wraps every student function so
that, right after it returns, a changed input is reported naming the function and the argument. The one
exception is an optimizer's `param`, which may be updated in place when that same tensor is returned
(what torch.optim does); the gradients a clipping function must change are simply not watched.

After a call, only the tensors torch saw written since their snapshot (their version counter moved: every
in-place op, `out=` and indexed assignment moves it) are compared, and the returned `param`; every watched
tensor is compared once more at the end of the case (`Guard.finish`), which catches writes torch does not
count (through `.data`, `.numpy()` or the storage). Comparing every earlier input after every call cost time
quadratic in an optimizer's steps: a third of a graded question.
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
    version: int


@dataclass
class Guard:
    """The tensors watched during one case."""

    items: list[_Item] = field(default_factory=list)
    #: The student function that returned last (named when `finish` finds a change).
    last: str = ""

    def after(self, function: str, returned: Any) -> None:
        """Raise ChangedInput when a watched tensor differs from its snapshot after `function` returned."""
        self.last = function
        for item in list(self.items):
            if (item.may_return and returned is item.tensor) or item.version < 0 \
                    or _version(item.tensor) != item.version:
                self._check(item, function, returned)

    def finish(self) -> None:
        """Raise ChangedInput when any watched tensor differs from its snapshot at the end of the case."""
        for item in list(self.items):
            self._check(item, self.last, None)

    def _check(self, item: _Item, function: str, returned: Any) -> None:
        """Compare one item with its snapshot; drop it when it was updated in place and returned."""
        if same(item.tensor, item.before):
            item.version = _version(item.tensor)
            return
        if item.may_return and returned is item.tensor:
            self.items.remove(item)  # updated in place and returned: it is now the output
            return
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


#: torch's own descriptor, taken at import (before any student code): a class attribute `torch.Tensor._version`
#: set later does not hide it.
_VERSION: Any = vars(torch._C.TensorBase)["_version"]


def _version(tensor: Tensor) -> int:
    """torch's count of in-place writes to `tensor` (shared by its views); -1 where it keeps none (then the
    tensor is compared after every call)."""
    try:
        return int(_VERSION.__get__(tensor))
    except (RuntimeError, TypeError):  # an inference tensor has no version counter
        return -1


def watch(what: str, tensor: Tensor, may_return: bool = False) -> Tensor:
    """Register `tensor` (passed to the student as `what`) with the current guard; return it."""
    guard = _CURRENT.get()
    if guard is not None and isinstance(tensor, Tensor):
        guard.items.append(_Item(what, tensor, tensor.detach().to("cpu").clone(), may_return, _version(tensor)))
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
