"""Sphinx extension: {glue:text} roles work inside translated messages (the Chinese edition).

Sphinx's i18n transform re-parses each translated message as a small document of its own, after myst-nb
has finished with the page, so a `{glue:text}`key`` in a msgstr finds no notebook and fails with "No key ...
found in glue data for this document". In such a message document the role is read as a reference to the
page itself (`/<page>.md::key`), which myst-nb resolves from the glue data it saved for the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docutils import nodes
from myst_nb.ext.glue import roles as glue_roles
from sphinx.application import Sphinx

Run = Callable[[Any], tuple[list[nodes.Node], list[nodes.system_message]]]


def page_reference(text: str, page_path: str) -> str:
    """`key` or `key:format` -> `/page.md::key:format` (myst-nb needs the format once a path is given)."""
    if "::" in text:
        return text
    return f"/{page_path}::{text}" if ":" in text else f"/{page_path}::{text}:s"


def in_message_document(role: Any) -> bool:
    """True when the role is parsed in a translated message, not in the page's own parse."""
    return "nb_renderer" not in role.document and role.document.settings.env is not None


def with_page_reference(run: Run) -> Run:
    """Wrap the role's run: inside a translated message, refer to the page being translated."""

    def patched(role: Any) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        if in_message_document(role):
            env = role.document.settings.env
            role.text = page_reference(role.text, str(env.doc2path(env.docname, False)))
        return run(role)

    patched.page_reference = True  # type: ignore[attr-defined]
    return patched


def setup(app: Sphinx) -> dict[str, Any]:
    """Patch the {glue:text} role once (the book uses no other glue role or directive)."""
    role = glue_roles.PasteTextRole
    if not getattr(role.run, "page_reference", False):
        role.run = with_page_reference(role.run)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
