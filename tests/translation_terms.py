"""The Chinese edition's term list (book/locale/zh_CN/terms.yml) and the checks of the catalogs against it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from babel.messages.pofile import read_po

from tests.translation_lint import prose

FIELDS = {"concept", "en", "zh", "forbidden", "glossary", "abbreviation", "required_in", "note"}


@dataclass(frozen=True)
class Term:
    """One concept, its one Chinese term and the variants that must not appear."""

    concept: str
    en: str
    zh: str
    forbidden: tuple[re.Pattern[str], ...] = ()
    glossary: str = ""
    abbreviation: str = ""
    required_in: tuple[str, ...] = ()
    note: str = ""


@dataclass
class Glossary:
    """The glossary's entries as lists of headwords (English first, then aliases and Chinese terms)."""

    entries: list[list[str]] = field(default_factory=list)

    def headwords(self, english: str) -> list[str]:
        """All headwords of the entry whose first headword is `english` (empty if there is none)."""
        return next((e for e in self.entries if e[0] == english), [])


def load_terms(path: Path) -> list[Term]:
    """Read and validate the term list; a bad entry raises ValueError naming it."""
    terms = []
    for i, entry in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")), start=1):
        unknown = set(entry) - FIELDS
        if unknown or not {"concept", "en", "zh"} <= set(entry):
            raise ValueError(f"{path}: entry {i}: needs concept, en, zh; unknown fields {sorted(unknown)}")
        terms.append(Term(concept=entry["concept"], en=entry["en"], zh=entry["zh"],
                          forbidden=tuple(re.compile(f) for f in entry.get("forbidden", [])),
                          glossary=entry.get("glossary", ""), abbreviation=entry.get("abbreviation", ""),
                          required_in=tuple(entry.get("required_in", [])), note=entry.get("note", "")))
    return terms


def parse_glossary(markdown: str) -> Glossary:
    """The headword groups of the ```{glossary} block: unindented lines, each group followed by its definition."""
    block = markdown.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    glossary, group = Glossary(), []
    for line in block.splitlines():
        if line.strip() and not line[0].isspace():
            group.append(line.strip())
        elif group:
            glossary.entries.append(group)
            group = []
    return glossary


def catalog_prose(path: Path) -> list[tuple[str, str]]:
    """(msgid, prose of its msgstr) for every translated message of a catalog."""
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return [(str(m.id), prose(str(m.string))) for m in catalog if m.id and isinstance(m.string, str) and m.string]


def term_problems(terms: list[Term], messages: list[tuple[str, str]], page: str) -> list[str]:
    """Forbidden variants, abbreviations never introduced and required terms missing, in one catalog."""
    out = []
    text = "\n".join(p for _, p in messages)
    for term in terms:
        for msgid, words in messages:
            for pattern in term.forbidden:
                for match in pattern.finditer(words):
                    out.append(f"{page}: {match.group(0)!r} where the term list says {term.zh!r} "
                               f"({term.en}): {msgid[:60]!r}")
        if term.abbreviation and re.search(rf"\b{re.escape(term.abbreviation)}\b", text) \
                and f"{term.zh}（{term.abbreviation}）" not in text:
            intro = f"{term.zh}（{term.abbreviation}）"
            out.append(f"{page}: uses {term.abbreviation!r} but never introduces it as {intro}")
        if page in term.required_in and term.zh not in text:
            out.append(f"{page}: never names {term.zh!r} ({term.en}), which the term list requires here")
    return out


def glossary_problems(terms: list[Term], glossary: Glossary, translated: dict[str, str]) -> list[str]:
    """Each term's glossary entry has the chosen Chinese headword, no forbidden one, and the Chinese edition
    (`translated`: the glossary catalog, msgid -> msgstr) keeps that headword as it is."""
    out = []
    for term in (t for t in terms if t.glossary):
        heads = glossary.headwords(term.glossary)
        if not heads:
            out.append(f"no glossary entry {term.glossary!r} for {term.zh!r}")
            continue
        if term.zh not in heads:
            out.append(f"glossary entry {term.glossary!r} has headwords {heads}, not the term {term.zh!r}")
        bad = [h for h in heads for p in term.forbidden if p.search(h)]
        if bad:
            out.append(f"glossary entry {term.glossary!r} has forbidden headwords {bad}")
        if term.zh in heads and translated.get(term.zh, term.zh) != term.zh:
            out.append(f"the Chinese glossary renames headword {term.zh!r} to {translated[term.zh]!r}")
    return out
