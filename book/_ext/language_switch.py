"""Sphinx extension: every page links to its twin in the other edition (English <-> Chinese), in the header.

The English book is at the site root and the Chinese edition in the `zh_CN/` folder below it, page for page
(book/_ext/build_zh.py builds it). The link is relative, computed from the page name, so it works from
file:// and when served.

Exercise pages in the Chinese edition show the Chinese notebooks exercises/zh_CN/<id>/<id>.ipynb (written by
`make release` from the English release and solutions/locale catalogs: autograder/notebook_i18n.py) in place of
the English ones, with a note saying where that notebook is and how to open it; their .ipynb download is it too.
The Chinese exercises chapter (book/exercises) gets a note listing the Chinese notebooks.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"
TWIN_FOLDER = "zh_CN"
UNTRANSLATED = "exercises/"
ROOT = Path(__file__).resolve().parents[2]
EXERCISE = re.compile(r"exercises/(\w+)/\1")  # an exercise page's docname: exercises/<id>/<id>
EXERCISE_NOTE = ("本页就是中文版练习笔记本 {path} 的内容。在仓库根目录运行 .venv/bin/jupyter lab，"
                 "打开这个文件即可作答；在这个文件夹里，检查信息也以中文显示。"
                 "英文版为 exercises/{aid}/{aid}.ipynb，两者评分完全相同。")
EXERCISES_PAGE = "book/exercises"  # the chapter that introduces the exercises: its note lists the notebooks
EXERCISES_PAGE_NOTE = ("中文版练习笔记本位于 exercises/zh_CN/<练习>/<练习>.ipynb（{paths}）。在仓库根目录运行 "
                       ".venv/bin/jupyter lab 打开即可；它们的代码单元格与英文版完全相同，评分也完全相同，"
                       "检查信息和批量评分的反馈页面为中文。")


def is_chinese(language: str | None) -> bool:
    """True for the Chinese edition's builds (language zh_CN, zh-CN or zh)."""
    return bool(language) and str(language).replace("-", "_").lower().startswith("zh")


def twin_url(pagename: str, chinese: bool) -> str:
    """Relative URL from `pagename` (e.g. "book/clipping") to the same page in the other edition."""
    up = "../" * pagename.count("/")
    return f"../{up}{pagename}.html" if chinese else f"{up}{TWIN_FOLDER}/{pagename}.html"


def switch_context(pagename: str, chinese: bool) -> dict[str, str]:
    """What the header template shows: link, its text in the target language, and labels."""
    if chinese:
        return {"url": twin_url(pagename, True), "text": "English", "hreflang": "en",
                "title": "Read this page in English", "aria": "语言 / Language"}
    return {"url": twin_url(pagename, False), "text": "中文", "hreflang": "zh-CN",
            "title": "阅读本页的中文版", "aria": "Language / 语言"}


def add_switch(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Give the page template the twin's link, and declare the twin in <head> for search engines."""
    switch = switch_context(pagename, is_chinese(app.config.language))
    context["language_switch"] = switch
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{switch["hreflang"]}" href="{switch["url"]}" />')


def use_header(app: Sphinx, config: Config) -> None:
    """Our article-header-buttons.html (the theme's, switch first) takes precedence over the theme's: the switch
    is always in view at the top of the page, on narrow screens too (where the sidebar collapses)."""
    config.templates_path = [str(TEMPLATES), *config.templates_path]  # first: ahead of the themes' own


def chinese_notebook(docname: str) -> Path | None:
    """The Chinese release of an exercise page's notebook, when there is one."""
    m = EXERCISE.fullmatch(docname)
    path = ROOT / "exercises" / TWIN_FOLDER / m.group(1) / f"{m.group(1)}.ipynb" if m else None
    return path if path is not None and path.is_file() else None


def use_chinese_notebook(app: Sphinx, docname: str, source: list[str]) -> None:
    """Chinese edition: an exercise page is read from the Chinese notebook (same cells, translated markdown)."""
    path = chinese_notebook(docname) if is_chinese(app.config.language) else None
    if path is not None:
        source[0] = path.read_text(encoding="utf-8")


def reread_exercises(app: Sphinx, env: Any, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Chinese edition: always re-read the exercise pages (their source on disk is not what they show, so
    Sphinx's own check would miss a new Chinese release); four small pages, never executed."""
    if not is_chinese(app.config.language):
        return []
    return [name for name in env.found_docs if chinese_notebook(name) is not None or name == EXERCISES_PAGE]


def publish_chinese_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """Chinese edition: the exercise pages' .ipynb download (the copied source) is the Chinese notebook."""
    if exception is not None or not is_chinese(app.config.language):
        return
    for copied in (Path(app.outdir) / "_sources" / UNTRANSLATED).glob("*/*.ipynb*"):
        path = chinese_notebook(f"{UNTRANSLATED}{copied.parent.name}/{copied.name.split('.')[0]}")
        if path is not None:
            shutil.copyfile(path, copied)


def note_untranslated(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Chinese edition: exercise pages (and the exercises chapter) open with a note saying where the Chinese
    notebook is (are) and how to open it."""
    if not is_chinese(app.config.language):
        return
    path = chinese_notebook(docname)
    if docname == EXERCISES_PAGE:
        found = sorted((ROOT / "exercises" / TWIN_FOLDER).glob("*/*.ipynb"))
        text = EXERCISES_PAGE_NOTE.format(paths="、".join(p.relative_to(ROOT).as_posix() for p in found))
    elif path is not None:
        text = EXERCISE_NOTE.format(path=path.relative_to(ROOT).as_posix(), aid=path.stem)
    else:
        return
    note = nodes.note("", nodes.paragraph("", text), classes=["exercise-note"])
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section[0], nodes.title):
        section.insert(1, note)
    else:
        doctree.insert(0, note)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hooks."""
    app.connect("config-inited", use_header)
    app.connect("html-page-context", add_switch)
    app.connect("doctree-resolved", note_untranslated)
    app.connect("source-read", use_chinese_notebook)
    app.connect("env-get-outdated", reread_exercises)
    app.connect("build-finished", publish_chinese_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
