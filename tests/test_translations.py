"""The Chinese edition's message catalogs (book/locale/zh_CN): complete, clean and one per English page. No build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.book_build import REPO, toc_files
from tests.translation_lint import check_catalog
from tests.translation_terms import catalog_prose, glossary_problems, load_terms, parse_glossary, term_problems

sys.path.insert(0, str(REPO / "book" / "_ext"))
from seed_claims import claims_messages, load_claims  # book/_ext is not a package

CATALOGS = REPO / "book" / "locale" / "zh_CN" / "LC_MESSAGES"
UNTRANSLATED = "exercises/"  # exercise pages come from exercises/zh_CN, translated by solutions/locale catalogs
TRANSLATED_PAGES = [p for p in toc_files() if not p.startswith(UNTRANSLATED)]
TERMS = REPO / "book" / "locale" / "zh_CN" / "terms.yml"
ALL_CATALOGS = sorted(str(p.relative_to(CATALOGS).with_suffix("")) for p in CATALOGS.rglob("*.po"))


def _catalog(page: str) -> Path:
    """The catalog of one page (gettext_compact=0: one catalog per document)."""
    return CATALOGS / f"{page}.po"


def _messages(page: str) -> set[str]:
    """The msgids of a page's catalog."""
    with _catalog(page).open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id and isinstance(m.id, str)}


@pytest.mark.parametrize("page", TRANSLATED_PAGES)
def test_every_english_page_has_a_catalog(page: str) -> None:
    """Each page of _toc.yml (exercises aside) has its zh_CN catalog, so its twin is translated."""
    assert _catalog(page).is_file(), f"no catalog {_catalog(page).relative_to(REPO)}: run `make translations`"


def test_no_catalog_without_a_page() -> None:
    """No stale catalog (a removed page) and none for the exercises, which stay English."""
    stale = [c for c in ALL_CATALOGS if c not in TRANSLATED_PAGES]
    assert not stale, f"catalogs of no translated page: {stale}"


@pytest.mark.parametrize("page", TRANSLATED_PAGES)
def test_catalog_is_translated_and_markup_intact(page: str) -> None:
    """tests.translation_lint: every message translated, nothing fuzzy, roles, code, math and links intact."""
    if not _catalog(page).is_file():
        pytest.fail(f"no catalog for {page}")
    problems = check_catalog(_catalog(page))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])


@pytest.mark.parametrize("page", TRANSLATED_PAGES)
def test_catalog_has_no_obsolete_messages(page: str) -> None:
    """No `#~` leftovers: `make translations` drops them, so a translator never edits a dead message."""
    if not _catalog(page).is_file():
        pytest.fail(f"no catalog for {page}")
    with _catalog(page).open("rb") as fh:
        obsolete = list(read_po(fh).obsolete)
    text = _catalog(page).read_text(encoding="utf-8")
    assert not obsolete and "\n#~ " not in text, f"{page}: obsolete messages {obsolete[:5]}"


def test_claims_catalog_holds_the_generated_claims_text() -> None:
    """The claims table's generated text (headers, verdicts, each row's claim, correction and evidence) is in
    book/claims.po, where `make translations` extracts it: else the Chinese table would stay English."""
    missing = [m for m in claims_messages(load_claims()) if m not in _messages("book/claims")]
    assert not missing, f"{len(missing)} generated messages not in claims.po (run `make translations`): {missing[:8]}"


def test_catalogs_are_valid_po_with_unique_messages() -> None:
    """Every catalog parses and declares UTF-8; a message appears once per catalog."""
    for page in ALL_CATALOGS:
        text = _catalog(page).read_text(encoding="utf-8")
        assert "charset=utf-8" in text.lower(), f"{page}: not declared UTF-8"
        ids = [line for line in text.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
        assert len(ids) == len(set(ids)), f"{page}: duplicate msgids"


@pytest.mark.parametrize("page", TRANSLATED_PAGES)
def test_catalog_uses_the_term_list(page: str) -> None:
    """book/locale/zh_CN/terms.yml: one Chinese term per concept; no forbidden variant in any message's prose,
    abbreviations introduced, required terms named."""
    if not _catalog(page).is_file():
        pytest.fail(f"no catalog for {page}")
    problems = term_problems(load_terms(TERMS), catalog_prose(_catalog(page)), page)
    assert not problems, f"{len(problems)} term problems:\n" + "\n".join(problems[:30])


def test_glossary_headwords_are_the_terms() -> None:
    """The glossary (English source and Chinese catalog) lists each concept under the term the text uses."""
    glossary = parse_glossary((REPO / "book" / "glossary.md").read_text(encoding="utf-8"))
    with _catalog("book/glossary").open("rb") as fh:
        translated = {str(m.id): str(m.string) for m in read_po(fh) if m.id}
    problems = glossary_problems(load_terms(TERMS), glossary, translated)
    assert not problems, "\n".join(problems)
    assert len(glossary.entries) > 50 and glossary.headwords("bias correction")[0] == "bias correction"
