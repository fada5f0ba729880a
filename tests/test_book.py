"""The book builds from clean with -W, executes every chapter, and loads nothing from outside the site."""

from __future__ import annotations

import json
import re

import pytest

from tests.book_build import EXTERNAL_LINK_ASSET, EXTERNAL_SCRIPT, BuiltBook, toc_files

pytestmark = pytest.mark.slow


def test_build_succeeds_without_warnings(built_book: BuiltBook) -> None:
    """-W --keep-going turns any Sphinx warning or cell error into a failed build."""
    tail = "\n".join(built_book.log.splitlines()[-40:])
    assert built_book.returncode == 0, f"jupyter-book build failed:\n{tail}"


def test_no_execution_errors(built_book: BuiltBook) -> None:
    """myst-nb writes reports/<page>.log for every notebook whose execution failed."""
    bad = {p.name: p.read_text(encoding="utf-8", errors="replace")[-800:] for p in built_book.reports}
    assert not bad, f"cells failed in: {sorted(bad)}\n" + "\n".join(bad.values())


@pytest.mark.parametrize("page", toc_files())
def test_every_toc_entry_has_a_page(built_book: BuiltBook, page: str) -> None:
    """Each _toc.yml entry became an HTML page."""
    assert (built_book.html / f"{page}.html").is_file(), f"{page} listed in _toc.yml but no {page}.html was built"


def test_no_script_or_style_from_outside_the_site(built_book: BuiltBook) -> None:
    """Offline readers: no <script src> or stylesheet/font from another host, the math fonts served locally."""
    offenders = []
    for page in built_book.html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for pattern in (EXTERNAL_SCRIPT, EXTERNAL_LINK_ASSET):
            offenders += [f"{page.relative_to(built_book.html)}: {m.group(0)[:120]}" for m in pattern.finditer(text)]
    assert not offenders, "external assets:\n" + "\n".join(offenders[:20])
    assert (built_book.html / "_static" / "math" / "fonts" / "MathJax_Main-Regular.woff").is_file(), "no math fonts"


def test_math_is_typeset_at_build_time(built_book: BuiltBook) -> None:
    """Pages hold their formulas as CommonHTML with the hidden MathML and their glyphs' stylesheet (fonts from the
    English site's _static), and load no MathJax (book/_ext/static_math.py)."""
    page = (built_book.html / "book" / "background.html").read_text(encoding="utf-8")
    assert '<span class="math notranslate nohighlight"><mjx-container class="MathJax" jax="CHTML"' in page
    assert "<mjx-assistive-mml" in page and '<style id="math-chtml">' in page
    assert 'url("../_static/math/fonts/MathJax_Main-Regular.woff")' in page
    assert "mathjax" not in "".join(re.findall(r"<script[^>]*>", page)).lower()
    zh = (built_book.zh_html / "book" / "background.html").read_text(encoding="utf-8")
    assert 'url("../../_static/math/fonts/MathJax_Main-Regular.woff")' in zh  # zh_CN/book/ up to the English copy


ROW = re.compile(r'<tr class="verdict-(\w+)[^"]*" id="claim-row-(\d+)"')
BOX_VERDICT = re.compile(r'<(?:p|span) class="seed-verdict verdict-(\w+)">.*?claims\.html#claim-row-(\d+)"', re.DOTALL)


@pytest.mark.parametrize("edition", ["", "zh_CN"])
def test_rendered_verdicts_match_the_claims_table(built_book: BuiltBook, edition: str) -> None:
    """In both editions' HTML, every box and inline verdict shows the verdict of the claims-page row it links to."""
    html = built_book.html / edition
    rows = {int(n): v for v, n in ROW.findall((html / "book" / "claims.html").read_text(encoding="utf-8"))}
    assert len(rows) >= 53, f"the claims page has {len(rows)} rows with ids"
    seen = 0
    for page in sorted((html / "book").glob("*.html")):
        for verdict, n in BOX_VERDICT.findall(page.read_text(encoding="utf-8")):
            table = rows.get(int(n))
            assert table == verdict, f"{page.name}: claim {n} shown as {verdict}, the table says {table}"
            seen += 1
    assert seen >= 30, f"only {seen} rendered verdicts found"


# --- The Chinese edition (zh_CN), built by book/_ext/build_zh.py from the same sources and execution cache ---

CJK = re.compile(r"[\u4e00-\u9fff]")
HTML_LANG = re.compile(r"<html[^>]*\blang=\"([^\"]+)\"")
SWITCH = re.compile(r'<a class="[^"]*\blanguage-switch-link\b[^"]*" href="([^"]+)" hreflang="([^"]+)"')
H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.DOTALL)
CHAPTERS = [p for p in toc_files() if not p.startswith("exercises/")]
EXERCISES = [p for p in toc_files() if p.startswith("exercises/")]
SITE_PAGES = ["search", "genindex"]  # Sphinx's own pages have twins too


def _zh(built_book: BuiltBook, page: str) -> str:
    """The Chinese twin's HTML."""
    return (built_book.zh_html / f"{page}.html").read_text(encoding="utf-8")


def _en(built_book: BuiltBook, page: str) -> str:
    """The English page's HTML."""
    return (built_book.html / f"{page}.html").read_text(encoding="utf-8")


def test_chinese_build_succeeds(built_book: BuiltBook) -> None:
    """build_zh.py (sphinx-build -W --keep-going -D language=zh_CN) ended cleanly and published zh_CN/."""
    tail = "\n".join(built_book.zh_log.splitlines()[-40:])
    assert built_book.zh_returncode == 0, f"the Chinese build failed:\n{tail}"
    assert (built_book.zh_html / "index.html").is_file(), f"no Chinese edition at {built_book.zh_html}"
    assert not (built_book.html / "jupyter_execute").exists(), "myst-nb's executed notebooks leaked into the site"


@pytest.mark.parametrize("page", toc_files() + SITE_PAGES)
def test_every_page_has_a_chinese_twin(built_book: BuiltBook, page: str) -> None:
    """Page for page: each English page exists below zh_CN/ under the same path."""
    assert (built_book.zh_html / f"{page}.html").is_file(), f"no zh_CN/{page}.html"


@pytest.mark.parametrize("page", toc_files() + SITE_PAGES)
def test_pages_declare_their_language(built_book: BuiltBook, page: str) -> None:
    """English pages say lang="en", their Chinese twins lang="zh-CN" (a BCP 47 tag, not zh_CN)."""
    assert HTML_LANG.findall(_en(built_book, page))[:1] == ["en"], f"{page}: English page without lang=en"
    assert HTML_LANG.findall(_zh(built_book, page))[:1] == ["zh-CN"], f"zh_CN/{page}: not lang=zh-CN"


@pytest.mark.parametrize(("label", "english", "chinese"), [
    ("search box", 'placeholder="Search this book...', 'placeholder="在本书中搜索'),
    ("search button", 'aria-label="Search"', 'aria-label="搜索"'),
    ("contents", "> Contents", "目录"),
    ("previous", '<p class="prev-next-subtitle">previous</p>', '<p class="prev-next-subtitle">上一页</p>'),
    ("next", '<p class="prev-next-subtitle">next</p>', '<p class="prev-next-subtitle">下一页</p>'),
    ("download", 'aria-label="Download this page"', 'aria-label="下载此页面"'),
    ("download source", 'title="Download source file"', 'title="下载源文件"'),
])
def test_theme_labels_are_chinese(built_book: BuiltBook, label: str, english: str, chinese: str) -> None:
    """The theme's own labels read in Chinese on Chinese pages (and in English on English pages)."""
    for page in ("book/clipping", "book/theory"):
        assert english in _en(built_book, page), f"{page}: English {label} label {english!r} not found"
        zh = _zh(built_book, page)
        assert chinese in zh and english not in zh, f"zh_CN/{page}: {label} is not in Chinese"


@pytest.mark.parametrize("page", toc_files() + SITE_PAGES)
def test_language_switch_links_to_the_twin_and_back(built_book: BuiltBook, page: str) -> None:
    """Each page's switch is a relative link to the same page in the other edition, both ways."""
    for html, twin_root, own, hreflang in ((built_book.html, built_book.zh_html, _en, "zh-CN"),
                                          (built_book.zh_html, built_book.html, _zh, "en")):
        links = SWITCH.findall(own(built_book, page))
        assert len(links) == 1, f"{html.name}/{page}: {len(links)} language switches"
        href, lang = links[0]
        assert lang == hreflang and not href.startswith(("/", "http")), f"{page}: switch {href!r} ({lang})"
        target = ((html / page).parent / href).resolve()
        assert target == (twin_root / f"{page}.html").resolve(), f"{html.name}/{page}: switch leads to {target}"


@pytest.mark.parametrize("page", ["book/intro", "book/clipping", "exercises/clipping/clipping"])
def test_sidebar_part_captions_are_translated(built_book: BuiltBook, page: str) -> None:
    """The _toc.yml part captions in the Chinese sidebar are Chinese (from book/intro.po), as many as in English."""
    caption = re.compile(r'caption-text">([^<]+)<')
    english, chinese = caption.findall(_en(built_book, page)), caption.findall(_zh(built_book, page))
    assert len(english) >= 5 and len(chinese) == len(english), (english, chinese)
    assert all(CJK.search(c) for c in chinese), f"zh_CN/{page}: part captions {chinese}"


def test_language_switch_is_in_the_article_header(built_book: BuiltBook) -> None:
    """The switch sits in the article header (always in view), not only in a collapsible sidebar."""
    for html in (_en(built_book, "book/clipping"), _zh(built_book, "book/clipping")):
        header = re.search(r'class="bd-header-article.*?<article', html, re.DOTALL)
        assert header and "language-switch-link" in header.group(0), "no switch in the article header"


def _execution_rows(html: str) -> list[str]:
    """The rows of the Execution statistics table (page, when executed, method, seconds, status) as text."""
    table = re.search(r"<table.*?</table>", html, re.DOTALL)
    assert table, "no execution statistics table"
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr.*?</tr>", table.group(0),
                                                                                   re.DOTALL)[1:]]


def test_chinese_build_reused_the_execution_cache(built_book: BuiltBook) -> None:
    """The Chinese build ran no chapter: its execution statistics are the English build's cache records (same
    time of execution and run time, to the hundredth of a second), and its log shows no execution."""
    en, zh = (_execution_rows(read(built_book, "book/execution")) for read in (_en, _zh))
    assert len(en) >= 10 and zh == en, "the Chinese edition's chapters were executed again:\n" + "\n".join(
        f"{a} | {b}" for a, b in zip(en, zh, strict=False) if a != b)
    log = built_book.zh_sphinx_log
    assert log, "build_zh.py left no zh_CN/sphinx.log"
    assert "Executing notebook" not in log, "the Chinese build executed chapters again"
    if built_book.zh_log:  # built here from clean: every chapter was read, from the cache
        assert len(re.findall(r"Using cached notebook", log)) == len(en), "not every chapter came from the cache"


def _prose(html: str) -> list[str]:
    """The text of the page's prose paragraphs: outside tables (generated data) and bibliography entries."""
    main = re.search(r"<main.*?</main>", html, re.DOTALL)
    body = re.sub(r"<table.*?</table>|<div class=\"citation\".*?</div>", "", main.group(0) if main else html,
                  flags=re.DOTALL)
    texts = (" ".join(re.sub(r"<[^>]+>", " ", p).split()) for p in re.findall(r"<p>(.*?)</p>", body, re.DOTALL))
    return [t for t in texts if len(t) >= 30]


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapters_are_translated(built_book: BuiltBook, page: str) -> None:
    """The title and the prose of every chapter are Chinese."""
    zh = _zh(built_book, page)
    title = H1.search(zh)
    assert title and CJK.search(title.group(1)), f"zh_CN/{page}: title not translated"
    prose = _prose(zh)
    english = [p for p in prose if not CJK.search(p)]
    assert prose and len(english) <= 0.1 * len(prose), f"zh_CN/{page}: {len(english)}/{len(prose)} paragraphs " \
        f"in English, e.g. {english[:2]}"


@pytest.mark.parametrize("page", EXERCISES)
def test_exercise_pages_show_the_chinese_notebooks(built_book: BuiltBook, page: str) -> None:
    """Exercise pages of the Chinese edition render exercises/zh_CN/<id>/<id>.ipynb, Chinese title first, with a
    note saying where that notebook is; the English pages have neither."""
    zh, aid = _zh(built_book, page), page.rsplit("/", 1)[-1]
    title = H1.search(zh)
    assert title and CJK.search(title.group(1)), f"zh_CN/{page}: title not translated"
    assert "exercise-note" in zh and f"exercises/zh_CN/{aid}/{aid}.ipynb" in zh
    assert "Rules of the game" not in zh and "How your functions are graded" not in zh
    assert "exercise-note" not in _en(built_book, page)
    assert f"exercises/zh_CN/{aid}/{aid}.ipynb" in _zh(built_book, "book/exercises")  # the chapter lists them


@pytest.mark.parametrize(("what", "pattern"), [
    ("images", r"<img [^>]*src="), ("cell outputs", r'class="cell_output'),
    ("display math", r'class="math notranslate'), ("figures", r"<figure"),
    ("code cells", r'class="cell docutils container"'),
])
def test_chinese_pages_show_the_same_math_figures_and_outputs(built_book: BuiltBook, what: str, pattern: str) -> None:
    """Translation changes prose only: each twin has as many images, outputs, formulas and figures."""
    differ = []
    for page in CHAPTERS:
        en, zh = (len(re.findall(pattern, html)) for html in (_en(built_book, page), _zh(built_book, page)))
        if en != zh:
            differ.append(f"{page}: {en} in English, {zh} in Chinese")
    assert not differ, f"{what} differ:\n" + "\n".join(differ)


def test_chinese_search_index_finds_clipping(built_book: BuiltBook) -> None:
    """jieba segmented the Chinese text: 梯度裁剪 is one indexed term, and it leads to the clipping chapter."""
    text = (built_book.zh_html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    clipping = index["docnames"].index("book/clipping")
    hits = set()
    for table in ("terms", "titleterms"):
        found = index[table].get("梯度裁剪", [])
        hits |= set(found if isinstance(found, list) else [found])
    assert clipping in hits, f"梯度裁剪 indexed for {sorted(index['docnames'][i] for i in hits)}"
    assert sum(bool(CJK.search(t)) for t in index["terms"]) > 500, "few Chinese words in the search index"


def test_chinese_claims_table_is_translated(built_book: BuiltBook) -> None:
    """The generated claims table (headers, verdicts, rows) reads Chinese; seed quotes stay verbatim."""
    zh = _zh(built_book, "book/claims")
    rows = re.findall(r'<tr class="verdict-(\w+)[^"]*" id="claim-row-(\d+)">(.*?)</tr>', zh, re.DOTALL)
    assert len(rows) >= 53, f"{len(rows)} rows"
    words = {"correct": "正确", "partly": "部分正确", "wrong": "错误"}
    untranslated = [n for verdict, n, row in rows if f"<strong>{words[verdict]}</strong>" not in row]
    assert not untranslated, f"claims {untranslated[:10]} show an untranslated verdict"


def test_chinese_interface_has_no_english_leftovers(built_book: BuiltBook) -> None:
    """Site title (sidebar and <title>), footer, folded-cell prompts, the execution table's header, the seed-claim
    boxes and the inline verdicts of the Chinese edition read Chinese (book/_ext/zh_ui.py, build_zh.py)."""
    en_clipping, zh_clipping = _en(built_book, "book/clipping"), _zh(built_book, "book/clipping")
    assert re.search(r"<title>[^<]*驯服梯度爆炸</title>", zh_clipping) and 'logo__title">驯服梯度爆炸<' in zh_clipping
    for leftover in ("Taming exploding gradients", "The course authors", "© Copyright", "code cell"):
        assert leftover not in zh_clipping, f"zh_CN/book/clipping: English {leftover!r} left"
    if "Show code cell source" in en_clipping:
        assert "显示代码单元格的源代码" in zh_clipping
    head = re.search(r"<thead>.*?</thead>", _zh(built_book, "book/execution"), re.DOTALL)
    assert head and "运行时间（秒）" in head.group(0) and "Run Time" not in head.group(0)
    optimizers = _zh(built_book, "book/optimizers")
    assert "原博文的说法与核查：" in optimizers and "What the source" not in optimizers
    assert re.search(r'<abbr title="004_f3fac6dfbcb9d479: [^"]+">004</abbr>《19\. 梯度爆炸的防止与修复', _zh(
        built_book, "book/background"))
    verdicts = re.findall(r'<span class="seed-verdict[^"]*"><strong>[^<]+</strong>(.)', _zh(built_book, "book/faq"))
    assert verdicts and set(verdicts) == {"（"}, f"inline verdicts open with {set(verdicts)}"
