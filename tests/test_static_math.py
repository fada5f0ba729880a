"""The build-time math renderer (book/_ext/math_render.js and .py, book/_ext/static_math.py): the hard formulas of
the book come out as CommonHTML without error boxes, TeX errors are errors, and each page's stylesheet holds its
glyphs only. Needs Node.js and `npm ci` (the Makefile's set-up step)."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docutils import nodes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
from math_render import MathRenderer, TexError  # book/_ext is not a package
from static_math import display_tex

# the constructs that are hardest to get right, taken from the chapters (the last one from the Chinese edition)
HARD = {
    "aligned": r"\begin{aligned} m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\ \hat m_t &= m_t / (1-\beta_1^t) "
               r"\end{aligned}",
    "underbrace": r"\underbrace{W_L^{\top} \operatorname{diag}\!\big(\phi'(a_{L-1})\big)}_{\partial a_L/\partial "
                  r"a_{L-1}}",
    "mathbb": r"\mathbb{E}[g] \in \mathbb{R}^d, \quad \mathbb{1}[x > 0]",
    "matrix": r"\begin{pmatrix} 1 & 0 \\ 0 & \lambda \end{pmatrix}",
    "cases": r"d_t = \begin{cases} b_t & \text{（经典）} \\ g_t + \mu b_t & \text{（nesterov=True）} \end{cases}",
    "chinese label": r"\frac{\partial c_t}{\partial c_k}\Big|_{\text{传送带}}",
}


@pytest.fixture(scope="module")
def renderer() -> Iterator[MathRenderer]:
    """One Node process for the module, as one build has."""
    running = MathRenderer()
    yield running
    running.close()


@pytest.mark.parametrize("name", HARD)
def test_hard_formulas_typeset(renderer: MathRenderer, name: str) -> None:
    """Each comes out as CommonHTML glyphs with the hidden MathML for screen readers, and no error box."""
    html = renderer.render(HARD[name], True, "book/optimizers")
    assert html.startswith('<mjx-container class="MathJax" jax="CHTML" display="true"')
    assert "<mjx-c " in html and "<mjx-assistive-mml" in html and "merror" not in html


def test_chinese_text_sized_like_the_text_around(renderer: MathRenderer) -> None:
    """Chinese in \\text is drawn in the reader's font; in a subscript it is told its relative size (70.7 %)."""
    html = renderer.render(HARD["chinese label"], True, "book/recurrent_cells")
    assert re.findall(r"<mjx-utext[^>]*>(.)</mjx-utext>", html) == list("传送带")
    assert html.count("--mjx-s: 0.707") == 3
    assert "--mjx-s" not in renderer.render(HARD["cases"], True, "book/optimizers")


@pytest.mark.parametrize(("tex", "message"), [(r"\undefinedmacro x", "Undefined control sequence"),
                                              (r"\frac{1}{", "Missing close brace")])
def test_tex_errors_raise(renderer: MathRenderer, tex: str, message: str) -> None:
    """A TeX error is MathJax's message (a build warning), not a red formula; the renderer keeps working."""
    with pytest.raises(TexError, match=message):
        renderer.render(tex, False, "book/theory")
    assert "<mjx-c " in renderer.render("x", False, "book/theory")


def test_equation_numbers_restart_on_each_page(renderer: MathRenderer) -> None:
    """MathJax's own numbering (ams tags) counts per page, as it did in each reader's browser."""
    numbered = r"\begin{equation} x \end{equation}"
    first = [renderer.render(numbered, True, "page/a") for _ in range(2)]
    other = renderer.render(numbered, True, "page/b")
    assert "(1)" in first[0] and "(2)" in first[1] and "(1)" in other


def test_stylesheet_holds_only_the_glyphs_used(renderer: MathRenderer) -> None:
    """A page's CSS has its glyphs (x: U+1D465), not others (y: U+1D466), fonts at the given URL, and the rule
    that sizes formulas by the x-height of the text around them."""
    css = renderer.stylesheet([("x", False)], "../_static/math/fonts")
    assert "mjx-c1D465" in css and "mjx-c1D466" not in css
    assert 'url("../_static/math/fonts/MathJax_Math-Italic.woff")' in css
    assert "font-size:calc(1ex / 0.442)" in css and "\n" not in css
    assert "mjx-c1D466" in renderer.stylesheet([("y", False)], "f")  # a fresh set for the next page


def test_display_tex_as_sphinx_mathjax_wrote_it() -> None:
    """Blank-line-separated equations are aligned together; an equation with line breaks is split; amsmath as is."""
    block = nodes.math_block("a = b\n\nc = d \\\\ e", "a = b\n\nc = d \\\\ e", nowrap=False, number=None)
    assert display_tex(block) == (r"\begin{align}\begin{aligned}a = b\\\begin{split}c = d \\ e\end{split}"
                                  r"\end{aligned}\end{align}")
    single = nodes.math_block("x^2", "x^2", nowrap=False, number=None)
    assert display_tex(single) == "x^2"
    env = r"\begin{align} x \end{align}"
    assert display_tex(nodes.math_block(env, env, nowrap=True, number=None, classes=["amsmath"])) == env


def test_sphinx_pages_get_typeset_math_and_tex_errors_warn(tmp_path: Path) -> None:
    """In a one-page Sphinx project: formulas become CommonHTML with the page's <style> and the fonts copied once;
    an unknown macro is a warning naming the file and line (an error under -W), and no MathJax script is added."""
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['static_math']\n", encoding="utf-8")
    (src / "index.rst").write_text("Page\n====\n\nInline :math:`x^2`.\n\n.. math::\n\n   \\undefinedmacro y\n",
                                   encoding="utf-8")
    warnings = io.StringIO()
    Sphinx(str(src), str(src), str(tmp_path / "html"), str(tmp_path / "doctrees"), "html",
           status=io.StringIO(), warning=warnings).build()
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert '<span class="math notranslate nohighlight"><mjx-container class="MathJax" jax="CHTML"' in page
    assert page.count('<style id="math-chtml">') == 1 and 'url("_static/math/fonts/' in page
    assert "mathjax" not in "".join(re.findall(r"<script[^>]*>", page)).lower()
    assert (tmp_path / "html" / "_static" / "math" / "fonts" / "MathJax_Main-Regular.woff").is_file()
    assert r"index.rst:6: WARNING: TeX error: Undefined control sequence \undefinedmacro (in: \undefinedmacro y)" \
        in warnings.getvalue()
