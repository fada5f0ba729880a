"""Reading records from the other side of a boundary: `BadRecord`, strict typed readers, and `safe_text`.

Shared by the records that cross into the sandbox (wire.py) and the trusted ones (core/model.py); it ships in
the runner, so it imports nothing but the standard library and the caps in limits.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from autograder.grading.runner.limits import KEY_CHARS, MAP_ENTRIES, RECORD_ITEMS, RECORD_TEXT_CHARS


class BadRecord(ValueError):
    """A record read from JSON is malformed: the message names the field and the problem."""


# --- text from the other side of the trust boundary ------------------------------------------------------

#: Code points no output file may hold, whoever wrote them: C0 and C1 controls (tab and newline aside),
#: DEL, lone surrogates (not encodable as UTF-8), and the bidi embeddings, overrides and isolates that
#: make text display in another order than it reads (U+202A-202E, U+2066-2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_text(value: str | bytes, *, lines: bool = True) -> str:
    """`value` as text every output can hold: bytes decoded as UTF-8, CR and CRLF made newlines, and each unsafe
    code point (see _UNSAFE; newline and tab too unless `lines`) replaced by U+FFFD.

    The one place student-controlled text is made safe: every Row and Result passes its text through it
    when it is built, whether it was graded here, sent by a Dask worker or read back from disk.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return (_UNSAFE if lines else _UNSAFE_IN_A_LINE).sub("\ufffd", text)


def safe_fields(record: Any, one_line: tuple[str, ...], many_lines: tuple[str, ...] = ()) -> None:
    """Make the named text fields of a frozen record safe in place (safe_text), as it is built."""
    for name in one_line + many_lines:
        value = getattr(record, name)
        if isinstance(value, str | bytes):
            object.__setattr__(record, name, safe_text(value, lines=name in many_lines))


# --- strict readers for untrusted JSON ------------------------------------------------------------------

def record(raw: Any, what: str, required: frozenset[str], optional: frozenset[str] = frozenset()
            ) -> Mapping[str, Any]:
    """`raw` as a JSON object with every required key and no unknown one."""
    if not isinstance(raw, dict):
        raise BadRecord(f"{what}: a {type(raw).__name__} instead of an object")
    unknown = sorted(str(k)[:40] for k in raw if k not in required | optional)
    if unknown:
        raise BadRecord(f"{what}: unknown field(s) {', '.join(unknown[:5])}")
    lacking = sorted(required - set(raw))
    if lacking:
        raise BadRecord(f"{what}: lacks {', '.join(lacking)}")
    return raw


def text(value: Any, what: str, limit: int = RECORD_TEXT_CHARS) -> str:
    """A str of at most `limit` characters."""
    if not isinstance(value, str):
        raise BadRecord(f"{what} is not text")
    if len(value) > limit:
        raise BadRecord(f"{what} is {len(value)} characters, more than {limit}")
    return value


def integer(value: Any, what: str) -> int:
    """An int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{what} is not an integer")
    return value


def number(value: Any, what: str) -> float:
    """A finite int or float (not a bool), as float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRecord(f"{what} is not a finite number")
    return float(value)


def flag(value: Any, what: str) -> bool:
    """A bool."""
    if not isinstance(value, bool):
        raise BadRecord(f"{what} is not true/false")
    return value


def texts(value: Any, what: str, limit: int = RECORD_TEXT_CHARS) -> tuple[str, ...]:
    """A list of str, each at most `limit` characters."""
    if not isinstance(value, list | tuple) or len(value) > RECORD_ITEMS:
        raise BadRecord(f"{what} is not a list of at most {RECORD_ITEMS} texts")
    return tuple(text(v, f"{what}[{i}]", limit) for i, v in enumerate(value))


def text_map(value: Any, what: str, limit: int = RECORD_TEXT_CHARS) -> dict[str, str]:
    """A {str: str} object of at most MAP_ENTRIES entries."""
    if not isinstance(value, dict) or len(value) > MAP_ENTRIES:
        raise BadRecord(f"{what} is not a map of text")
    return {text(k, f"{what} key", KEY_CHARS): text(v, f"{what}[{str(k)[:KEY_CHARS]!r}]", limit)
            for k, v in value.items()}
