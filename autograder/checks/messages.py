"""The one message catalog of the checks: English text rendered in the student's language at the edges.

The checks build their messages in English (the msgids); this module renders them in another language through
the gettext catalog autograder/locale/<lang>/LC_MESSAGES/checks.po (read with Babel, no compiled .mo). A message
is matched against FRAMES, the English templates of the verdicts (`{name}` are parameters); the parameters
that are text (a nested frame, a mistake's name or hint, a diff reason) are rendered the same way, the others
(grade ids, numbers, labels, code) stay as they are. Text no frame or entry knows stays English.

The language: `set_language("zh_CN")` in a notebook, else the environment variable AUTOGRADER_LANGUAGE, else
zh_CN when the kernel runs inside exercises/zh_CN/ (Jupyter starts it in the notebook's folder), else English.
The batch grader passes the language of the submitted notebook (its metadata.autograder.language) explicitly.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOCALE = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "checks"
LANGUAGES = ("zh_CN",)

#: English templates of composed messages, most specific first. Parameters in VERBATIM are never translated.
FRAMES = (
    "{head}. This matches a known mistake: {mistake} — {hint}",
    "{head}. This matches known mistakes that these cases cannot tell apart: {pairs}",
    "{head} [{wrong} of {total} outputs wrong: {score} of {points} points, at most {cap} for a named known mistake]",
    "{head} [{wrong} of {total} outputs wrong: {score} of {points} points]",
    "{grade_id}: all {n} cases match the reference (max abs err {err})",
    "{grade_id}: no cases were graded",
    "{grade_id}: case [{label}]: output '{key}' differs: {reason} (also: {others})",
    "{grade_id}: case [{label}]: output '{key}' differs: {reason}",
    "{grade_id}: case [{label}]: {error}",
    "{grade_id}: {error}",
    "forbidden: {function} uses {shortcuts} (write the computation yourself)",
    "{function} changed its input {what} in place; inputs must not change (update it in place only if you "
    "return that same tensor)",
    "{function} changed its input {what} in place; inputs must not change (compute new tensors instead: "
    "out-of-place ops such as x * m, not x.mul_(m) or x[i] = ...)",
    "{function} changed its input {what} in place; inputs must not change",
    "raised NotImplementedError ({where})",
    "raised NameError: name '{name}' is not defined ({where})",
    "raised NameError: name '{name}' is not defined",
    "{what}: expected dtype {want} (the inputs' dtype), got {got}",
    "{what}: expected a tensor on {want} (the inputs' device), got {got}",
    "{what}: expected a tensor of shape {want}, got {got}",
    "{what}: expected shape {want}, got shape {got}",
    "{what}: expected a tuple of {n} values, got {got}",
    "no function named {name} was defined (run the cell that defines it)",
    "train changed x or y in place; inputs must not change",
    "expected shape {want}, got shape {got}",
    "expected a tensor of shape {want}, got {got}",
    "max abs err {abs}, max rel err {rel}, first bad step {step}",
    "max abs err {abs}, max rel err {rel}, first bad entry at index {index}",
    "max abs err {abs}, max rel err {rel}, the scalar differs",
    "NaN where the reference is finite ({where})",
    "inf where the reference is finite ({where})",
    "no output came back",
)
#: The verdict prefixes the notebook prints before a message.
VERDICTS = ("passed: {message}", "partial: {message}", "failed: {message}", "error: {message}",
            "forbidden: {message}", "{score} of {points} points: {message}")
#: The feedback page's chrome and the row statuses of the batch grader (autograder/grading/outputs/batch.py).
PAGE = ("{assignment} — feedback for {student}", "Graded without a sandbox ({sandbox}).", "Total:", "(late)",
        "To work on:", "(first in the table, each linked to the section of the book that teaches it).",
        "Every test passed.", "Hidden tests used inputs drawn for you from the course key", "(case set {case})",
        "regrading this notebook draws the same inputs.", "test", "score / points", "status", "why", "read",
        "Errors while running your cells", "Printed output", "Warnings and errors printed", "Output cut",
        "passed", "partial", "failed", "error", "forbidden", "timeout", "memory", "malformed", "missing")
TRANSLATED_PARAMS = frozenset({"head", "mistake", "hint", "pairs", "reason", "error", "message"})
#: What a parameter may look like: tight shapes keep a frame from swallowing code (`f(x): ...`) and keep the
#: matching linear on hostile text (an exception message is the student's): numbers are numbers, a label has no
#: "]", a key no quote. Messages are rendered to at most MAX_DEPTH nested frames.
_NUMBER = r"-?[\d.]+(?:e[+-]?\d+)?%?"
SHAPES = {"grade_id": r"[A-Za-z_][\w-]*", "function": r"[A-Za-z_]\w*", "name": r"\w+", "what": r"[^:\n]+?",
          "head": r".+", "label": r"[^\]\n]+", "key": r"[^'\n]+", "others": r"[^()\n]+",
          **dict.fromkeys(("wrong", "total", "score", "points", "cap", "n", "err", "abs", "rel", "step"), _NUMBER)}
MAX_DEPTH = 4

_language: list[str | None] = [None]  # set_language's choice (one per kernel: a notebook is one student)


def set_language(lang: str | None) -> None:
    """Choose the language of the check messages in this process (None: back to the automatic choice)."""
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {LANGUAGES}")
    _language[0] = lang


def language(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The language the checks speak here (None: English)."""
    if _language[0] is not None:
        return _language[0]
    env = os.environ.get("AUTOGRADER_LANGUAGE")
    if env in LANGUAGES:
        return env
    parts = Path(cwd or os.getcwd()).parts
    return next((lang for lang in LANGUAGES for i, p in enumerate(parts[:-1]) if p == "exercises"
                 and parts[i + 1] == lang), None)


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> msgstr of the finished translations in the checks catalog of `lang`."""
    from babel.messages.pofile import read_po  # only when a translation is asked for

    path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id and m.string and not m.fuzzy}


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    """A template as a regular expression; `head` is greedy (it may hold the rest's punctuation)."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>{SHAPES.get(m.group(1), '.+?')})")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.S)


def render(text: str, lang: str | None, depth: int = 0) -> str:
    """The English message `text` in `lang` (unchanged for English or what the catalog does not know)."""
    if lang is None or not text or depth > MAX_DEPTH:
        return text
    table = catalog(lang)
    if text in table:
        return table[text]
    for template in FRAMES:
        m = _pattern(template).fullmatch(text)
        if m and template in table:
            params = {k: _param(k, v, lang, depth + 1) for k, v in m.groupdict().items()}
            return table[template].format(**params)
    return text


def _param(name: str, value: str, lang: str, depth: int) -> str:
    if name == "pairs":  # "a — hint; or b — hint"
        return "；或 ".join(" — ".join(render(p, lang, depth) for p in pair.split(" — ", 1))
                           for pair in value.split("; or "))
    return render(value, lang, depth) if name in TRANSLATED_PARAMS else value


def verdict(status: str, message: str, lang: str | None) -> str:
    """What `check` prints after its mark: 'passed: ...' and the like, in `lang`."""
    return _frame(f"{status}: {{message}}", lang, message=render(message, lang))


def points_lost(score: float, points: float, message: str, lang: str | None) -> str:
    """What `grade` prints when points are lost, in `lang`."""
    return _frame("{score} of {points} points: {message}", lang, score=f"{score:g}", points=f"{points:g}",
                  message=render(message, lang))


def translator(lang: str | None) -> Callable[..., str]:
    """`_` for a template: the catalog's text for a msgid, formatted with its parameters (English for None)."""
    def translate(msgid: str, **params: Any) -> str:
        return _frame(msgid, lang, **{k: str(v) for k, v in params.items()})
    return translate


def _frame(template: str, lang: str | None, **params: str) -> str:
    table = catalog(lang) if lang is not None else {}
    return table.get(template, template).format(**params)


def known_messages() -> list[str]:
    """Every msgid of the domain: the frames, the verdicts, and each named mistake's name and hint."""
    import inspect

    from autograder.checks import ASSIGNMENTS
    from autograder.checks.diagnose import FLOAT32

    found: dict[str, None] = dict.fromkeys([*FRAMES, *VERDICTS, *PAGE, *FLOAT32])
    for assignment in ASSIGNMENTS.values():
        for question in assignment.questions:
            spec = inspect.getclosurevars(question.judge).nonlocals.get("spec")
            for mistake in getattr(spec, "mistakes", ()):
                found.update(dict.fromkeys([mistake.name, mistake.hint]))
    return list(found)


def update(lang: str) -> Path:
    """Merge known_messages() into the catalog of `lang`: new ones empty, translations kept, obsolete dropped."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    old = catalog(lang)
    out = Catalog(locale=lang, project="autograder checks", domain=DOMAIN)
    for msgid in known_messages():
        out.add(msgid, old.get(msgid, ""))
    path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, out, width=0)
    return path


if __name__ == "__main__":  # python -m autograder.checks.messages: refresh the catalogs after an English edit
    for name in LANGUAGES:
        print(update(name))
