"""Jupyter server extension: the built book at /course-book/, so the exercise notebooks' links open it rendered.

JupyterLab opens a relative link to an .html file in its HTML viewer, without the page's CSS and scripts, and
serves /files/ in a sandbox whose requests for CSS and scripts carry no login cookie. The notebooks therefore
link to /course-book/<page>.html#<section> (target _blank), which this handler serves from
<server root>/_build/html, to logged-in users only, read-only, with the server's ordinary headers. The book is
this repository's own build output, not user content, which is why it may run scripts on the server's origin.

`pip install .` (or `-e .`) enables it through etc/jupyter/jupyter_server_config.d/autograder.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

PREFIX = "course-book"
BOOK = Path("_build") / "html"  # relative to the server's root directory: start Jupyter from the repository root


class BookHandler(JupyterHandler, web.StaticFileHandler):
    """GET/HEAD of files below the built book, for logged-in users (no sandbox: the pages need their assets)."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    def head(self, path: str) -> Any:  # type: ignore[override]  # the decorators retype it; jupyter_server does the same
        """Headers of a book file."""
        return web.StaticFileHandler.head(self, path)

    @web.authenticated
    @authorized
    def get(self, path: str, include_body: bool = True) -> Any:  # type: ignore[override]  # as head()
        """A book file (index.html for a folder)."""
        return web.StaticFileHandler.get(self, path, include_body)

    def compute_etag(self) -> str | None:
        """No etag: a rebuilt book is served at once (the default revalidation sees the new modification time)."""
        return None


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter's entry point: this module is the extension."""
    return [{"module": "autograder.book_server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Route <base_url>course-book/... to <root_dir>/_build/html/...."""
    book = Path(serverapp.root_dir) / BOOK
    pattern = url_path_join(serverapp.web_app.settings["base_url"], PREFIX, "(.*)")
    handler = (pattern, BookHandler, {"path": str(book), "default_filename": "index.html"})
    serverapp.web_app.add_handlers(".*$", [handler])
    state = "" if (book / "index.html").is_file() else " (not built yet: run `make book`)"
    serverapp.log.info(f"course book: {book} at {pattern.replace('(.*)', '')}{state}")
