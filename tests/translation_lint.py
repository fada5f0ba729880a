"""Check a gettext catalog of the book: every message translated, nothing fuzzy, markup kept intact, and the
Chinese typography rules (no italics on Chinese, no doubled glosses, emphasis not wrapped around punctuation).

Run on files: `python -m tests.translation_lint book/locale/zh_CN/LC_MESSAGES/book/clipping.po ...`
Each problem line starts with its rule's name (see RULES); tests/test_translation_lint.py gives every rule a
crafted bad message, so a rule cannot disappear unnoticed.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from babel.messages.pofile import read_po

# Markup whose *target* must survive translation verbatim (the shown text may change).
ROLE = re.compile(r"\{([a-z][\w:-]*)\}`([^`]*)`")
INLINE_CODE = re.compile(r"(?<![`{}\w])`([^`]+)`")
MATH = re.compile(r"\$\$?[^$]+\$\$?")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
# Roles whose whole content is a key, not text: they must be copied unchanged.
VERBATIM_ROLES = {"cite", "cite:p", "cite:t", "glue:text", "glue", "glue:any", "glue:md", "eq", "math", "verdict"}
HAN = "\u3400-\u4dbf\u4e00-\u9fff"
# *text* (one star: italics) around text holding a Chinese character; **bold** is fine
CJK_ITALICS = re.compile(rf"(?<![*A-Za-z0-9_\\])\*(?![*\s])([^*\n]*?[{HAN}][^*\n]*?)(?<![\s*\\])\*(?![*A-Za-z0-9_])")
# a Chinese word followed by the same word as its gloss: 梯度裁剪（梯度裁剪）
DOUBLED_GLOSS = re.compile(rf"([{HAN}][{HAN}\w ]*?)\s*[（(]\s*\1\s*[)）]")
# **…** or *…* that starts with Chinese punctuation: the marker is in the wrong place
CJK_PUNCTUATION = "。，、；：！？"
EMPHASIS = re.compile(r"(?<!\*)(\*\*?)(?![\s*])([^*\n]+?)(?<![\s*])\1(?!\*)")


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


def prose(text: str) -> str:
    """The words a reader sees: roles reduced to their shown text, link targets removed, code and math (and
    key-like roles) replaced by an X, which no rule looks for."""

    def shown(match: re.Match[str]) -> str:
        name, content = match.group(1), match.group(2)
        if name in VERBATIM_ROLES:
            return "X"
        return re.sub(r"\s*<[^<>]+>\s*$", "", content)

    text = ROLE.sub(shown, text)
    text = INLINE_CODE.sub("X", text)
    text = MATH.sub("X", text)
    return LINK_TARGET.sub("]", text)


def role_targets(msgid: str, msgstr: str) -> list[str]:
    """Roles: targets lost, added or changed."""
    want, got = _role_targets(msgid), _role_targets(msgstr)
    if want == got:
        return []
    return [f"role targets differ: missing {sorted((want - got).elements())}, extra {sorted((got - want).elements())}"]


def kept_verbatim(msgid: str, msgstr: str) -> list[str]:
    """Inline code, math and link targets are copied unchanged."""
    out = []
    stripped_id, stripped_str = ROLE.sub("", msgid), ROLE.sub("", msgstr)
    for label, pattern in (("inline code", INLINE_CODE), ("math", MATH), ("link targets", LINK_TARGET)):
        a, b = Counter(pattern.findall(stripped_id)), Counter(pattern.findall(stripped_str))
        if a != b:
            out.append(f"{label} differ: missing {sorted((a - b).elements())}, extra {sorted((b - a).elements())}")
    return out


def cjk_italics(msgid: str, msgstr: str) -> list[str]:
    """Chinese has no italics (browsers slant the glyphs): emphasis on Chinese is bold."""
    return [f"italics on Chinese text (use **bold**): *{m}*" for m in CJK_ITALICS.findall(prose(msgstr))]


def doubled_gloss(msgid: str, msgstr: str) -> list[str]:
    """A gloss repeats the term it glosses: 梯度裁剪（梯度裁剪）; the gloss should be the English term or nothing."""
    return [f"doubled gloss: {m.group(0)}" for m in DOUBLED_GLOSS.finditer(prose(msgstr).replace("*", ""))]


def emphasis_around_punctuation(msgid: str, msgstr: str) -> list[str]:
    """**。完整反向钩子**: bold or italics that begin with Chinese punctuation are misplaced."""
    return [f"emphasis marker misplaced around punctuation: {m.group(0)}"
            for m in EMPHASIS.finditer(prose(msgstr))
            if m.group(2)[0] in CJK_PUNCTUATION]


def display_math_unchanged(msgid: str, msgstr: str) -> list[str]:
    """A display equation (its message starts with a newline) must stay as written: Sphinx re-parses a translated
    one as reStructuredText and MyST shows "::" instead; its words are translated as their own messages
    (book/_ext/math_i18n.py)."""
    return ["display equation changed (translate its \\text{} words instead)"] if (
        msgid.startswith("\n") and msgstr != msgid) else []


Rule = Callable[[str, str], list[str]]
RULES: dict[str, Rule] = {
    "role-targets": role_targets,
    "verbatim": kept_verbatim,
    "cjk-italics": cjk_italics,
    "doubled-gloss": doubled_gloss,
    "emphasis-punctuation": emphasis_around_punctuation,
    "display-math": display_math_unchanged,
}


def problems(msgid: str, msgstr: str) -> list[str]:
    """Everything wrong with one translated message (empty list: fine), each line starting with its rule."""
    if not msgstr.strip():
        return ["untranslated"]
    return [f"{name}: {line}" for name, rule in RULES.items() for line in rule(msgid, msgstr)]


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
