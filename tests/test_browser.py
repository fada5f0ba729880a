"""The built book in headless Chromium: every TOC page, English and Chinese (zh_CN/), loads offline with typeset
math, figures, outputs and working links; the language switch and both searches work."""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

from tests.book_build import REPO, ZH, BuiltBook, toc_files

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "test-artifacts"))
SCREENSHOT_PAGES = ("book/background", "book/optimizers", "book/claims", f"{ZH}/book/clipping")


def _chromium_or_skip() -> None:
    """Skip with instructions where Chromium cannot be had; fail where it should have been installed (root)."""
    if CHROMIUM.exists():
        return
    if os.geteuid() == 0:
        pytest.fail(f"{CHROMIUM} is missing although we are root: `make test` installs it (see .ci/system-deps)")
    pytest.skip(f"{CHROMIUM} not installed; enable browser tests with `sudo apt-get install chromium`")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that records 404s instead of logging to stderr."""

    missing: list[str]

    def log_message(self, format: str, *args: object) -> None:  # `format`: signature fixed by the stdlib
        # Chromium asks for /favicon.ico by itself on some page loads (the book declares no icon): not a book link
        if len(args) >= 2 and str(args[1]) == "404" and " /favicon.ico " not in str(args[0]):
            self.missing.append(str(args[0]))


class _QuietServer(http.server.ThreadingHTTPServer):
    """Threaded server that ignores clients hanging up early (the browser aborts requests it no longer needs)."""

    def handle_error(self, request: Any, client_address: Any) -> None:  # socketserver's own loose types
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site(built_book: BuiltBook) -> Iterator[tuple[str, list[str]]]:
    """Serve the built HTML on 127.0.0.1 (random port); yields (base URL, list of 404 request lines)."""
    if built_book.returncode != 0:
        pytest.fail("the book did not build; see test_book.py")
    missing: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"missing": missing})
    server = _QuietServer(("127.0.0.1", 0), functools.partial(handler, directory=str(built_book.html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", missing
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module, launched from Debian's binary (no downloaded browser)."""
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()



# What "fits the screen" means (issue 20 §3), measured in the page: sideways scrolling of the document, of printed
# outputs, of code (allowed for lines longer than LONG_CODE_LINE characters only) and of display equations (allowed
# inside their own scrolling box); every figure's displayed width and SVG source; which code cells are folded.
LONG_CODE_LINE = 100
FIT_FUNCTION = """function FIT_JS() {
  const over = (e) => e.scrollWidth > e.clientWidth + 1;
  const article = document.querySelector('article.bd-article') || document.body;
  const right = article.getBoundingClientRect().right;
  const pick = (sel) => [...document.querySelectorAll(sel)];
  return {
    docScroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    outputsScrolling: pick('div.cell_output pre').filter(over).map(e => e.innerText.slice(0, 80)),
    codeScrolling: pick('div.cell_input pre').filter(over)
        .map(e => Math.max(...e.textContent.split('\\n').map(l => l.length))),
    equations: pick('div.math').map(e => ({
        wide: over(e), scrolls: ['auto', 'scroll'].includes(getComputedStyle(e).overflowX),
        inside: e.getBoundingClientRect().right <= right + 1})),
    figures: pick('figure img, div.cell_output img').map(i => ({src: i.src, shown: i.getBoundingClientRect().width})),
    folded: pick('div.cell').map(c => !!c.querySelector('details.hide:not([open]) div.cell_input')),
    drawsFigure: pick('div.cell').map(c => {
        const img = c.querySelector('div.cell_output img');
        return !!img && img.getBoundingClientRect().height > 50; }),
  };
}"""
VISIT_JS = """() => {
  """ + FIT_FUNCTION + """
  const text = document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText;
  const imgs = [...document.querySelectorAll('main img')];
  const maths = [...document.querySelectorAll('.math')];
  return {
    math: document.querySelectorAll('mjx-container').length,
    mathSource: maths.length,
    untypeset: maths.filter(m => !m.querySelector(':scope > mjx-container mjx-math'))
        .map(m => m.innerText.slice(0, 80)),
    mathErrors: document.querySelectorAll('mjx-merror').length,
    rawDisplayMath: (text.match(/\\$\\$/g) || []).length,
    rawTex: maths.filter(m => /\\\\[\\(\\[]/.test(m.innerText)).length,
    mathjax: typeof window.MathJax !== 'undefined' || [...document.scripts].some(s => /mathjax/i.test(s.src)),
    mathFonts: [...document.fonts].filter(f => f.family.startsWith('MJX')).map(f => f.status),
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    images: imgs.length,
    codeCells: document.querySelectorAll('div.cell').length,
    outputs: document.querySelectorAll('div.cell_output').length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    prev: (document.querySelector('a.left-prev') || {}).href || null,
    next: (document.querySelector('a.right-next') || {}).href || null,
    copyButtons: document.querySelectorAll('button.copybtn').length,
    downloads: [...document.querySelectorAll('.dropdown-download-buttons a')].map(a => a.href),
    fit: FIT_JS(),
    figures: imgs.map(i => {
      const fig = i.closest('figure');
      const cap = fig ? fig.querySelector('figcaption') : null;
      return {src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '', inFigure: !!fig,
              caption: cap ? cap.innerText : ''};
    }),
  };
}"""


@pytest.fixture(scope="module")
def visits(site: tuple[str, list[str]], browser: object, built_book: BuiltBook) -> dict[str, dict]:
    """Visit every TOC page once at 1280 px; record console errors, off-site requests, bytes loaded and what the
    page shows."""
    base, _ = site
    site_root = built_book.html
    results: dict[str, dict] = {}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    outside: list[str] = []
    # Anything not on our server is recorded and aborted, so a stray CDN reference fails the test, not the network.
    def only_local(route: Any) -> None:
        """Let requests to our server through; record and abort everything else."""
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    for page_name in ALL_PAGES:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        before = len(outside)
        requested: list[str] = []
        page.on("request", lambda request, requested=requested: requested.append(request.url))
        page.goto(urljoin(base, f"{page_name}.html"), wait_until="load")
        page.evaluate("() => document.fonts.ready.then(() => true)")  # the math fonts the page asked for
        info = page.evaluate(VISIT_JS)
        info["console_errors"] = errors
        info["outside"] = outside[before:]
        info["requested"] = [unquote(urlparse(u).path) for u in requested if u.startswith(base)]
        info["bytes"] = _served_bytes(requested, base, site_root)
        if page_name in SCREENSHOT_PAGES:
            page.screenshot(path=str(ARTIFACTS / f"{page_name.replace('/', '_')}.png"), full_page=False)
        results[page_name] = info
        page.close()
    context.close()
    return results


def _served_bytes(urls: list[str], base: str, root: Path) -> int:
    """Bytes of the files behind the page's requests to our server (uncompressed, as a plain static server sends)."""
    files = {root / unquote(urlparse(u).path).lstrip("/") for u in urls if u.startswith(base)}
    return sum(f.stat().st_size for f in files if f.is_file())


PAGES = toc_files()
ZH_PAGES = [f"{ZH}/{p}" for p in PAGES]  # the Chinese edition, page for page
ALL_PAGES = PAGES + ZH_PAGES


def _english_name(page: str) -> str:
    """The TOC name of a page of either edition ("zh_CN/book/x" -> "book/x")."""
    return page.removeprefix(f"{ZH}/")


@pytest.mark.parametrize("page", ALL_PAGES)
def test_page_has_no_console_errors(visits: dict[str, dict], page: str) -> None:
    """JavaScript ran cleanly: no console error, no uncaught exception."""
    assert visits[page]["console_errors"] == [], f"{page}: {visits[page]['console_errors']}"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_page_requests_stay_on_localhost(visits: dict[str, dict], page: str) -> None:
    """The page works offline: every request it made went to 127.0.0.1."""
    assert visits[page]["outside"] == [], f"{page} requested {visits[page]['outside']}"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_math_rendered(visits: dict[str, dict], page: str) -> None:
    """Every formula element holds typeset math (the build's CommonHTML), none is an error box or raw TeX, no raw
    $$ is left in the text, and every math font the page uses loaded."""
    info = visits[page]
    assert info["rawDisplayMath"] == 0, f"{page}: {info['rawDisplayMath']} raw '$$' left in the text"
    assert info["untypeset"] == [], f"{page}: formulas not typeset: {info['untypeset'][:5]}"
    assert info["rawTex"] == 0 and info["mathErrors"] == 0, f"{page}: raw TeX or MathJax error boxes: {info}"
    assert info["math"] >= info["mathSource"], f"{page}: {info['mathSource']} formulas, {info['math']} rendered"
    assert "error" not in info["mathFonts"], f"{page}: a math font failed to load: {info['mathFonts']}"
    if info["mathSource"]:
        assert "loaded" in info["mathFonts"], f"{page}: no math font loaded: {info['mathFonts']}"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_figures_loaded(visits: dict[str, dict], page: str) -> None:
    """Every image in the page body decoded (naturalWidth > 0)."""
    assert visits[page]["brokenImages"] == [], f"{page}: broken images {visits[page]['brokenImages']}"


FILE_NAME = re.compile(r"(?:^|/)[\w.-]+\.(?:png|jpe?g|svg|gif|webp)$|_images/", re.IGNORECASE)
FIGURE_NUMBER = re.compile(r"\bFig(?:ure)?\.?\s*\d+|图\s*\d+")  # English "Fig. 3", Chinese "图 3"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_figures_have_alt_text_and_numbered_captions(visits: dict[str, dict], page: str) -> None:
    """Every image is a figure a screen reader can use: real alt text, inside <figure> with a numbered caption."""
    problems = []
    for fig in visits[page]["figures"]:
        alt = fig["alt"].strip()
        if len(alt) < 20 or alt == fig["src"] or FILE_NAME.search(alt):
            problems.append(f"{fig['src']}: alt text {alt!r} does not describe the image")
        if not fig["inFigure"]:
            problems.append(f"{fig['src']}: not inside a <figure>")
        elif not FIGURE_NUMBER.search(fig["caption"]):
            problems.append(f"{fig['src']}: caption without a figure number: {fig['caption'][:60]!r}")
    assert not problems, f"{page}:\n" + "\n".join(problems)


def test_figure_checks_are_not_vacuous(visits: dict[str, dict]) -> None:
    """The figure check above saw the book's figures (one or two dozen), not an empty list."""
    figures = sum(len(info["figures"]) for info in visits.values())
    assert figures >= 2 * 19, f"only {figures} figures seen on all pages of both editions"


@pytest.mark.parametrize("page", [p for p in ALL_PAGES if not _english_name(p).startswith("exercises/")])
def test_executed_cells_show_outputs(visits: dict[str, dict], page: str) -> None:
    """Chapters with code cells show their executed outputs (the build ran them)."""
    info = visits[page]
    if info["codeCells"]:
        assert info["outputs"] > 0, f"{page}: {info['codeCells']} code cells but no outputs"
        assert info["copyButtons"] > 0, f"{page}: code cells without copy buttons"


def test_chapters_with_code_exist(visits: dict[str, dict]) -> None:
    """The output check above is not vacuous: several chapters have executed figures."""
    with_figures = [p for p, info in visits.items() if info["outputs"] and info["images"]]
    assert len(with_figures) >= 3, f"only {with_figures} show executed figures"


def test_internal_links_resolve(visits: dict[str, dict], site: tuple[str, list[str]]) -> None:
    """Every same-site link on every TOC page answers 200, and the server saw no 404 while pages loaded."""
    base, missing = site
    targets = {urldefrag(link)[0] for info in visits.values() for link in info["links"] if link.startswith(base)}
    broken = []
    for target in sorted(targets):
        try:
            with urllib.request.urlopen(target, timeout=10) as response:
                if response.status != 200:
                    broken.append(f"{target}: {response.status}")
        except urllib.error.HTTPError as exc:
            broken.append(f"{target}: {exc.code}")
    assert len(targets) > 20, "suspiciously few internal links"
    assert broken == [] and missing == [], f"broken links: {broken}; 404 while loading: {missing}"


@pytest.mark.parametrize("edition", [PAGES, ZH_PAGES], ids=["en", ZH])
def test_previous_next_follow_the_toc(visits: dict[str, dict], site: tuple[str, list[str]], edition: list[str]) -> None:
    """The 'next' button of each page leads to the following TOC entry of the same edition."""
    base, _ = site
    for current, following in zip(edition, edition[1:], strict=False):  # consecutive pairs
        assert visits[current]["next"] == urljoin(base, f"{following}.html"), f"{current}: next is wrong"
        assert visits[following]["prev"] == urljoin(base, f"{current}.html"), f"{following}: prev is wrong"


def test_chapters_and_exercises_offer_downloads(visits: dict[str, dict]) -> None:
    """Readers download each executed chapter as .ipynb and .md; students download each exercise as .ipynb."""
    checked = 0
    for name, info in visits.items():
        page = _english_name(name)
        kinds = {Path(urlparse(d).path).suffix for d in info["downloads"]}
        if page.startswith("book/") and info["codeCells"]:
            assert {".ipynb", ".md"} <= kinds, f"{page}: download menu offers {sorted(kinds)}"
            checked += 1
        elif page.startswith("exercises/"):
            assert ".ipynb" in kinds, f"{page}: download menu offers {sorted(kinds)}"
            checked += 1
    assert checked >= 20, f"only {checked} pages checked (both editions)"


def test_search_finds_clipping(site: tuple[str, list[str]], browser: object) -> None:
    """The offline search page finds the clipping chapter."""
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(urljoin(base, "search.html?q=clipping"))
    page.wait_for_selector("#search-results li", timeout=20000)
    hits = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    page.close()
    assert any("clipping" in h for h in hits), f"search for 'clipping' found {hits[:5]}"


def test_screenshots_kept(visits: dict[str, dict]) -> None:
    """Three screenshots are left as test artifacts for a human to look at."""
    shots = [ARTIFACTS / f"{p.replace('/', '_')}.png" for p in SCREENSHOT_PAGES if p in visits]
    assert len(shots) == len(SCREENSHOT_PAGES) and all(s.stat().st_size > 10_000 for s in shots), shots


@pytest.mark.parametrize(("query", "start"), [("clipping", ""), ("梯度裁剪", f"{ZH}/"), ("雅可比矩阵", f"{ZH}/")])
def test_search_in_each_edition(site: tuple[str, list[str]], browser: object, query: str, start: str) -> None:
    """Each edition's offline search answers in its language (jieba segments the Chinese index)."""
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    hits = _search_hits(page, urljoin(base, f"{start}search.html?q={query}"))
    page.close()
    assert hits and all(h.startswith(urljoin(base, start)) for h in hits), f"{query}: hits {hits[:5]}"
    if query in ("clipping", "梯度裁剪"):
        assert urljoin(base, f"{start}book/clipping.html") in hits, f"search for {query!r} found {hits[:5]}"


SWITCH_PAGES = ["book/intro", "book/clipping", "exercises/clipping/clipping", "search", "genindex"]


def _click_switch(page: Any) -> str:
    """Click the sidebar's language switch; return the URL it led to."""
    with page.expect_navigation():
        page.click("a.language-switch-link")
    return str(page.url)


@pytest.mark.parametrize("name", SWITCH_PAGES)
def test_language_switch_leads_to_the_twin_and_back(site: tuple[str, list[str]], browser: object, name: str) -> None:
    """Served over HTTP: the visible switch leads from a page to its Chinese twin and back to the same page."""
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(urljoin(base, f"{name}.html"))
    box = page.locator("a.language-switch-link").bounding_box()
    assert page.is_visible("a.language-switch-link") and box and box["y"] < 200, f"{name}: switch not in view"
    assert _click_switch(page) == urljoin(base, f"{ZH}/{name}.html")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.inner_text("a.language-switch-link") == "English"
    assert _click_switch(page) == urljoin(base, f"{name}.html")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.close()


def test_language_switch_works_from_files(built_book: BuiltBook, browser: object) -> None:
    """Offline from file:// (no server), the relative switch links still reach the twin and back."""
    page = browser.new_page()  # type: ignore[attr-defined]
    english = (built_book.html / "book" / "theory.html").as_uri()
    page.goto(english)
    assert _click_switch(page) == (built_book.html / ZH / "book" / "theory.html").as_uri()
    assert "<h1" in page.content() and page.evaluate("document.documentElement.lang") == "zh-CN"
    assert _click_switch(page) == english
    page.close()


@pytest.mark.parametrize(("query", "chapter"), [
    ("学习率预热", "book/step_size"), ("余弦退火", "book/step_size"), ("梯度截断", "book/clipping"),
    ("权重初始化", "book/initialization"), ("优化算法", "book/optimizers")])
def test_chinese_search_finds_the_chapter_first(site: tuple[str, list[str]], browser: object, query: str,
                                                 chapter: str) -> None:
    """A compound term or a seed's synonym finds its chapter first or second (book/_ext/zh_search.py)."""
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    hits = _search_hits(page, urljoin(base, f"{ZH}/search.html?q={query}"))
    page.close()
    top = hits[:2]
    assert urljoin(base, f"{ZH}/{chapter}.html") in top, f"search for {query!r} found {hits[:5]}"


# --- Pages that fit the screen (issue 20 §3) ---------------------------------------------------------------------

CHAPTERS = [p for p in PAGES if p.startswith("book/")]
PHONE = {"width": 390, "height": 844}
# Measured 1.10 MB since the formulas are typeset at build time (book/_ext/static_math.py); 1.84 MB when every page
# with a formula loaded MathJax's scripts (0.76 MB), 3.88 MB before issue 20. benchmarks/page_weight.py itemises it.
MAX_MEDIAN_BYTES = 1_500_000
MIN_TEXT_PX = 9.0
SVG_SIZE = re.compile(r'viewBox="[\d.-]+ [\d.-]+ ([\d.]+) ')
SVG_TEXT = re.compile(r"<text\b.*?</text>", re.DOTALL)
SVG_FONT = re.compile(r"font-size:\s*([\d.]+)px")


@functools.cache
def _svg_scale(url: str) -> tuple[float, float]:
    """(viewBox width, smallest text size) of an SVG figure, read from the server. A text's size is its largest
    font: the exponent in a tick label like 10^-4 (mathtext's 70 % superscript) counts at its label's size."""
    with urllib.request.urlopen(url, timeout=10) as response:
        svg = response.read().decode("utf-8")
    width = SVG_SIZE.search(svg)
    sizes = [max(float(s) for s in SVG_FONT.findall(text)) for text in SVG_TEXT.findall(svg) if SVG_FONT.search(text)]
    assert width and sizes, f"{url}: not a matplotlib SVG with text (svg.fonttype none)"
    return float(width.group(1)), min(sizes)


def _illegible(figures: list[dict]) -> list[str]:
    """Figures whose smallest text is under MIN_TEXT_PX on screen (or that are not SVG, whose text we cannot read)."""
    problems = []
    for fig in figures:
        if not fig["src"].endswith(".svg"):
            problems.append(f"{fig['src']}: a raster figure")
            continue
        view_width, smallest = _svg_scale(fig["src"])
        shown = smallest * fig["shown"] / view_width
        if shown < MIN_TEXT_PX:
            problems.append(f"{fig['src'].rsplit('/', 1)[-1]}: smallest text {shown:.1f} px")
    return problems


@pytest.fixture(scope="module")
def phone_visits(site: tuple[str, list[str]], browser: object) -> dict[str, dict]:
    """Every English TOC page and the Chinese claims page at 390 px (a phone)."""
    base, _ = site
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)  # type: ignore[attr-defined]
    results = {}
    for name in [*PAGES, f"{ZH}/book/claims"]:
        page = context.new_page()
        page.goto(urljoin(base, f"{name}.html"), wait_until="load")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        results[name] = page.evaluate("() => { " + FIT_FUNCTION + """; return {fit: FIT_JS(),
            claimCells: [...document.querySelectorAll('tr[id^="claim-row-"] td')].map(td => {
                const r = td.getBoundingClientRect();
                return {label: td.dataset.label || '', left: r.left, right: r.right,
                        shown: r.width > 0 && r.height > 0};
            })}; }""")
        if name in ("book/claims", "book/code"):
            page.screenshot(path=str(ARTIFACTS / f"{name.replace('/', '_')}_390.png"), full_page=False)
        page.close()
    context.close()
    return results


@pytest.mark.parametrize("page", ALL_PAGES)
def test_nothing_scrolls_sideways_at_1280(visits: dict[str, dict], page: str) -> None:
    """At 1280 px the page, printed outputs and equations fit; a code box scrolls only for a line over 100
    characters; an equation wider than the column scrolls inside its own box."""
    fit = visits[page]["fit"]
    assert fit["docScroll"] <= 0, f"{page}: the page scrolls sideways by {fit['docScroll']} px"
    assert fit["outputsScrolling"] == [], f"{page}: outputs scroll sideways: {fit['outputsScrolling']}"
    short = [n for n in fit["codeScrolling"] if n <= LONG_CODE_LINE]
    assert short == [], f"{page}: code boxes scroll although their longest lines have {short} characters"
    for eq in fit["equations"]:
        assert eq["inside"] and (not eq["wide"] or eq["scrolls"]), f"{page}: an equation runs off the column: {eq}"


def test_fit_checks_are_not_vacuous(visits: dict[str, dict]) -> None:
    """The checks above saw the book's outputs and equations."""
    equations = sum(len(info["fit"]["equations"]) for info in visits.values())
    figures = sum(len(info["fit"]["figures"]) for info in visits.values())
    assert equations > 100 and figures >= 2 * 19, (equations, figures)


@pytest.mark.parametrize("page", PAGES)
def test_figures_legible_at_1280(visits: dict[str, dict], page: str) -> None:
    """Every figure is an SVG whose smallest text is at least 9 px at its displayed size on a 1280 px screen."""
    problems = _illegible(visits[page]["fit"]["figures"])
    assert not problems, f"{page}: " + "; ".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_phone_pages_fit_and_figures_stay_legible(phone_visits: dict[str, dict], page: str) -> None:
    """At 390 px the page does not scroll sideways, and figures keep a legible width (scrolling in their box)."""
    fit = phone_visits[page]["fit"]
    assert fit["docScroll"] <= 0, f"{page}: the page scrolls sideways by {fit['docScroll']} px on a phone"
    problems = _illegible(fit["figures"])
    assert not problems, f"{page} at 390 px: " + "; ".join(problems)


#: The narrowest phone the pages must fit (an iPhone SE's 320 CSS px), for every page of both editions.
NARROWEST = 320


#: What the article and the links under it show cut off: an element reaching more than 3 px past a box that hides
#: what overflows it (the theme's previous / next links did, at 320 px: "Nex", "backpropag"). MathJax's hidden copy
#: of each formula for screen readers (mjx-assistive-mml) is clipped on purpose.
CUT_OFF_JS = """() => [...document.querySelectorAll('.bd-article-container *')].filter(e => {
  const r = e.getBoundingClientRect();
  if (r.width <= 0 || r.height <= 0 || e.closest('mjx-assistive-mml')) return false;
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const x = getComputedStyle(a).overflowX;
    if (x === 'auto' || x === 'scroll') return false;
    if (x === 'hidden' || x === 'clip') {
      const b = a.getBoundingClientRect(); return r.right > b.right + 3 || r.left < b.left - 3; } }
  return false; })
  .slice(0, 3).map(e => `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}"`)"""


@pytest.fixture(scope="module")
def narrowest_scroll(site: tuple[str, list[str]], browser: object) -> dict[str, str]:
    """What does not fit on a 320 px phone, page by page of both editions ("" when everything fits)."""
    base, _ = site
    context = browser.new_context(viewport={"width": NARROWEST, "height": 640}, is_mobile=True,  # type: ignore[attr-defined]
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    found: dict[str, str] = {}
    for name in ALL_PAGES:
        page.goto(urljoin(base, f"{name}.html"), wait_until="load")
        width, scroll = page.evaluate("() => [window.innerWidth, document.documentElement.scrollWidth]")
        cut = page.evaluate(CUT_OFF_JS)
        found[name] = (f"laid out {width} px wide (no viewport meta?)" if width != NARROWEST else
                       f"scrolls sideways by {scroll - NARROWEST} px" if scroll > NARROWEST else
                       f"cut off at the edge of a box that hides its overflow: {cut}" if cut else "")
    context.close()
    return found


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_fits_the_narrowest_phone(narrowest_scroll: dict[str, str], page: str) -> None:
    """At 320 px no page of either edition scrolls sideways (tables, code and formulas scroll in their own box), and
    nothing in the article or the previous / next links under it is cut off at the edge of its box."""
    assert narrowest_scroll[page] == "", f"{page} at {NARROWEST} px: {narrowest_scroll[page]}"


@pytest.mark.parametrize("page", ["book/claims", f"{ZH}/book/claims"])
def test_claims_table_readable_on_a_phone(phone_visits: dict[str, dict], page: str) -> None:
    """On a phone each claim row is a card: every cell (verdict and evidence included) is shown, labelled, on screen."""
    cells = phone_visits[page]["claimCells"]
    assert len(cells) >= 6 * 50, f"{page}: {len(cells)} claim cells"
    hidden = [c for c in cells if not c["shown"] or c["left"] < 0 or c["right"] > PHONE["width"]]
    assert hidden == [], f"{page}: {len(hidden)} cells off screen, e.g. {hidden[:2]}"
    labels = {c["label"] for c in cells}
    assert len(labels) == 6 and all(labels), f"{page}: column labels {labels}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_setup_and_plotting_code_folded(visits: dict[str, dict], page: str) -> None:
    """A chapter's setup cell and every cell that draws a figure show their output with the code folded."""
    fit = visits[page]["fit"]
    if not fit["folded"]:
        return  # a chapter without code cells
    assert fit["folded"][0], f"{page}: the setup cell's code is not folded"
    unfolded = [i for i, (folded, draws) in enumerate(zip(fit["folded"], fit["drawsFigure"], strict=True))
                if draws and not folded]
    assert unfolded == [], f"{page}: cells {unfolded} draw a figure with their code open"


def test_figure_cells_seen(visits: dict[str, dict]) -> None:
    """The folding check saw the figure-drawing cells."""
    assert sum(sum(info["fit"]["drawsFigure"]) for name, info in visits.items() if name in CHAPTERS) >= 19


def test_page_weight_median(visits: dict[str, dict]) -> None:
    """The median page (HTML, CSS, scripts, fonts, figures; uncompressed) weighs at most 1.5 MB."""
    weights = sorted(visits[p]["bytes"] for p in PAGES)
    median = weights[len(weights) // 2]
    print(f"page weight: median {median / 1e6:.2f} MB, min {weights[0] / 1e6:.2f}, max {weights[-1] / 1e6:.2f}")
    assert median <= MAX_MEDIAN_BYTES, f"median page weight {median / 1e6:.2f} MB"


def test_page_contents_reachable_beside_the_wide_column(site: tuple[str, list[str]], browser: object) -> None:
    """At 1280 px the article takes the whole width and the header's list button opens "On this page"."""
    base, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(urljoin(base, "book/theory.html"))
    article = page.locator("article.bd-article").bounding_box()
    assert article and article["width"] > 900, f"the article column is {article}"
    link = page.locator(".bd-sidebar-secondary a[href='#derivatives-of-sigmoid-and-tanh']")
    assert not link.is_visible()
    page.click(".bd-header-article button.secondary-toggle")
    page.wait_for_timeout(400)  # the drawer slides in
    box = link.bounding_box()
    assert link.is_visible() and box and 0 <= box["x"] and box["x"] + box["width"] <= 1280, f"contents link at {box}"
    page.close()


def test_figure_opens_full_size_on_click(site: tuple[str, list[str]], browser: object) -> None:
    """On a phone, a click on a figure shows it over the page at 1200 px or more; Escape closes it."""
    base, _ = site
    page = browser.new_page(viewport=PHONE)  # type: ignore[attr-defined]
    page.goto(urljoin(base, "book/code.html#fig-code-deep-mlp"))
    page.click("#fig-code-deep-mlp img")
    zoomed = page.locator(".figure-zoom img")
    box = zoomed.bounding_box()
    assert zoomed.is_visible() and box and box["width"] >= 1200, f"the enlarged figure is {box}"
    page.keyboard.press("Escape")
    assert page.locator(".figure-zoom").count() == 0
    page.close()


MATH_FONTS = "/_static/math/fonts/"  # the MathJax web fonts, one copy in the English site


def test_no_mathjax_and_one_copy_of_the_math_fonts(built_book: BuiltBook, visits: dict[str, dict]) -> None:
    """No page of either edition loads MathJax (the build typeset the formulas); both editions take the math fonts
    from the one copy in the English site, and neither carries a MathJax folder."""
    loading = [p for p, info in visits.items()
               if info["mathjax"] or any("mathjax" in u.lower() and u.endswith(".js") for u in info["requested"])]
    assert loading == [], f"pages that load MathJax: {loading}"
    assert not list(built_book.html.rglob("mathjax")), "a MathJax folder in the built site"
    assert (built_book.html / MATH_FONTS.strip("/") / "MathJax_Main-Regular.woff").is_file()
    assert not (built_book.zh_html / "_static" / "math").exists(), "the Chinese edition has its own math fonts"
    for page in ("book/theory", f"{ZH}/book/theory"):
        fonts = [u for u in visits[page]["requested"] if u.endswith(".woff")]
        assert fonts and all(u.startswith(MATH_FONTS) for u in fonts), f"{page} loaded math fonts from {fonts}"
        assert visits[page]["math"] > 50


def test_language_switch_keeps_the_anchor(site: tuple[str, list[str]], browser: object) -> None:
    """Switching language on a section's URL lands on the same section of the twin, and back."""
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(urljoin(base, "book/theory.html#sec-theory-rnn"))
    assert _click_switch(page) == urljoin(base, f"{ZH}/book/theory.html#sec-theory-rnn")
    assert page.evaluate("document.getElementById('sec-theory-rnn') !== null")
    assert _click_switch(page) == urljoin(base, "book/theory.html#sec-theory-rnn")
    page.close()


def _search_hits(page: Any, url: str) -> list[str]:
    """The result links the search page lists for `url` (paths without anchors)."""
    page.goto(url)
    page.wait_for_selector("#search-results li", timeout=20000)
    page.wait_for_function("() => !document.querySelector('#search-progress') || "
                           "document.querySelector('#search-progress').innerText !== ''")
    return [urldefrag(h)[0] for h in page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")]


@pytest.mark.parametrize(("query", "start"), [("clipping", ""), ("梯度裁剪", f"{ZH}/")])
def test_search_ranks_the_titled_chapter_first_once(site: tuple[str, list[str]], browser: object, query: str,
                                                      start: str) -> None:
    """Served: the chapter whose title holds the word comes first, and no page is listed twice."""
    base, _ = site
    page = browser.new_page()  # type: ignore[attr-defined]
    hits = _search_hits(page, urljoin(base, f"{start}search.html?q={query}"))
    page.close()
    assert hits[0] == urljoin(base, f"{start}book/clipping.html"), f"{query}: {hits[:5]}"
    assert len(hits) == len(set(hits)) > 3, f"{query}: a page listed twice: {hits}"


def test_search_from_files_lists_each_page_once(built_book: BuiltBook, browser: object) -> None:
    """Offline from file://, the search lists each page once and the clipping chapter first."""
    page = browser.new_page()  # type: ignore[attr-defined]
    hits = _search_hits(page, (built_book.html / "search.html").as_uri() + "?q=clipping")
    page.close()
    assert hits[0] == (built_book.html / "book" / "clipping.html").as_uri(), hits[:5]
    assert len(hits) == len(set(hits)), f"a page listed twice: {hits}"


#: Every search control the themes can put on a page: the header's and sidebar's fields, the article header's button.
SEARCH_CONTROLS = "button.search-button, button.search-button-field"
VISIBLE = ("els => els.filter(e => { const r = e.getBoundingClientRect(); "
           "return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; }).length")


@pytest.mark.parametrize("width", [1280, 900, 390])
@pytest.mark.parametrize("start", ["", f"{ZH}/"])
def test_one_search_control_that_searches(site: tuple[str, list[str]], browser: object, width: int,
                                          start: str) -> None:
    """One visible search control at each width (the pydata theme under the book theme added a second field, in a
    header bar of its own, on screens 992 px and wider), and it opens the search dialog that finds the chapter."""
    base, _ = site
    context = browser.new_context(viewport={"width": width, "height": 800},  # type: ignore[attr-defined]
                                  is_mobile=width < 500)
    page = context.new_page()
    try:
        page.goto(urljoin(base, f"{start}book/intro.html"))
        assert page.eval_on_selector_all(SEARCH_CONTROLS, VISIBLE) == 1
        assert page.evaluate("() => document.querySelector('header.bd-header').getBoundingClientRect().height") == 0
        page.locator(SEARCH_CONTROLS).locator("visible=true").first.click()
        page.wait_for_function("() => document.querySelector('#pst-search-dialog').open")
        with page.expect_navigation():
            page.keyboard.type("clipping" if not start else "梯度裁剪")
            page.keyboard.press("Enter")
        assert urljoin(base, f"{start}book/clipping.html") in _search_hits(page, page.url)
    finally:
        context.close()
