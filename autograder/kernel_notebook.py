"""The notebook a Jupyter kernel runs, as Jupyter tells the kernel, and the language that notebook asks for.

JupyterLab and Notebook 7 name it in `__session__` (and JPY_SESSION_NAME), VS Code in `__vsc_ipynb_file__`;
`nbgrader autograde` names nothing but runs the kernel in the notebook's own folder
(autograded/<student>/<assignment>/), so the notebooks there count too when they agree. submit() sends it; the
checks speak its language (checks/messages.py), wherever the student keeps it.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

#: What a file that is not a readable notebook asks for: nothing (it neither decides nor disagrees).
UNREADABLE = "?"


def named() -> list[Path]:
    """The notebook files Jupyter named to this kernel, in the order they are trusted."""
    names: list[str] = []
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            names += [shell.user_ns.get("__session__") or "", shell.user_ns.get("__vsc_ipynb_file__") or ""]
    except ImportError:
        pass
    names.append(os.environ.get("JPY_SESSION_NAME", ""))
    return [Path(n) for n in names if isinstance(n, str) and n.endswith(".ipynb") and Path(n).is_file()]


def beside(cwd: str | os.PathLike[str] | None = None) -> list[Path]:
    """The notebooks in the kernel's folder (Jupyter starts a kernel in its notebook's folder)."""
    try:
        return sorted(p for p in Path(cwd or os.getcwd()).glob("*.ipynb") if p.is_file())
    except OSError:
        return []


def language(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The language of the notebook this kernel runs (notebook_i18n.notebook_language): the one Jupyter named,
    else the one all notebooks in the kernel's folder agree on; None when none is known or they disagree."""
    found = named()
    if found:
        lang = _language_of(*_stamp(found[0]))
        return None if lang == UNREADABLE else lang
    langs = {_language_of(*_stamp(p)) for p in beside(cwd)[:20]} - {UNREADABLE}
    return langs.pop() if len(langs) == 1 else None


def _stamp(path: Path) -> tuple[str, int, int]:
    """The path with its modification time and size: a saved notebook is read again."""
    try:
        info = path.stat()
    except OSError:
        return str(path), 0, -1
    return str(path), info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=8)
def _language_of(path: str, mtime_ns: int, size: int) -> str | None:
    """The language `path` asks for (None: English; UNREADABLE for a file that is not a readable notebook)."""
    from autograder.notebook_i18n import notebook_language

    if size < 0:
        return UNREADABLE
    try:
        with open(path, "rb") as handle:
            return notebook_language(json.load(handle))
    except (OSError, ValueError, RecursionError):
        return UNREADABLE
