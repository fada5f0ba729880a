"""Run a notebook cell's code as the Jupyter kernel under `nbgrader autograde` runs it, where that differs from exec.

An honest notebook may hold IPython syntax (`%%time` over an answer, `%matplotlib inline`, `!pip list`,
`torch.zeros?`), use `get_ipython()` or `display(...)`, `await` at the top level, or a `from __future__ import
annotations` cell that holds for the cells after it. The kernel runs all of these; a plain `exec` would make the
answer's cell raise (SyntaxError, NameError) and cost the questions nbgrader gives points for. So: a cell that is
not Python is rewritten by IPython's own input transformer (valid Python never is), a cell compiles with the
future imports of the cells before it and never with this module's own, a cell with a top-level `await` runs on
one event loop, and `get_ipython()` / `display` are IPython's, loaded only when a cell first uses them (an honest
notebook without IPython syntax pays nothing).
"""

from __future__ import annotations
import __future__

import ast
import inspect
from types import CodeType
from typing import Any

#: Every `from __future__ import ...` compiler flag: carried from a cell to the cells after it, as IPython does.
_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag


def as_python(source: str) -> str | None:
    """A cell in IPython's syntax (`%%time`, `!ls`, `f?`) as IPython's own input transformer rewrites it to Python;
    None when it is not IPython's syntax either, or is Python already (the transformer leaves it as it is). Shared by
    the runner and the forbidden-shortcut scan (autograder/checks/forbidden.py), so both read a cell alike."""
    import tokenize

    try:
        from IPython.core.inputtransformer2 import TransformerManager

        python = TransformerManager().transform_cell(source)
    except (ImportError, SyntaxError, ValueError, LookupError, TypeError, tokenize.TokenError,
            RuntimeError):  # not code at all (RuntimeError: still changing after IPython's 500 passes; RecursionError)
        return None
    return None if python.rstrip("\n") == source.rstrip("\n") else python


class Kernel:
    """The state a notebook's cells share beyond their namespace: future imports, the event loop, the shell."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        """Cells run in `namespace`, which gets the kernel's `get_ipython` and `display` (both loaded on first use)."""
        self.namespace = namespace
        self.flags = 0
        self._loop: Any = None
        self._shell: Any = None
        namespace.setdefault("get_ipython", self.get_ipython)
        namespace.setdefault("display", self.display)

    def get_ipython(self) -> Any:
        """IPython's shell over the cells' namespace, as `get_ipython()` returns it in the kernel."""
        if self._shell is None:
            import tempfile

            from IPython.core.interactiveshell import InteractiveShell
            from traitlets.config import Config

            class Shell(InteractiveShell):
                """The kernel's shell as far as grading goes: `%matplotlib inline` needs no GUI event loop."""

                def enable_gui(self, gui: Any = None) -> None:
                    """No GUI: figures stay in memory, as the inline backend keeps them."""

            config = Config()
            config.HistoryManager.enabled = False  # no sqlite file
            # its profile in the submission's scratch folder (the sandbox's home is read-only), not a warning
            self._shell = Shell.instance(config=config, user_ns=self.namespace,
                                         ipython_dir=tempfile.mkdtemp(prefix="ipython-"))
        return self._shell

    def display(self, *objs: Any, **kwargs: Any) -> None:
        """IPython's `display`, a builtin in the kernel."""
        self.get_ipython()
        from IPython.display import display

        display(*objs, **kwargs)

    def compile(self, source: str, filename: str) -> CodeType:
        """`source` compiled as the kernel compiles a cell (SyntaxError as Python words it when it is not code)."""
        flags = self.flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            code = compile(source, filename, "exec", flags=flags, dont_inherit=True)
        except SyntaxError as error:
            code = self._ipython(source, filename, flags, error)
        self.flags |= code.co_flags & _FUTURE_FLAGS
        return code

    @staticmethod
    def _ipython(source: str, filename: str, flags: int, error: SyntaxError) -> CodeType:
        """`source` in IPython's syntax rewritten to Python and compiled; `error` when that is no Python either."""
        python = as_python(source)
        if python is None:
            raise error
        try:
            return compile(python, filename, "exec", flags=flags, dont_inherit=True)
        except SyntaxError:
            raise error from None

    def run(self, code: CodeType) -> None:
        """Run a compiled cell in the namespace (a cell with a top-level `await` on the notebook's event loop)."""
        result = eval(code, self.namespace)  # running it is the sandbox's job
        if code.co_flags & inspect.CO_COROUTINE:
            if self._loop is None:
                import asyncio

                self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(result)
