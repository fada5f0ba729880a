"""Sphinx extension: the formulas are typeset when the book is built, so readers' browsers load no MathJax.

A math renderer for Sphinx's HTML builder (like sphinx.ext.imgmath): each formula goes to MathJax 3.2.2 running in
Node (book/_ext/math_render.js) and its CommonHTML, with the hidden MathML that screen readers read, is written
into the page. Each page then gets a small stylesheet of the glyphs its own formulas use, and the browser loads
only the MathJax web fonts those glyphs need, from one copy in the English site's `_static/math/fonts` (the
Chinese edition at `zh_CN/` uses that copy too). Before, every page with a formula loaded 0.76 MB of MathJax
scripts and font tables to do this work in the reader's browser. A TeX error is a build warning (an error
under `-W`) naming the page, not a red formula.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from language_switch import is_chinese
from math_render import FONTS, Formula, MathRenderer, TexError
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number
from sphinx.util.osutil import relative_uri
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)
NAME = "chtml"  # our html_math_renderer
FONT_DIR = "_static/math/fonts"  # in the English site
STATE = "static_math_state"  # the build's BuildMath, kept on the Sphinx application


@dataclass
class BuildMath:
    """One build's renderer (started at the first formula) and the formulas it typeset on each page."""

    renderer: MathRenderer | None = None
    formulas: dict[str, list[Formula]] = field(default_factory=dict)


def build_math(app: Sphinx) -> BuildMath:
    """This build's BuildMath."""
    state = getattr(app, STATE, None)
    if state is None:
        state = BuildMath()
        setattr(app, STATE, state)
    return state


def typeset(self: HTML5Translator, node: nodes.Element, tex: str, display: bool) -> str:
    """The CommonHTML of `tex`, recorded for its page's stylesheet; on a TeX error, a warning and the TeX itself."""
    state, page = build_math(self.builder.app), self.builder.current_docname
    if state.renderer is None:
        state.renderer = MathRenderer()
    try:
        html = state.renderer.render(tex, display, page)
    except TexError as error:
        logger.warning("TeX error: %s (in: %s)", error, tex, location=node, type="math", subtype="tex")
        return self.encode(tex)
    state.formulas.setdefault(page, []).append((tex, display))
    return html


def visit_math(self: HTML5Translator, node: nodes.math) -> None:
    """Inline math: <span class="math"> holding the typeset formula."""
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(typeset(self, node, node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def display_tex(node: nodes.math_block) -> str:
    """The TeX of a display block as sphinx.ext.mathjax hands it to MathJax: blank-line-separated equations
    aligned together, an equation with line breaks split."""
    if node["nowrap"] or "amsmath" in node.get("classes", []):  # MyST amsmath: an environment, as written
        return str(node.astext())
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    tex = r"\\".join(rf"\begin{{split}}{part}\end{{split}}" if r"\\" in part else part for part in parts)
    return rf"\begin{{align}}\begin{{aligned}}{tex}\end{{aligned}}\end{{align}}" if len(parts) > 1 else tex


def visit_displaymath(self: HTML5Translator, node: nodes.math_block) -> None:
    """Display math: <div class="math"> with Sphinx's equation number and permalink, then the typeset formula."""
    amsmath = " amsmath" if "amsmath" in node.get("classes", []) else ""
    self.body.append(self.starttag(node, "div", CLASS=f"math notranslate nohighlight{amsmath}"))
    if node["number"] and (amsmath or not node["nowrap"]):  # as sphinx.ext.mathjax and MyST's override do
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(typeset(self, node, display_tex(node), display=True) + "</div>\n")
    raise nodes.SkipNode


def choose_renderer(app: Sphinx, config: Config) -> None:
    """Ours, not sphinx.ext.mathjax (which Sphinx always loads; with another renderer chosen it adds no script)."""
    config.html_math_renderer = NAME


def font_url(app: Sphinx, docname: str) -> str:
    """The English site's font folder, relative to a page of this edition (the Chinese one is a level deeper)."""
    url = relative_uri(app.builder.get_target_uri(docname), FONT_DIR)
    return f"../{url}" if is_chinese(app.config.language) else url


def add_stylesheets(app: Sphinx, exc: Exception | None) -> None:
    """Each page written in this build gets its formulas' stylesheet in <head>; the English build copies the fonts."""
    state = build_math(app)
    try:
        if exc is not None or app.builder.format != "html":
            return
        if not is_chinese(app.config.language):
            shutil.copytree(FONTS, Path(app.outdir) / FONT_DIR, dirs_exist_ok=True)
        for docname, formulas in state.formulas.items():
            assert state.renderer is not None  # it typeset these formulas
            css = state.renderer.stylesheet(formulas, font_url(app, docname))
            page = Path(app.outdir) / app.builder.get_outfilename(docname)  # type: ignore[attr-defined]
            html = page.read_text(encoding="utf-8")
            # the page's own <style>: only its glyphs, and no second request for it
            page.write_text(html.replace("</head>", f'<style id="math-chtml">{css}</style>\n</head>', 1),
                            encoding="utf-8")
    finally:
        if state.renderer is not None:
            state.renderer.close()
        setattr(app, STATE, None)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the renderer and the hooks."""
    app.add_html_math_renderer(NAME, (visit_math, None), (visit_displaymath, None))
    app.connect("config-inited", choose_renderer)
    app.connect("build-finished", add_stylesheets)
    # one Node process and the formulas it saw live in this process: no parallel writing
    return {"parallel_read_safe": True, "parallel_write_safe": False}
