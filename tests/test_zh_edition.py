"""The Chinese edition's build helpers (book/_ext: build_zh, language_switch, glue_i18n, seed_claims i18n). No build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.book_build import REPO

sys.path.insert(0, str(REPO / "book" / "_ext"))
import build_zh  # book/_ext is not a package
import glue_i18n
import language_switch
import seed_claims


@pytest.mark.parametrize(("page", "chinese", "url"), [
    ("book/clipping", False, "../zh_CN/book/clipping.html"),
    ("book/clipping", True, "../../book/clipping.html"),
    ("search", False, "zh_CN/search.html"),
    ("search", True, "../search.html"),
    ("exercises/clipping/clipping", False, "../../zh_CN/exercises/clipping/clipping.html"),
    ("exercises/clipping/clipping", True, "../../../exercises/clipping/clipping.html"),
])
def test_twin_url_is_relative_and_lands_on_the_same_page(page: str, chinese: bool, url: str) -> None:
    """The switch's link from `page` reaches the same page in the other edition, relative to the page."""
    assert language_switch.twin_url(page, chinese) == url
    here = Path("/site/zh_CN" if chinese else "/site") / page
    twin = (here.parent / url).resolve()
    assert twin == (Path("/site" if chinese else "/site/zh_CN") / f"{page}.html").resolve()


@pytest.mark.parametrize(("language", "chinese"), [
    (None, False), ("en", False), ("zh_CN", True), ("zh-CN", True), ("zh", True), ("ja", False)])
def test_is_chinese(language: str | None, chinese: bool) -> None:
    """Only Chinese builds link back to English."""
    assert language_switch.is_chinese(language) is chinese


def test_switch_text_is_in_the_target_language() -> None:
    """English pages offer 中文, Chinese pages offer English, each with its hreflang."""
    assert language_switch.switch_context("book/x", False)["text"] == "中文"
    assert language_switch.switch_context("book/x", False)["hreflang"] == "zh-CN"
    assert language_switch.switch_context("book/x", True)["text"] == "English"
    assert language_switch.switch_context("book/x", True)["hreflang"] == "en"


@pytest.mark.parametrize(("text", "expected"), [
    ("bg_decades", "/book/background.md::bg_decades:s"),
    ("bg_ratio:.2f", "/book/background.md::bg_ratio:.2f"),
    ("other.md::key:.1e", "other.md::key:.1e"),
])
def test_glue_in_a_translation_refers_to_the_page(text: str, expected: str) -> None:
    """{glue:text} keys in a msgstr become references to the page being translated (format kept or 's')."""
    assert glue_i18n.page_reference(text, "book/background.md") == expected


def test_generated_conf_is_jupyter_books_plus_the_extension_path() -> None:
    """conf.py is generated from _config.yml: Jupyter Book's values, book/_ext importable, absolute .bib paths."""
    conf = build_zh.sphinx_conf(REPO)
    namespace: dict[str, object] = {}
    exec(compile(conf, "conf.py", "exec"), namespace)  # our own generated file
    assert str(REPO / "book" / "_ext") in sys.path
    assert namespace["html_theme"] == "sphinx_book_theme"
    assert namespace["external_toc_path"] == "_toc.yml"
    assert namespace["nb_execution_mode"] == "cache"
    extensions = namespace["extensions"]
    assert isinstance(extensions, list) and {"language_switch", "glue_i18n", "toc_i18n", "seed_claims"} <= set(
        extensions)
    assert namespace["bibtex_bibfiles"] == [str(REPO / "book" / "references.bib")]
    assert namespace["html_search_options"] == {"dict": str(build_zh.SEARCH_TERMS)}
    assert "梯度裁剪" in build_zh.SEARCH_TERMS.read_text(encoding="utf-8").split()


def test_a_build_that_executed_is_refused() -> None:
    """The Chinese build must come from the cache: a myst-nb 'Executing notebook' line fails it."""
    build_zh.check_no_execution("book/clipping.md: Using cached notebook: ID=3 [mystnb]\n")
    with pytest.raises(build_zh.BuildError, match="executed chapters"):
        build_zh.check_no_execution("book/clipping.md: Executing notebook using local CWD [mystnb]\n")


def test_build_without_english_cache_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No execution cache: exit 2 with one line naming the folder and the fix, before any build starts."""
    assert build_zh.main(["html", "--build-dir", str(tmp_path)]) == 2
    assert "build the English book first" in capsys.readouterr().err


def test_english_claims_output_is_unchanged() -> None:
    """Without a translation the generated text is exactly the English of before."""
    claims = seed_claims.load_claims()
    claim = claims.rows[27]
    assert seed_claims.verdict_paragraph(claim).astext() == f"Claim 27 — verdict: {claim.verdict}"
    table = seed_claims.table_markdown(claims, "000")
    assert table.splitlines()[0] == "| # | source | claim | verdict | correction | evidence |"
    assert seed_claims.summary_markdown(claims).splitlines()[2] == "| seed | claims | correct | partly | wrong |"


def test_claims_translation_is_applied_and_checked() -> None:
    """A translating look-up reaches headers, verdicts and rows; a '|' in a translation is refused."""
    claims = seed_claims.load_claims()
    zh = {"claim": "论断", "wrong": "错误", "Claim {n}": "论断 {n}", "— verdict:": "— 结论："}
    table = seed_claims.table_markdown(claims, "000", lambda s: zh.get(s, s))
    assert "| 论断 |" in table.splitlines()[0]
    claim = next(c for c in claims.rows.values() if c.verdict == "wrong")
    assert seed_claims.verdict_paragraph(claim, lambda s: zh.get(s, s)).astext() == f"论断 {claim.n} — 结论： 错误"
    with pytest.raises(seed_claims.ClaimsError, match="contains '\\|'"):
        seed_claims.table_markdown(claims, "000", lambda s: "a | b" if s == "evidence" else s)
    messages = seed_claims.claims_messages(claims)
    assert len(messages) == len(set(messages)) and claims.rows[1].evidence in messages
