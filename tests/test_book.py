"""The book builds from clean with -W, executes every chapter, and loads nothing from outside the site."""

from __future__ import annotations

import re

import pytest

from tests.book_build import EXTERNAL_LINK_ASSET, EXTERNAL_SCRIPT, BuiltBook, toc_files

pytestmark = pytest.mark.slow


def test_build_succeeds_without_warnings(built_book: BuiltBook) -> None:
    """-W --keep-going turns any Sphinx warning or cell error into a failed build."""
    tail = "\n".join(built_book.log.splitlines()[-40:])
    assert built_book.returncode == 0, f"jupyter-book build failed:\n{tail}"


def test_no_execution_errors(built_book: BuiltBook) -> None:
    """myst-nb writes reports/<page>.log for every notebook whose execution failed."""
    bad = {p.name: p.read_text(encoding="utf-8", errors="replace")[-800:] for p in built_book.reports}
    assert not bad, f"cells failed in: {sorted(bad)}\n" + "\n".join(bad.values())


@pytest.mark.parametrize("page", toc_files())
def test_every_toc_entry_has_a_page(built_book: BuiltBook, page: str) -> None:
    """Each _toc.yml entry became an HTML page."""
    assert (built_book.html / f"{page}.html").is_file(), f"{page} listed in _toc.yml but no {page}.html was built"


def test_no_script_or_style_from_outside_the_site(built_book: BuiltBook) -> None:
    """Offline readers: no <script src> or stylesheet/font from another host, MathJax served locally."""
    offenders = []
    for page in built_book.html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for pattern in (EXTERNAL_SCRIPT, EXTERNAL_LINK_ASSET):
            offenders += [f"{page.relative_to(built_book.html)}: {m.group(0)[:120]}" for m in pattern.finditer(text)]
    assert not offenders, "external assets:\n" + "\n".join(offenders[:20])
    assert (built_book.html / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax was not bundled"


def test_math_is_rendered_by_local_mathjax(built_book: BuiltBook) -> None:
    """Pages with math load the bundled MathJax and contain TeX for it."""
    page = (built_book.html / "book" / "background.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page
    assert "\\(" in page or "\\[" in page or "math notranslate" in page


ROW = re.compile(r'<tr class="verdict-(\w+)[^"]*" id="claim-row-(\d+)"')
BOX_VERDICT = re.compile(r'<(?:p|span) class="seed-verdict verdict-(\w+)">.*?claims\.html#claim-row-(\d+)"', re.DOTALL)


def test_rendered_verdicts_match_the_claims_table(built_book: BuiltBook) -> None:
    """In the HTML, every box and inline verdict shows the verdict of the claims-page row it links to."""
    rows = {int(n): v for v, n in ROW.findall((built_book.html / "book" / "claims.html").read_text(encoding="utf-8"))}
    assert len(rows) >= 53, f"the claims page has {len(rows)} rows with ids"
    seen = 0
    for page in sorted((built_book.html / "book").glob("*.html")):
        for verdict, n in BOX_VERDICT.findall(page.read_text(encoding="utf-8")):
            table = rows.get(int(n))
            assert table == verdict, f"{page.name}: claim {n} shown as {verdict}, the table says {table}"
            seen += 1
    assert seen >= 30, f"only {seen} rendered verdicts found"
