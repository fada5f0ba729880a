"""Sphinx extension for translated editions: the words inside display math (`\\text{...}`) come from the page's
catalog (book/_ext/build_zh.py adds it).

Sphinx extracts each display equation as a message, but a translated equation does not survive MyST: Sphinx
re-parses a translated literal or math block as reStructuredText ("::" plus the indented text), so the page
shows "::" instead of the equation. The equations therefore stay as written (msgstr = msgid), and the words in
them are messages of their own: every `\\text{...}` of a display equation whose content has a word (two
letters or more) and is not a sub- or superscript label such as `n_\\text{in}`. `make translations` extracts
them into the page's catalog; translated builds put the translation in place of the words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.builders.gettext import MsgOrigin
from sphinx.locale import init as init_locale
from sphinx.util.i18n import docname_to_domain

TEXT = re.compile(r"(?<![_^])(\\text\{)([^{}]*)(\})")
WORD = re.compile(r"[A-Za-z]{2,}")


def math_words(latex: str) -> list[str]:
    """The translatable `\\text{...}` contents of one equation, in order (spaces kept: they are the spacing)."""
    return [m.group(2) for m in TEXT.finditer(latex) if WORD.search(m.group(2))]


def translate_latex(latex: str, gettext: Callable[[str], str]) -> str:
    """The equation with each translatable `\\text{...}` content replaced by gettext(content)."""

    def swap(match: re.Match[str]) -> str:
        words = match.group(2)
        return match.group(0) if not WORD.search(words) else f"{match.group(1)}{gettext(words)}{match.group(3)}"

    return TEXT.sub(swap, latex)


def collect(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """gettext builder: add the words of every display equation to the page's catalog."""
    if app.builder.name != "gettext":
        return
    catalog = app.builder.catalogs[docname_to_domain(docname, app.config.gettext_compact)]  # type: ignore[attr-defined]
    for block in doctree.findall(nodes.math_block):
        for words in math_words(block.astext()):
            catalog.add(words, MsgOrigin(str(app.env.doc2path(docname)), block.line or 0))


def translate(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Translated builds other than gettext: the words of every display equation from the page's catalog."""
    language = app.config.language
    if not language or language == "en" or app.builder.name == "gettext":
        return
    blocks = [b for b in doctree.findall(nodes.math_block) if math_words(b.astext())]
    if not blocks:
        return
    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    catalog, _ = init_locale(dirs, language, docname_to_domain(docname, app.config.gettext_compact))
    for block in blocks:
        block.children = [nodes.Text(translate_latex(block.astext(), catalog.gettext))]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hooks (after the page is resolved, when its math is final)."""
    app.connect("doctree-resolved", collect)
    app.connect("doctree-resolved", translate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
