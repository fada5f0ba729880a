"""Source-level traps in the chapters that render wrongly without any build warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.md"))
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LIST_MARKER = re.compile(r"^\s*([-+*]|\d+[.)])\s")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_control_characters(path: Path) -> None:
    # A Python string escape slip ("\a" in "\approx") leaves a BEL byte that MathJax shows as "pprox".
    bad = [f"line {n}: {line.strip()[:60]!r}" for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
           if CONTROL.search(line)]
    assert not bad, f"{path.name} has control characters: {bad}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_list_marker_inside_inline_math(path: Path) -> None:
    # A wrapped formula whose next line starts with "+ 1)$" turns into a bullet list and breaks the math.
    bad, dollars, in_code = [], 0, False
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            # Code fences ({code-cell}, ```python) hold code; prose directives ({seed-claim}, {note}) hold text.
            opens_code = stripped != "```" and not stripped.startswith("```{") or stripped.startswith("```{code")
            in_code = opens_code if not in_code else False
            dollars = 0
            continue
        if in_code or not stripped:
            dollars = 0
            continue
        if dollars % 2 and LIST_MARKER.match(line):
            bad.append(f"line {n}: {stripped[:60]!r}")
        dollars += line.replace("$$", "").count("$")
    assert not bad, f"{path.name}: a line inside $...$ starts like a list item: {bad}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_what_to_see_is_followed_by_text(path: Path) -> None:
    # An edit that cut the first words of a caption left "What to see:, mode=..." (issue 20).
    bad = [f"line {n}: {line.strip()[:60]!r}" for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
           if re.search(r"What to see:\s*[,;:.)]", line)]
    assert not bad, f"{path.name}: a caption's 'What to see:' is followed by punctuation: {bad}"
