"""Sphinx extension: one offline copy of MathJax for both editions, and only the MathJax components the book uses.

The English build copies MathJax (from the sphinx-mathjax-offline package) into `_build/html/_static/mathjax`;
the Chinese edition, published at `_build/html/zh_CN/`, points at that copy (`../` from its own `_static`) instead
of carrying a second 24 MB folder. Pages load MathJax's startup loader with the TeX input and CommonHTML output
(about 0.73 MB) instead of the combined `tex-chtml.js` (1.16 MB), whose extra 0.4 MB is the right-click menu, and only
pages with formulas load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sphinx
from language_switch import is_chinese
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util.fileutil import copy_asset

# the folder that sphinx-mathjax-offline 0.0.2 ships (its package directory has a hyphen: found by path)
SOURCE = Path(sphinx.__file__).resolve().parents[1] / "sphinx-mathjax-offline" / "static" / "mathjax"
STARTUP = "mathjax/startup.js"
# TeX input (base, ams, newcommand, autoload of other packages...), CommonHTML output, and the hidden MathML that
# screen readers read; the startup loader fetches each from the folder next to startup.js.
COMPONENTS = ["input/tex", "output/chtml", "a11y/assistive-mml"]


def mathjax_path(chinese: bool) -> str:
    """mathjax_path for an edition (relative to its `_static`): the Chinese one reaches up to the English copy."""
    return f"../../_static/{STARTUP}" if chinese else STARTUP


def configure(app: Sphinx, config: Config) -> None:
    """Point pages at the shared copy and ask the loader for the components above."""
    config.mathjax_path = mathjax_path(is_chinese(config.language))
    settings = dict(config.mathjax3_config or {})
    loader = dict(settings.get("loader", {}))
    loader["load"] = [*loader.get("load", []), *COMPONENTS]
    settings["loader"] = loader
    config.mathjax3_config = settings


def copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    """English build only: copy MathJax once into `_static/mathjax` (the Chinese edition uses it from there)."""
    if exc is None and not is_chinese(app.config.language):
        copy_asset(str(SOURCE), str(Path(app.outdir) / "_static" / "mathjax"))


def is_mathjax(script: Any) -> bool:
    """A page script that is MathJax's loader or its configuration."""
    name = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "mathjax" in name.lower() or "window.MathJax" in body


def only_where_math(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """A page without formulas loads no MathJax (myst-nb has Sphinx add it to every page, 0.73 MB)."""
    # the page's own formulas (MathDomain.has_equations also counts every page below it in the toctree)
    if app.env.get_domain("math").data["has_equations"].get(pagename, False):
        return
    # a new list for this page's template: the builder's own list is left alone
    context["script_files"] = [script for script in context.get("script_files", []) if not is_mathjax(script)]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hooks (after sphinx.ext.mathjax's own config defaults)."""
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", configure, priority=900)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", only_where_math, priority=900)  # after sphinx.ext.mathjax added it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
