"""autograder.grading.runner.cells: a cell runs as the Jupyter kernel under `nbgrader autograde` runs it.

Each behaviour here was checked against real nbgrader 0.9 (`nbgrader autograde` of the optimizers notebook): an
answer cell opened by `%%time`, `%matplotlib inline` / `!echo` / `x = !ls`, `torch.zeros?`, `get_ipython()`,
`display(...)` or a top-level `await` earned full marks there, and a plain `exec` made each of them lose the question.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from autograder.grading.runner.cells import Kernel


def _run(*sources: str) -> dict:
    """The namespace after running `sources` as consecutive cells of one notebook."""
    kernel = Kernel({"__name__": "__main__"})
    for index, source in enumerate(sources):
        kernel.run(kernel.compile(source, f"<cell #{index + 1}>"))
    return kernel.namespace


def test_plain_python_and_top_level_await_need_no_ipython() -> None:
    """A top-level `await` runs on the notebook's event loop; an honest plain cell is plain Python."""
    ns = _run("import asyncio\nawait asyncio.sleep(0)\ndef step(x):\n    return x + 1\n", "y = step(1)")
    assert ns["y"] == 2


def test_future_imports_hold_for_later_cells_and_never_come_from_the_grader() -> None:
    """As IPython compiles cells: a cell's `from __future__ import annotations` holds for the cells after it, and a
    notebook without one evaluates its annotations (the grader's own future import must not leak into its cells)."""
    annotated = "def step(x: NotDefinedHere):\n    return x\n"
    assert callable(_run("from __future__ import annotations", annotated)["step"])
    with pytest.raises(NameError, match="NotDefinedHere"):
        _run(annotated)


def test_ipython_syntax_runs_as_in_the_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cell and line magics, shell escapes, `?` help and `get_ipython()`/`display` in the cells' namespace."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the shell's profile folder
    ns = _run("%%time\ndef step(x):\n    return 2 * x\n",
              "%time y = step(3)\nfiles = !echo hi\nstep?\ndisplay(y)\nshell = get_ipython()")
    assert ns["y"] == 6 and list(ns["files"]) == ["hi"] and ns["shell"].user_ns is ns


def test_what_is_no_code_in_either_syntax_raises_pythons_syntax_error() -> None:
    """A cell that is neither Python nor IPython: the SyntaxError names the cell and line, as before."""
    with pytest.raises(SyntaxError) as raised:
        Kernel({}).compile("x = 1\ndef broken(:\n", "<cell sgd-step>")
    assert raised.value.filename == "<cell sgd-step>" and raised.value.lineno == 2
