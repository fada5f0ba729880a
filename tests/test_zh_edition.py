"""The Chinese edition's build helpers (book/_ext: build_zh, language_switch, glue_i18n, seed_claims i18n). No build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.book_build import REPO

sys.path.insert(0, str(REPO / "book" / "_ext"))
import build_zh
import glue_i18n
import language_switch
import math_i18n
import seed_claims
import zh_search
import zh_ui
from docutils import nodes

from tests.book_build import toc_files

SEEDS = REPO.parent / "shared" / "seeds"  # the source posts live next to the repository, not in it
# the review's searches (issue 19) and the chapter each must find first or second
REVIEW_QUERIES = {"学习率预热": "book/step_size", "余弦退火": "book/step_size", "梯度截断": "book/clipping",
                  "权重初始化": "book/initialization", "优化算法": "book/optimizers"}


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
    # the Chinese edition's own: title from intro.po, author, footer, interface and search extensions
    assert namespace["html_title"] == "驯服梯度爆炸" and namespace["author"] == "课程作者"
    assert {"zh_ui", "zh_search"} <= set(extensions) and namespace["html_search_scorer"] == build_zh.SCORER
    theme = namespace["html_theme_options"]
    assert isinstance(theme, dict) and "copyright-zh.html" in theme["footer_content_items"]
    assert (REPO / "book" / "_ext" / "templates" / "copyright-zh.html").is_file()


def test_title_without_translation_is_refused(tmp_path: Path) -> None:
    """A catalog that lost the book's title fails the build with a message naming it, not an English title."""
    catalog = tmp_path / build_zh.LOCALE_DIR / build_zh.LANGUAGE / "LC_MESSAGES" / f"{build_zh.TITLE_CATALOG}.po"
    catalog.parent.mkdir(parents=True)
    catalog.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n', encoding="utf-8")
    with pytest.raises(build_zh.BuildError, match="does not translate the book's title"):
        build_zh.translated_title(tmp_path, "Taming exploding gradients")


@pytest.mark.parametrize(("english", "chinese"), [
    ("Show code cell source", "显示代码单元格的源代码"), ("Hide code cell outputs", "隐藏代码单元格的输出"),
    ("Show code cell content", "显示代码单元格的内容"), ("Show the source", "Show the source")])
def test_folded_cell_prompts_in_chinese(english: str, chinese: str) -> None:
    """myst-nb's prompts with each {type} it fills in become Chinese; other text is left alone."""
    assert zh_ui.prompt(english) == chinese


def _table(header: list[str]) -> nodes.document:
    """A document holding one table with the given header cells."""
    doc = nodes.document(None, None)  # docutils accepts a bare document (no settings, no reporter) here
    row = nodes.row("", *(nodes.entry("", nodes.paragraph(text=h)) for h in header))
    doc += nodes.table("", nodes.tgroup("", nodes.thead("", row)))
    return doc


def test_execution_table_header_in_chinese() -> None:
    """The header of myst-nb's execution statistics table is translated; other tables are not touched."""
    stats = _table(list(zh_ui.EXEC_TABLE_HEADER))
    assert zh_ui.translate_exec_table(stats) == 1
    assert [p.astext() for p in stats.findall(nodes.paragraph)] == list(zh_ui.EXEC_TABLE_HEADER.values())
    other = _table(["Document", "Size"])
    assert zh_ui.translate_exec_table(other) == 0 and other.astext() == "Document\n\nSize"


def test_search_keywords_cover_the_review_queries() -> None:
    """Each query of the review is a keyword of its chapter, a whole word for jieba, and the keyword file names
    only pages of the book; the generated scorer carries the keywords and Sphinx's own constants."""
    keywords = zh_search.load_keywords()
    terms = set(build_zh.SEARCH_TERMS.read_text(encoding="utf-8").split())
    for query, page in REVIEW_QUERIES.items():
        assert query in keywords[page] and query in terms, query
    assert set(keywords) <= set(toc_files())
    assert all(w in terms for words in keywords.values() for w in words)
    js = zh_search.scorer_js(keywords)
    assert '"book/clipping": ["梯度裁剪", "梯度截断"' in js
    for constant in ("objNameMatch: 11", "objPrio: {0: 15, 1: 5, 2: -5}", "title: 15", "term: 5", "partialTerm: 2"):
        assert constant in js


def test_every_seed_has_its_title_or_topic() -> None:
    """claims.yml names each source post by its real title, or (untitled posts) its topic, and an English gloss;
    the titles and topics are the posts' own words."""
    posts = seed_claims.load_claims().posts
    assert sorted(posts) == ["000", "001", "002", "003", "004"]
    assert all(p.english and bool(p.title) != bool(p.topic) for p in posts.values())
    assert posts["001"].title == "深度学习中的梯度爆炸问题及解决策略"
    if SEEDS.is_dir():
        for key, post in posts.items():
            assert (post.title or post.topic) in (SEEDS / f"{post.file}.txt").read_text(encoding="utf-8"), key


def test_quote_line_names_the_post() -> None:
    """A box's quote line shows the seed number (its file and English title as a tooltip) and its title; the
    Chinese template drops the English translation and chooses its own punctuation."""
    claims = seed_claims.load_claims()
    claim = next(c for c in claims.rows.values() if c.seed == "004")
    line = seed_claims.quote_line(claims, claim)
    title = "《19. 梯度爆炸的防止与修复：从超参数调整到模型结构优化》"
    assert line.astext().startswith(f"Seed 004 {title}, {claim.section}: 「")
    abbr = next(iter(line.findall(nodes.abbreviation)))
    assert abbr["explanation"].startswith("004_f3fac6dfbcb9d479: 19. Preventing")
    zh = {seed_claims.QUOTE: "原博文 {seed}{title}（{section}）：「{quote}」",
          seed_claims.UNTITLED: "〔无标题，谈{topic}〕"}
    untitled = next(c for c in claims.rows.values() if c.seed == "000")
    text = seed_claims.quote_line(claims, untitled, lambda s: zh.get(s, s)).astext()
    assert text == f"原博文 000〔无标题，谈{claims.posts['000'].topic}〕（{untitled.section}）：「{untitled.quote}」"


def test_seed_entry_needs_a_title_or_topic() -> None:
    """A seed given as a mapping must name its file and a title or topic."""
    text = "seeds: {'000': {file: f}}\nclaims: []\n"
    with pytest.raises(seed_claims.ClaimsError, match="seed 000: needs file and a title"):
        seed_claims.parse_claims(text, "claims.yml")


def test_label_templates_keep_or_drop_parts() -> None:
    """fill() puts each named part in place and drops text for parts a translation leaves out."""
    out = seed_claims.fill("{verdict}（{claim}）", verdict=nodes.strong("", "错误"), claim="论断 3")
    assert "".join(n.astext() for n in out) == "错误（论断 3）" and isinstance(out[0], nodes.strong)
    assert "".join(n.astext() for n in seed_claims.fill("a {gone} b", other="x")) == "a {gone} b"


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
    zh = {"claim": "论断", "wrong": "错误", "Claim {n}": "论断 {n}",
          "{claim} — verdict: {verdict}": "{claim}——判定：{verdict}"}
    table = seed_claims.table_markdown(claims, "000", lambda s: zh.get(s, s))
    assert "| 论断 |" in table.splitlines()[0]
    claim = next(c for c in claims.rows.values() if c.verdict == "wrong")
    assert seed_claims.verdict_paragraph(claim, lambda s: zh.get(s, s)).astext() == f"论断 {claim.n}——判定：错误"
    with pytest.raises(seed_claims.ClaimsError, match="contains '\\|'"):
        seed_claims.table_markdown(claims, "000", lambda s: "a | b" if s == "evidence" else s)
    messages = seed_claims.claims_messages(claims)
    assert len(messages) == len(set(messages)) and claims.rows[1].evidence in messages


def test_words_in_display_math_are_messages() -> None:
    """\\text{} words of an equation are found (not sub/superscript labels) and replaced by their translation;
    the rest of the equation is kept character for character."""
    latex = r"\prod_k D_k \quad (\text{layer } L \text{ on the left}),\ n_\text{in},\ x^\text{out}\ \text{1}"
    assert math_i18n.math_words(latex) == ["layer ", " on the left"]
    zh = {"layer ": "第 ", " on the left": " 层在最左"}
    assert math_i18n.translate_latex(latex, lambda s: zh.get(s, s)) == latex.replace(
        r"\text{layer } L \text{ on the left}", r"\text{第 } L \text{ 层在最左}")
