"""Sphinx extension: the part captions of _toc.yml ("Foundations", ...) are translated in translated editions.

sphinx-external-toc inserts the toctrees into the root page after Sphinx's i18n transform has run, so their
captions, although extracted into the root page's catalog (book/intro.po), would stay English in the sidebar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain
from sphinx_external_toc.events import InsertToctrees


class TranslateTocCaptions(SphinxTransform):
    """Runs right after sphinx-external-toc inserted the toctrees: look each caption up in the page's catalog."""

    default_priority = InsertToctrees.default_priority + 1

    def apply(self, **kwargs: Any) -> None:
        language = self.config.language
        if not language or language == "en" or not getattr(self.app.builder, "use_message_catalog", True):
            return
        toctrees = [n for n in self.document.findall(addnodes.toctree) if n.get("caption")]
        if not toctrees:
            return
        dirs = [str(Path(self.env.srcdir) / d) for d in self.config.locale_dirs]
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        catalog, _ = init_locale(dirs, language, domain)
        for node in toctrees:
            node["caption"] = catalog.gettext(node["caption"])
            node["rawcaption"] = node["caption"]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the transform."""
    app.add_transform(TranslateTocCaptions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
