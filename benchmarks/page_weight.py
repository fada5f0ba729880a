"""Print what each page of a built book downloads, by kind (HTML, theme CSS/JS, fonts, math, figures, ...).

Usage: .venv/bin/python benchmarks/page_weight.py BUILD_DIR [--all]
BUILD_DIR is a --path-output folder (as tests/book_build.py builds it); Chromium (Debian's) visits every TOC page
at 1280 px, served from 127.0.0.1, and each page's requests are summed by kind, uncompressed, as the browser test
`test_page_weight_median` counts them (issue #20 §3: median page <= 1.5 MB). --all adds the Chinese edition.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.book_build import ZH, toc_files

CHROMIUM = "/usr/bin/chromium"
# (kind, test on the path below the site root), first match wins
KINDS = [
    ("MathJax JS", lambda p: "mathjax" in p.lower() and p.endswith(".js")),
    ("math fonts", lambda p: "MathJax_" in p),
    ("other fonts", lambda p: p.endswith((".woff", ".woff2", ".ttf", ".otf", ".eot"))),
    ("figures", lambda p: "/_images/" in p or p.endswith((".svg", ".png", ".jpg"))),
    ("search index", lambda p: "searchindex" in p),
    ("html", lambda p: p.endswith(".html")),
    ("css", lambda p: p.endswith(".css")),
    ("js", lambda p: p.endswith(".js") or p.endswith(".mjs")),
]


def kind_of(path: str) -> str:
    """The kind of a requested file, by its path."""
    return next((kind for kind, test in KINDS if test(path)), "other")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Static handler without request logging."""

    def log_message(self, format: str, *args: object) -> None:  # `format`: signature fixed by the stdlib
        """Say nothing."""


def requested(context: Any, url: str, base: str) -> set[str]:
    """The paths a page asked our server for, fonts included (a page of the old build: once MathJax ran)."""
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(url, wait_until="load")
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.close()
    return {unquote(urlparse(u).path) for u in urls if u.startswith(base)}


def measure(html: Path, pages: list[str]) -> dict[str, dict[str, int]]:
    """{page: {kind: bytes}} for every page, from the files behind its requests to our server."""
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    out: dict[str, dict[str, int]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for name in pages:
                sizes: dict[str, int] = {}
                for path in requested(context, urljoin(base, f"{name}.html"), base):
                    file = html / path.lstrip("/")
                    if file.is_file():
                        sizes[kind_of(path)] = sizes.get(kind_of(path), 0) + file.stat().st_size
                out[name] = sizes
            browser.close()
    finally:
        server.shutdown()
    return out


def main() -> int:
    """Measure, then print one row per page, the median of each kind and the median, min and max page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=Path, help="the --path-output folder of a built book")
    parser.add_argument("--all", action="store_true", help="also the Chinese edition's pages")
    args = parser.parse_args()
    html = args.build_dir / "_build" / "html"
    pages = toc_files() + ([f"{ZH}/{p}" for p in toc_files()] if args.all else [])
    weights = measure(html, pages)
    kinds = [kind for kind, _ in KINDS] + ["other"]
    kinds = [k for k in kinds if any(k in w for w in weights.values())]
    print(f"{'page':<32}" + "".join(f"{k:>13}" for k in kinds) + f"{'total':>10}")
    for name, sizes in weights.items():
        print(f"{name:<32}" + "".join(f"{sizes.get(k, 0) / 1e3:>10.0f} kB" for k in kinds)
              + f"{sum(sizes.values()) / 1e6:>7.2f} MB")
    print(f"{'median of each kind':<32}"
          + "".join(f"{statistics.median(w.get(k, 0) for w in weights.values()) / 1e3:>10.0f} kB" for k in kinds))
    english = sorted(sum(weights[p].values()) for p in toc_files())
    # the same median as test_page_weight_median (the upper one of an even count)
    print(f"English pages: median {english[len(english) // 2] / 1e6:.2f} MB, "
          f"min {english[0] / 1e6:.2f}, max {english[-1] / 1e6:.2f} (budget 1.50 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
