"""The one message catalog: every message code's wording, rendered in the reader's language at the edges.

Checks and grader pass `Message`s (autograder/message.py: a code and its parameters); text is made here only,
where a reader sees it: a check cell's output, the feedback page, the CSVs. English comes from the wording tables
(wording.py, wording_grader.py), from the mistakes the checks define (`mistake.<id>`, `hint.<id>`) and from the
book sections the feedback links to (`topic.<function>`); other languages from the gettext catalog
autograder/locale/<lang>/LC_MESSAGES/checks.po (read with Babel, no compiled .mo), whose entries are keyed by the
code (msgctxt) and carry the English wording as msgid: a translation counts only while its msgid is the current
English, so an English edit shows English (and fails tests/test_check_messages.py) until it is translated again.

The language: `set_language("zh_CN")` in a notebook, else the environment variable AUTOGRADER_LANGUAGE, else the
language of the notebook the kernel runs (its metadata, wherever the student keeps it, under `nbgrader autograde`
too: autograder/kernel_notebook.py), else zh_CN when the kernel runs inside exercises/zh_CN/ (Jupyter starts it in
the notebook's folder), else English.
The batch grader renders a result in the language of the submitted notebook (Result.language).
"""

from __future__ import annotations

import functools
import html as html_lib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from markupsafe import Markup

from autograder.checks.wording import CAPSTONE, CHECKS, LABELS
from autograder.checks.wording_grader import GRADER, PAGE, SERVE_PAGES, STATUSES, SUBMIT
from autograder.message import CODE, Message, Param, say

LOCALE = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "checks"
LANGUAGES = ("zh_CN",)
#: The wording tables, in the catalog's order.
TABLES = (CHECKS, CAPSTONE, LABELS, GRADER, STATUSES, PAGE, SUBMIT, SERVE_PAGES)
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
#: A text parameter that is a number: shown as is, never as code.
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?%?|[-+]?inf|nan")

_language: list[str | None] = [None]  # set_language's choice (one per kernel: a notebook is one student)


def set_language(lang: str | None) -> None:
    """Choose the language of the check messages in this process (None: back to the automatic choice)."""
    from autograder.notebook_i18n import known  # zh-CN, zh, zh_Hans ... name zh_CN too

    if lang is not None and known(lang) is None:
        raise ValueError(f"unknown language {lang!r}; known: {LANGUAGES}")
    _language[0] = known(lang)


def language(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The language the checks speak here (None: English)."""
    if _language[0] is not None:
        return _language[0]
    env = os.environ.get("AUTOGRADER_LANGUAGE", "").strip()
    if env:
        from autograder.notebook_i18n import known

        if known(env) is not None:  # zh_CN, zh-CN, zh ...
            return known(env)
        if env.lower().replace("-", "_").split("_")[0] in ("en", "c"):  # English asked for (en, en_US, C)
            return None
    from autograder import kernel_notebook  # late: only a kernel without a choice made needs its notebook

    asked = kernel_notebook.language(cwd)
    if asked is not None:
        return asked
    parts = Path(cwd or os.getcwd()).parts
    return next((lang for lang in LANGUAGES for i, p in enumerate(parts[:-1]) if p == "exercises"
                 and parts[i + 1] == lang), None)


@functools.cache
def english() -> dict[str, str]:
    """code -> English wording, for every code of the catalog."""
    from autograder.checks import ASSIGNMENTS  # late: the registry imports the checks, which import this module
    from autograder.checks.diagnose import FLOAT32
    from autograder.grading.outputs.sections import SECTIONS

    found: dict[str, str] = {}
    for table in TABLES:
        found.update(table)
    named = [FLOAT32] + [m for a in ASSIGNMENTS.values() for q in a.questions for m in q.named]
    for mistake_id, name, hint in named:
        found[f"mistake.{mistake_id}"], found[f"hint.{mistake_id}"] = name, hint
    found.update({f"topic.{function}": section.topic for function, section in SECTIONS.items()})
    return found


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """code -> translation, for the finished entries of `lang`'s catalog whose msgid is the current English."""
    return {code: text for code, (msgid, text, fuzzy) in entries(lang).items()
            if text and not fuzzy and msgid == english().get(code)}


def entries(lang: str) -> dict[str, tuple[str, str, bool]]:
    """code -> (msgid, msgstr, fuzzy) of every entry in `lang`'s catalog file, as written."""
    from babel.messages.pofile import read_po  # only when a translation is asked for

    path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return {str(m.context): (str(m.id), str(m.string or ""), m.fuzzy) for m in read_po(handle)
                if m.id and m.context}


def wording(code: str, lang: str | None) -> str | None:
    """The template of `code` in `lang` (English where it has no translation); None for an unknown code."""
    if lang is not None:
        found = catalog(lang).get(code)
        if found is not None:
            return found
    return english().get(code)


def text(message: Message | str, lang: str | None = None) -> str:
    """`message` as plain text in `lang` (None: English)."""
    return _render(message, lang, lambda s: s, lambda s: s)


def html(message: Message | str, lang: str | None = None) -> Markup:
    """`message` as HTML in `lang`: escaped, text parameters (names, code, labels) set as <code>."""
    def verbatim(value: str) -> str:
        escaped = html_lib.escape(value, quote=False)
        return escaped if not value or _NUMBER.fullmatch(value) else f"<code>{escaped}</code>"
    return Markup(_render(message, lang, lambda s: html_lib.escape(s, quote=False), verbatim))


def _render(message: Message | str, lang: str | None, words: Callable[[str], str],
            verbatim: Callable[[str], str]) -> str:
    """The rendering both `text` and `html` share: `words` for the catalog's text, `verbatim` for text params."""
    def param(value: Param) -> str:
        if isinstance(value, Message):
            return one(value)
        if isinstance(value, tuple):
            return ", ".join(param(v) for v in value)
        if isinstance(value, str):
            return verbatim(value)
        return words(f"{value:g}" if isinstance(value, float) else str(value))

    def one(msg: Message) -> str:
        template = wording(msg.code, lang)
        args = msg.args
        if msg.code.startswith("list.") and template is not None:  # a list: its items joined by the entry's text
            items = args.get("items", ())
            return words(template).join(param(v) for v in (items if isinstance(items, tuple) else (items,)))
        if template is None:  # a code no catalog knows (sent from the sandbox, say): its parameters, plainly
            return words(msg.code) + ("" if not args else " (" + "; ".join(param(v) for v in args.values()) + ")")
        pieces, pos = [], 0
        for m in _PARAM.finditer(template):
            pieces.append(words(template[pos:m.start()]))
            pieces.append(param(args[m.group(1)]) if m.group(1) in args else words(m.group(0)))
            pos = m.end()
        return "".join(pieces) + words(template[pos:])

    return verbatim(message) if isinstance(message, str) else one(message)


def verdict(status: str, message: Message, lang: str | None) -> str:
    """What `check` prints after its mark: 'passed: ...' and the like, in `lang`."""
    return text(say(f"verdict.{status}", message=message), lang)


def points_lost(score: float, points: float, message: Message, lang: str | None) -> str:
    """What `grade` prints when points are lost, in `lang`."""
    return text(say("verdict.points_lost", score=f"{score:g}", points=f"{points:g}", message=message), lang)


def names(mistakes: Iterable[str], lang: str | None = None) -> tuple[str, ...]:
    """The display names of mistakes, by their ids, in `lang` (a malformed id as it is)."""
    return tuple(text(say(f"mistake.{m}"), lang) if CODE.fullmatch(f"mistake.{m}") else m for m in mistakes)


def translator(lang: str | None) -> Callable[..., str]:
    """`_` for a template: the wording of a code in `lang`, formatted with its parameters (text, not HTML)."""
    def translate(code: str, **params: Param) -> str:
        return text(say(code, **params), lang)
    return translate


def update(lang: str) -> Path:
    """Merge the codes into the catalog of `lang`: new ones empty, translations kept, those of changed English
    kept as fuzzy (to revise), obsolete codes dropped."""
    from babel.messages.catalog import Catalog

    from autograder.po_files import write_catalog

    old = entries(lang)
    out = Catalog(locale=lang, project="autograder checks", domain=DOMAIN)
    for code, msgid in english().items():
        before, translation, fuzzy = old.get(code, ("", "", False))
        stale = bool(translation) and (fuzzy or before != msgid)
        out.add(msgid, translation, context=code, flags=("fuzzy",) if stale else ())
    path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    write_catalog(path, out, width=0)
    catalog.cache_clear()
    return path


if __name__ == "__main__":  # python -m autograder.checks.messages: refresh the catalogs after an English edit
    for name in LANGUAGES:
        print(update(name))
