"""The built book in headless Chromium: every TOC page, English and Chinese (zh_CN/), loads offline with math,
figures, outputs and working links; the language switch and both searches work."""

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
from urllib.parse import urldefrag, urljoin, urlparse

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



VISIT_JS = """() => {
  const text = document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText;
  const imgs = [...document.querySelectorAll('main img')];
  return {
    math: document.querySelectorAll('mjx-container').length,
    mathSource: document.querySelectorAll('.math, span.math, div.math').length,
    rawDisplayMath: (text.match(/\\$\\$/g) || []).length,
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    images: imgs.length,
    codeCells: document.querySelectorAll('div.cell').length,
    outputs: document.querySelectorAll('div.cell_output').length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    prev: (document.querySelector('a.left-prev') || {}).href || null,
    next: (document.querySelector('a.right-next') || {}).href || null,
    copyButtons: document.querySelectorAll('button.copybtn').length,
    downloads: [...document.querySelectorAll('.dropdown-download-buttons a')].map(a => a.href),
    figures: imgs.map(i => {
      const fig = i.closest('figure');
      const cap = fig ? fig.querySelector('figcaption') : null;
      return {src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '', inFigure: !!fig,
              caption: cap ? cap.innerText : ''};
    }),
  };
}"""


@pytest.fixture(scope="module")
def visits(site: tuple[str, list[str]], browser: object) -> dict[str, dict]:
    """Visit every TOC page once; record console errors, off-site requests and what the page shows."""
    base, _ = site
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
        page.goto(urljoin(base, f"{page_name}.html"), wait_until="load")
        page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)")
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        info = page.evaluate(VISIT_JS)
        info["console_errors"] = errors
        info["outside"] = outside[before:]
        if page_name in SCREENSHOT_PAGES:
            page.screenshot(path=str(ARTIFACTS / f"{page_name.replace('/', '_')}.png"), full_page=False)
        results[page_name] = info
        page.close()
    context.close()
    return results


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
    """Every TeX source element became a MathJax container, and no raw $$ is left in the text."""
    info = visits[page]
    assert info["rawDisplayMath"] == 0, f"{page}: {info['rawDisplayMath']} raw '$$' left in the text"
    if info["mathSource"]:
        assert info["math"] >= info["mathSource"], f"{page}: {info['mathSource']} formulas, {info['math']} rendered"


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
    page.goto(urljoin(base, f"{start}search.html?q={query}"))
    page.wait_for_selector("#search-results li", timeout=20000)
    hits = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
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
