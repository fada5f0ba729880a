"""Sphinx extension for the Chinese edition only (book/_ext/build_zh.py adds it): the interface text that the
tools generate in English and no catalog holds, in Chinese.

- myst-nb's folded cells say "Show code cell source" / "Hide code cell source" (its prompt setting fills in
  an English word for {type}, so no setting alone can say it in Chinese);
- myst-nb's execution statistics table ({nb-exec-table}) has an English header.
The site title, author and copyright line are conf.py values, set by build_zh.sphinx_conf.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

# myst-nb's default prompts ("Show code cell {type}") with each {type} it fills in
PROMPT_VERBS = {"Show": "显示", "Hide": "隐藏"}
PROMPT_TYPES = {"source": "源代码", "outputs": "输出", "output": "输出", "content": "内容"}
EXEC_TABLE_HEADER = {"Document": "文档", "Modified": "修改时间", "Method": "执行方式", "Run Time (s)": "运行时间（秒）",
                     "Status": "状态"}


def prompt(english: str) -> str:
    """"Show code cell source" -> "显示代码单元格的源代码"; any other text is returned unchanged."""
    words = english.split(" ", 3)
    if len(words) == 4 and words[0] in PROMPT_VERBS and words[1:3] == ["code", "cell"] and words[3] in PROMPT_TYPES:
        return f"{PROMPT_VERBS[words[0]]}代码单元格的{PROMPT_TYPES[words[3]]}"
    return english


def translate_prompts(doctree: nodes.document) -> int:
    """Rewrite the prompts of myst-nb's folded cells (after its HideInputCells post-transform); return how many."""
    count = 0
    for node in doctree.findall(nodes.Element):
        if type(node).__name__ == "HideCodeCellNode":  # myst_nb.sphinx_.HideCodeCellNode
            for key in ("prompt_show", "prompt_hide"):
                node[key] = prompt(node[key])
            count += 1
    return count


def translate_exec_table(doctree: nodes.document) -> int:
    """Translate the header of myst-nb's execution statistics table; return how many headers were changed."""
    count = 0
    for thead in doctree.findall(nodes.thead):
        cells = [p for p in thead.findall(nodes.paragraph)]
        if [p.astext() for p in cells] != list(EXEC_TABLE_HEADER):
            continue
        for para in cells:
            para.replace(para[0], nodes.Text(EXEC_TABLE_HEADER[para.astext()]))
        count += 1
    return count


def on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Both run after the post-transforms that create the nodes (doctree-resolved comes after them)."""
    translate_prompts(doctree)
    translate_exec_table(doctree)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hook."""
    app.connect("doctree-resolved", on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
