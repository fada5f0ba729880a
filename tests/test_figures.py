"""Every plotting cell of the book declares a numbered figure: a name, a "what to see" caption and real alt text.

Fast source check (no build); tests/test_browser.py checks the same on the rendered pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

BOOK = Path(__file__).resolve().parents[1] / "book"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def metadata_and_code(cell: str) -> tuple[dict, str]:
    """Split a MyST code cell into its metadata (':key:' lines or a '---' YAML block) and its code."""
    lines = cell.splitlines()
    if lines and lines[0] == "---":
        end = lines.index("---", 1)
        return yaml.safe_load("\n".join(lines[1:end])) or {}, "\n".join(lines[end + 1:])
    meta = [line[1:] for line in lines if line.startswith(":")]  # ':key: value' / ':  nested' lines
    code = "\n".join(line for line in lines if not line.startswith(":"))
    return (yaml.safe_load("\n".join(meta).replace(":mystnb:", "mystnb:", 1)) or {}) if meta else {}, code


def figure_cells() -> list[tuple[str, dict]]:
    """(chapter:cell number, metadata) of every code cell that shows a matplotlib figure."""
    found = []
    for chapter in sorted(BOOK.glob("*.md")):
        for i, match in enumerate(CELL.finditer(chapter.read_text(encoding="utf-8")), start=1):
            meta, code = metadata_and_code(match.group(1))
            if "plt.show()" in code:
                found.append((f"{chapter.name}:cell {i}", meta))
    return found


FIGURES = figure_cells()


def test_the_book_has_figures() -> None:
    """The check below is not vacuous."""
    assert len(FIGURES) >= 19, [name for name, _ in FIGURES]


@pytest.mark.parametrize("where, meta", FIGURES, ids=[name for name, _ in FIGURES])
def test_figure_cell_is_named_captioned_and_described(where: str, meta: dict) -> None:
    """mystnb.figure has a fig-* name and a caption saying what to see; mystnb.image has descriptive alt text."""
    nb = (meta or {}).get("mystnb") or {}
    figure, image = nb.get("figure") or {}, nb.get("image") or {}
    assert str(figure.get("name", "")).startswith("fig-"), f"{where}: no mystnb.figure.name fig-... ({meta})"
    caption = str(figure.get("caption", ""))
    words = " ".join(caption.lower().split())
    assert "what to see" in words, f"{where}: the caption does not say what to see: {caption[:80]!r}"
    alt = str(image.get("alt", "")).strip()
    assert len(alt) >= 20 and not re.search(r"\.(png|svg|jpe?g)$", alt), f"{where}: alt text {alt!r}"
