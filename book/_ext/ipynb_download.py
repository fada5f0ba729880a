"""Sphinx extension: offer every executed MyST-markdown chapter as a downloadable .ipynb with its outputs.

sphinx-book-theme adds a ".ipynb" entry to the download menu when the page context names an
`ipynb_source`, but nothing sets it for text notebooks; myst-nb leaves the executed notebook in
`_build/jupyter_execute/`, so we publish that copy under `_sources/` and name it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx


def add_ipynb_source(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Copy the executed notebook of `pagename` next to its source and point the download menu at it."""
    if context.get("page_source_suffix") == ".ipynb":
        return  # the source itself is a notebook: the theme's ".ipynb" source download already covers it
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> dict[str, Any]:
    """Run before sphinx-book-theme builds its header buttons (priority 501)."""
    app.connect("html-page-context", add_ipynb_source, priority=500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
