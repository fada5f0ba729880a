"""Where a student's function failed: the innermost frame of the student's own code, as cell and line."""

from __future__ import annotations

import linecache
import re
import sys
import traceback
from pathlib import Path
from types import TracebackType

from autograder.message import Message, say

_PACKAGE = str(Path(__file__).resolve().parent.parent)
_SYSTEM = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def _is_student(filename: str) -> bool:
    """True for notebook cells and files that are neither the course package nor installed libraries."""
    if filename.startswith("<cell") or filename.startswith("<ipython-input"):
        return True
    if filename.startswith("<"):  # <frozen ...>, <string> of library code
        return False
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, RuntimeError, ValueError):
        return False
    return not resolved.startswith(_PACKAGE) and not resolved.startswith(_SYSTEM)


def _cell_name(filename: str) -> Message | str:
    """'Cell In[7]' under IPython (Jupyter's own name), 'cell answer-3' in the batch grader, else the file's name."""
    try:
        from IPython import get_ipython  # optional: only inside Jupyter

        shell = get_ipython()
        number = shell.compile._filename_map.get(filename) if shell is not None else None
        if number is not None:
            return say("where.ipython_cell", number=f"In[{number}]")
    except (ImportError, AttributeError, TypeError):  # IPython absent or different: fall back to the file name
        pass
    if filename.startswith("<cell ") and filename.endswith(">"):  # the batch grader's cells (grading/runner/child.py)
        return say("where.cell", label=filename[6:-1])
    if filename.startswith("<") and filename.endswith(">"):
        return filename[1:-1]
    return Path(filename).name


def location(tb: TracebackType | None) -> Message | None:
    """'in relu_backward, Cell In[7], line 3: `return dout / 0`', or None when no student frame is on the stack."""
    frames = [f for f in traceback.extract_tb(tb) if _is_student(f.filename)]
    if not frames:
        return None
    frame = frames[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    where = {"function": frame.name, "cell": _cell_name(frame.filename), "line": frame.lineno or 0}
    return say("where.in_code", code=line, **where) if line else say("where.in", **where)


#: What stands for an exception's text when its own `__str__` raised (Python's traceback module says the same).
STR_FAILED = "<exception str() failed>"


def exception_text(exc: BaseException) -> str:
    """`str(exc)`, or STR_FAILED when the student's `__str__` raises (anything) or returns no str: reading an
    exception's text must never raise in the code that reports it (the notebook's checks, the sandbox's child)."""
    try:
        text = str(exc)
    except (Exception, SystemExit, KeyboardInterrupt):
        return STR_FAILED
    return text if isinstance(text, str) else STR_FAILED


#: Python's own wording of an undefined name, which gets a hint of its own.
_UNDEFINED = re.compile(r"name '(\w+)' is not defined")


def describe_exception(exc: BaseException) -> Message:
    """'raised ZeroDivisionError: <the whole message> (in f, Cell In[3], line 2: `...`)'."""
    text, kind = exception_text(exc).strip(), type(exc).__name__
    where = location(exc.__traceback__)
    undefined = _UNDEFINED.fullmatch(text) if isinstance(exc, NameError) else None
    if kind == "NotImplementedError" and not text:
        code, params = "raised.stub", {}
    elif undefined:
        code, params = "raised.undefined", {"name": undefined.group(1)}
    else:
        code, params = ("raised.text", {"type": kind, "text": text}) if text else ("raised", {"type": kind})
    return say(code + ".at", where=where, **params) if where else say(code, **params)
