"""Writing a gettext catalog only when its messages changed (Babel stamps a new POT-Creation-Date on every write)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

_STAMP = re.compile(rb'^"POT-Creation-Date: [^"]*\\n"$', re.MULTILINE)


def write_catalog(path: Path, catalog: Any, **options: Any) -> bool:
    """Write `catalog` (a babel Catalog) to `path` with babel's write_po(**options), unless the file already holds the
    same catalog but for its creation date; True when it wrote."""
    from babel.messages.pofile import write_po

    buffer = io.BytesIO()
    write_po(buffer, catalog, **options)
    data = buffer.getvalue()
    if path.is_file() and _STAMP.sub(b"", path.read_bytes()) == _STAMP.sub(b"", data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True
