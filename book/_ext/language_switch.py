"""Sphinx extension: every page links to its twin in the other edition (English <-> Chinese), in the header.

The English book is at the site root and the Chinese edition in the `zh_CN/` folder below it, page for page
(book/_ext/build_zh.py builds it). The link is relative, computed from the page name, so it works from
file:// and when served. Chinese exercise pages (still English) get a Chinese note saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"
TWIN_FOLDER = "zh_CN"
UNTRANSLATED = "exercises/"
UNTRANSLATED_NOTE = "本练习尚未译成中文，以下为英文原文。练习的讲解见各章的中文版。"


def is_chinese(language: str | None) -> bool:
    """True for the Chinese edition's builds (language zh_CN, zh-CN or zh)."""
    return bool(language) and str(language).replace("-", "_").lower().startswith("zh")


def twin_url(pagename: str, chinese: bool) -> str:
    """Relative URL from `pagename` (e.g. "book/clipping") to the same page in the other edition."""
    up = "../" * pagename.count("/")
    return f"../{up}{pagename}.html" if chinese else f"{up}{TWIN_FOLDER}/{pagename}.html"


def switch_context(pagename: str, chinese: bool) -> dict[str, str]:
    """What the header template shows: link, its text in the target language, and labels."""
    if chinese:
        return {"url": twin_url(pagename, True), "text": "English", "hreflang": "en",
                "title": "Read this page in English", "aria": "语言 / Language"}
    return {"url": twin_url(pagename, False), "text": "中文", "hreflang": "zh-CN",
            "title": "阅读本页的中文版", "aria": "Language / 语言"}


def add_switch(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Give the page template the twin's link, and declare the twin in <head> for search engines."""
    switch = switch_context(pagename, is_chinese(app.config.language))
    context["language_switch"] = switch
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{switch["hreflang"]}" href="{switch["url"]}" />')


def use_header(app: Sphinx, config: Config) -> None:
    """Our article-header-buttons.html (the theme's, switch first) takes precedence over the theme's: the switch
    is always in view at the top of the page, on narrow screens too (where the sidebar collapses)."""
    config.templates_path = [str(TEMPLATES), *config.templates_path]  # first: ahead of the themes' own


def note_untranslated(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Chinese edition: exercise pages open with a note that they are in English."""
    if not (is_chinese(app.config.language) and docname.startswith(UNTRANSLATED)):
        return
    note = nodes.note("", nodes.paragraph("", UNTRANSLATED_NOTE), classes=["untranslated-note"])
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section[0], nodes.title):
        section.insert(1, note)
    else:
        doctree.insert(0, note)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hooks."""
    app.connect("config-inited", use_header)
    app.connect("html-page-context", add_switch)
    app.connect("doctree-resolved", note_untranslated)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
