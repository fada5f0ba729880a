"""Sphinx extension: pages that fit the reader's screen (issue 20 §3).

Adds book/_static/fit.css and fit.js to every page (wide column, wrapped outputs, scrolling equations, phone
tables, figure zoom, anchor-keeping language switch), search.js to the search page (one result per page, title
matches first), a lighter page template (book/_ext/templates_fit), no second search field in a header bar, and
each SVG figure's natural and legible widths (for fit.css).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

LEGIBLE_PX = 9  # the smallest text on screen, in CSS pixels
PX_PER_PT = 4 / 3  # an SVG width in pt shows at 4/3 as many CSS pixels at 100 %
IMG_SVG = re.compile(r'<img\b[^>]*?\ssrc="(?:\.\./)*_images/([^"/]+\.svg)"')
SVG_WIDTH = re.compile(r'<svg\b[^>]*?\swidth="([\d.]+)pt"[^>]*?\sviewBox="[\d.-]+ [\d.-]+ ([\d.]+) ')
TEXT = re.compile(r"<text\b.*?</text>", re.DOTALL)
FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px")
STATIC = Path(__file__).resolve().parents[1] / "_static"
TEMPLATES = Path(__file__).resolve().parent / "templates_fit"


def add_paths(app: Sphinx, config: Config) -> None:
    """Our static folder and our layout template, ahead of the theme's; no search field in a header bar."""
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    config.templates_path = [str(TEMPLATES), *config.templates_path]
    # The book theme leaves the header's persistent items empty, but the pydata theme under it fills in a search
    # field wherever the option is unset: a second search box above the sidebar's, in a bar of its own on every
    # page 992 px and wider (the article header keeps its search button on narrower screens).
    config.html_theme_options = {**config.html_theme_options, "navbar_persistent": []}


def text_sizes(svg: str) -> list[float]:
    """The size of each text of a matplotlib SVG (svg.fonttype none): its largest font, so that the exponent of a
    tick label such as 10^-4 (mathtext sets it at 70 %, as print does) counts at the size of its label."""
    sizes = [max(float(s) for s in FONT_SIZE.findall(text)) for text in TEXT.findall(svg) if FONT_SIZE.search(text)]
    return sizes


def svg_widths(svg: str) -> tuple[int, int] | None:
    """(natural CSS width, narrowest CSS width at which its smallest text is LEGIBLE_PX) of a matplotlib SVG."""
    size, sizes = SVG_WIDTH.search(svg), text_sizes(svg)
    if not size:
        return None
    width_pt, view_width = float(size.group(1)), float(size.group(2))
    natural = math.ceil(width_pt * PX_PER_PT)
    if not sizes:
        return natural, 0
    return natural, math.ceil(LEGIBLE_PX * view_width / min(sizes))


def figure_styles(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Give each SVG figure its natural width and, as --legible, the width its smallest text needs (fit.css uses it
    as the figure's minimum width on narrow screens, where the figure then scrolls inside its own box)."""
    body = context.get("body", "")
    if ".svg" not in body:
        return
    sources = {unique: Path(app.srcdir, source) for source, (_, unique) in app.env.images.items()}

    def style(match: re.Match[str]) -> str:
        source = sources.get(match.group(1))
        widths = svg_widths(source.read_text(encoding="utf-8")) if source and source.is_file() else None
        if widths is None:
            return match.group(0)
        natural, legible = widths
        return f'{match.group(0)} style="width: {natural}px; --legible: {legible}px"'

    context["body"] = IMG_SVG.sub(style, body)


def search_page_script(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """The search page gets search.js: one result per page, pages titled with the query words first."""
    if pagename == "search":
        app.add_js_file("search.js", defer="defer")  # called here, it applies to this page only


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the assets and hooks."""
    app.connect("config-inited", add_paths)
    app.add_css_file("fit.css")
    app.add_js_file("fit.js", defer="defer")
    app.connect("html-page-context", search_page_script)
    app.connect("html-page-context", figure_styles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
