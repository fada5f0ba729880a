"""A message as data: a code naming its wording, and its parameters (text, numbers or nested messages).

Checks, the grader and its records pass `Message`s, never sentences; text is made only at the edges (the
notebook's check output, the feedback page, the CSVs) by autograder/checks/messages.py, the one catalog, in
the reader's language. A parameter that is text (a function name, a shape, the student's exception text) is
shown as it is in every language; a nested message is rendered in the reader's language too.

This module imports only its caps (runner/limits.py): the runner ships it into the sandbox,
and a message that crossed a boundary is rebuilt by `Message.from_plain`, which checks every part of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Union

from autograder.grading.runner import limits

#: The caps on a message read from untrusted JSON (they live with every other cap, in runner/limits.py).
CODE_CHARS, NAME_CHARS, TEXT_CHARS = limits.MESSAGE_CODE_CHARS, limits.MESSAGE_NAME_CHARS, limits.MESSAGE_TEXT_CHARS
PARAMS, ITEMS, DEPTH, NODES = limits.MESSAGE_PARAMS, limits.MESSAGE_ITEMS, limits.MESSAGE_DEPTH, limits.MESSAGE_NODES

#: A parameter: text or a number shown as it is, a nested message, or a list of those (joined by the catalog).
Param = Union[str, int, float, "Message", tuple["Param", ...]]

#: What a code and a parameter's name may look like ("check.case", "grade_id").
CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
NAME = re.compile(r"[a-z_][a-z0-9_]*")


class BadMessage(ValueError):
    """A message read from plain data is malformed: the text says which part."""


@dataclass(frozen=True)
class Message:
    """A code and its parameters, sorted by name (hashable: equal messages are equal data)."""

    code: str
    params: tuple[tuple[str, Param], ...] = ()

    @property
    def args(self) -> dict[str, Param]:
        """The parameters as a dict."""
        return dict(self.params)

    def get(self, name: str, default: Param | None = None) -> Param | None:
        """One parameter, or `default`."""
        return self.args.get(name, default)

    def to_plain(self) -> dict[str, Any]:
        """{"code": ..., "params": {...}}: JSON types only (lists for lists, objects for nested messages)."""
        return {"code": self.code, "params": {name: _plain(value) for name, value in self.params}}

    @staticmethod
    def from_plain(raw: Any) -> Message:
        """to_plain's inverse, every part checked and capped; BadMessage naming the first problem."""
        nodes = [0]
        return _message(raw, 0, nodes)

    def walk(self) -> Iterator[Message]:
        """This message and every message nested in it, depth first."""
        yield self
        for _, value in self.params:
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, Message):
                    yield from item.walk()

    def map_text(self, fn: Callable[[str], str]) -> Message:
        """A copy with `fn` applied to every text parameter, nested ones included (to make text safe or short)."""
        def one(value: Param) -> Param:
            if isinstance(value, str):
                return fn(value)
            if isinstance(value, Message):
                return value.map_text(fn)
            if isinstance(value, tuple):
                return tuple(one(v) for v in value)
            return value
        return Message(self.code, tuple((name, one(value)) for name, value in self.params))


def say(code: str, /, **params: Param | list[Param]) -> Message:
    """The message `code` with these parameters (lists become tuples); ValueError for a malformed code or name."""
    if not CODE.fullmatch(code):
        raise ValueError(f"malformed message code {code!r}")
    for name in params:
        if not NAME.fullmatch(name):
            raise ValueError(f"malformed parameter name {name!r} of {code}")
    return Message(code, tuple(sorted((name, _frozen(value)) for name, value in params.items())))


def _frozen(value: Any) -> Param:
    """Lists as tuples, all the way down."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Message)):
        raise ValueError(f"a message parameter must be text, a number or a message, not {type(value).__name__}")
    return value


def _plain(value: Param) -> Any:
    """One parameter as JSON types."""
    if isinstance(value, Message):
        return value.to_plain()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _message(raw: Any, depth: int, nodes: list[int]) -> Message:
    """A checked Message from its plain form."""
    nodes[0] += 1
    if depth > DEPTH or nodes[0] > NODES:
        raise BadMessage(f"message nested deeper than {DEPTH} or holding more than {NODES} messages")
    if not isinstance(raw, dict) or set(raw) != {"code", "params"}:
        raise BadMessage("a message is an object with exactly 'code' and 'params'")
    code, params = raw["code"], raw["params"]
    if not isinstance(code, str) or len(code) > CODE_CHARS or not CODE.fullmatch(code):
        raise BadMessage(f"malformed message code {str(code)[:40]!r}")
    if not isinstance(params, dict) or len(params) > PARAMS:
        raise BadMessage(f"{code}: params is not an object of at most {PARAMS} entries")
    checked = []
    for name, value in params.items():
        if not isinstance(name, str) or len(name) > NAME_CHARS or not NAME.fullmatch(name):
            raise BadMessage(f"{code}: malformed parameter name {str(name)[:40]!r}")
        checked.append((name, _param(value, code, depth, nodes)))
    return Message(code, tuple(sorted(checked)))


def _param(value: Any, code: str, depth: int, nodes: list[int], listed: bool = False) -> Param:
    """One checked parameter."""
    if isinstance(value, str):
        if len(value) > TEXT_CHARS:
            raise BadMessage(f"{code}: a text parameter longer than {TEXT_CHARS} characters")
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise BadMessage(f"{code}: a parameter is not a finite number")
        return value
    if isinstance(value, dict):
        return _message(value, depth + 1, nodes)
    if isinstance(value, list) and not listed and len(value) <= ITEMS:
        return tuple(_param(v, code, depth, nodes, listed=True) for v in value)
    raise BadMessage(f"{code}: a parameter is neither text, a number, a message nor a short flat list")
