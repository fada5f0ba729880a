"""Check a gettext catalog of the book: every message translated, nothing fuzzy, markup kept intact.

Run on files: `python -m tests.translation_lint book/locale/zh_CN/LC_MESSAGES/book/clipping.po ...`
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po

# Markup whose *target* must survive translation verbatim (the shown text may change).
ROLE = re.compile(r"\{([a-z][\w:-]*)\}`([^`]*)`")
INLINE_CODE = re.compile(r"(?<![`{}\w])`([^`]+)`")
MATH = re.compile(r"\$\$?[^$]+\$\$?")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
# Roles whose whole content is a key, not text: they must be copied unchanged.
VERBATIM_ROLES = {"cite", "cite:p", "cite:t", "glue:text", "glue", "glue:any", "glue:md", "eq", "math", "verdict"}


def _role_targets(text: str) -> Counter[str]:
    """Each role with its target: the part in <...> if present, else the whole content for key-like roles."""
    found: Counter[str] = Counter()
    for name, content in ROLE.findall(text):
        explicit = re.search(r"<([^<>]+)>\s*$", content)
        if explicit:
            found[f"{name}:{explicit.group(1)}"] += 1
        elif name in VERBATIM_ROLES or name in {"ref", "numref", "doc"}:
            found[f"{name}:{content}"] += 1
        else:  # e.g. {term}`gradient`: the translation must name the target explicitly
            found[f"{name}:{content.lower()}"] += 1
    return found


def _explicit_or_same(msgid: str, msgstr: str) -> list[str]:
    """Problems with roles: targets lost, added or changed."""
    want, got = _role_targets(msgid), _role_targets(msgstr)
    if want == got:
        return []
    return [f"role targets differ: missing {sorted((want - got).elements())}, extra {sorted((got - want).elements())}"]


def problems(msgid: str, msgstr: str) -> list[str]:
    """Everything wrong with one translated message (empty list: fine)."""
    if not msgstr.strip():
        return ["untranslated"]
    out = _explicit_or_same(msgid, msgstr)
    stripped_id, stripped_str = ROLE.sub("", msgid), ROLE.sub("", msgstr)
    for label, pattern in (("inline code", INLINE_CODE), ("math", MATH), ("link targets", LINK_TARGET)):
        a, b = Counter(pattern.findall(stripped_id)), Counter(pattern.findall(stripped_str))
        if a != b:
            out.append(f"{label} differ: missing {sorted((a - b).elements())}, extra {sorted((b - a).elements())}")
    return out


def check_catalog(path: Path) -> list[str]:
    """One line per problem in the catalog at `path`, naming the message."""
    with path.open("rb") as fh:
        catalog = read_po(fh)
    lines = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        msgstr = message.string if isinstance(message.string, str) else (message.string or [""])[0]
        if message.fuzzy:
            lines.append(f"{path}: fuzzy: {msgid[:70]!r}")
        for problem in problems(msgid, msgstr or ""):
            lines.append(f"{path}: {problem}: {msgid[:70]!r}")
    return lines


def main(argv: list[str]) -> int:
    """Print every problem in the named catalogs; exit 1 if there is any."""
    lines = [line for name in argv for line in check_catalog(Path(name))]
    print("\n".join(lines) if lines else f"{len(argv)} catalog(s): every message translated, markup intact")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
