"""The Chinese releases exercises/zh_CN/<id>/<id>.ipynb: every message translated, and the same notebook as the
English release except for its markdown and the docstrings of the answer cells' stubs (same code, cell ids and
nbgrader metadata; a translated cell's checksum is that of its translated text, so that `nbgrader validate` finds the
untouched release unchanged)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import cast

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from autograder.notebook_i18n import (
    ANSWER,
    PROSE_IN_MATH,
    MissingTranslation,
    docstrings,
    is_message,
    load,
    notebook_language,
    release_path,
    release_translations,
    source_messages,
    translate,
)
from autograder.release import assignment_ids, normalized

ROOT = Path(__file__).resolve().parent.parent
IDS = assignment_ids()
LANG = "zh_CN"


def _read(aid: str, lang: str | None) -> nbformat.NotebookNode:
    return nbformat.read(release_path(aid, lang), as_version=4)


@pytest.mark.parametrize("aid", IDS)
def test_every_message_has_a_translation(aid: str) -> None:
    table = load(aid, LANG)
    missing = [m for m in source_messages(aid) if m not in table]
    assert not missing, f"solutions/locale/{LANG}/LC_MESSAGES/{aid}.po lacks {len(missing)}: {missing[0][:120]!r}"
    # a heading that is only a name (## Adam) may stay as it is; everything else must read Chinese
    han = [m for m in source_messages(aid) if not re.search(r"[\u4e00-\u9fff]", table[m])
           and not (m.startswith("#") and table[m] == m and len(m.split()) == 2)]
    assert not han, f"{aid}: translations without Chinese text: {han[:2]}"
    # bold, not italics, on Chinese (italic CJK renders as fake slanted glyphs)
    prose = [re.sub(r"`[^`]*`|\$[^$]*\$", "", t) for t in table.values()]  # code and math may hold a *
    italic = [t for t in prose if re.search(r"(?<!\*)\*[^*\s]([^*\n]*[^*\s])?\*(?!\*)", t)]
    assert not italic, f"{aid}: *italics* in {italic[:1]}"


@pytest.mark.parametrize("aid", IDS)
def test_chinese_release_is_the_english_one_translated(aid: str) -> None:
    """In sync without nbgrader: translating the checked-in English release gives the checked-in Chinese one."""
    english, chinese = _read(aid, None), _read(aid, LANG)
    fresh, missing = translate(english, load(aid, LANG), LANG)
    assert missing == []
    assert json.loads(nbformat.writes(nbformat.from_dict(fresh))) == json.loads(nbformat.writes(chinese))
    assert notebook_language(chinese) == LANG and notebook_language(english) is None


@pytest.mark.parametrize("aid", IDS)
def test_chinese_release_keeps_code_ids_and_grading_metadata(aid: str) -> None:
    english, chinese = normalized(release_path(aid, None)), normalized(release_path(aid, LANG))
    assert len(english["cells"]) == len(chinese["cells"])
    for en, zh in zip(english["cells"], chinese["cells"], strict=True):
        assert (en["cell_type"], en.get("id")) == (zh["cell_type"], zh.get("id"))
        en_grading, zh_grading = en["metadata"].get("nbgrader", {}), zh["metadata"].get("nbgrader", {})
        assert {**en["metadata"], "nbgrader": {k: v for k, v in en_grading.items() if k != "checksum"}} == \
               {**zh["metadata"], "nbgrader": {k: v for k, v in zh_grading.items() if k != "checksum"}}
        if "checksum" in zh_grading:  # nbgrader validate (Jupyter's Validate button) finds every cell unchanged
            assert zh_grading["checksum"] == compute_checksum(nbformat.from_dict(zh)), zh_grading["grade_id"]
        if en["cell_type"] == "code" and not en_grading.get("solution"):
            assert en["source"] == zh["source"] and en_grading == zh_grading
        elif en["cell_type"] == "code":  # an answer cell's stub: the same code, lines and names, its docstrings Chinese
            english_docs, chinese_docs = docstrings(en["source"]), docstrings(zh["source"])
            assert len(english_docs) == len(chinese_docs)
            assert all(re.search(r"[\u4e00-\u9fff]", d) for d in chinese_docs), chinese_docs
            back = zh["source"]
            for en_doc, zh_doc in zip(english_docs, chinese_docs, strict=True):
                back = back.replace(f'"""{zh_doc}"""', f'"""{en_doc}"""')
            assert back == en["source"], en_grading["grade_id"]
        elif en["source"].strip() != ANSWER:
            assert re.search(r"[\u4e00-\u9fff]", zh["source"]), f"{aid}/{en.get('id')}: markdown left in English"
    text = "\n".join(c["source"] for c in chinese["cells"])
    assert 'href="/course-book/book/' not in text and f'href="/course-book/{LANG}/book/' in text  # zh edition
    for page, label in re.findall(rf'href="/course-book/{LANG}/book/([a-z_]+)\.html#([a-z0-9-]+)"', text):
        assert f"({label})=" in (ROOT / "book" / f"{page}.md").read_text(encoding="utf-8")


def test_a_missing_translation_stops_the_release(tmp_path: Path) -> None:
    aid = IDS[0]
    english = tmp_path / "en"
    (english / aid).mkdir(parents=True)
    nb = _read(aid, None)
    nb.cells.append(nbformat.v4.new_markdown_cell("A paragraph nobody translated."))
    nbformat.write(nb, english / aid / f"{aid}.ipynb")
    with pytest.raises(MissingTranslation, match="nobody translated"):
        release_translations([aid], english, tmp_path / "out")
    assert not (tmp_path / "out" / LANG / aid).exists()


def test_the_chinese_edition_reads_exercise_pages_from_the_chinese_notebooks(tmp_path: Path) -> None:
    """book/_ext/language_switch.py swaps the page source in the zh build only, and publishes the zh download."""
    import sys
    from types import SimpleNamespace
    from typing import Any

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import language_switch

    zh_app, en_app = (cast(Any, SimpleNamespace)(config=SimpleNamespace(language=lang), outdir=str(tmp_path))
                      for lang in (LANG, None))
    for aid in IDS:
        source = ["english"]
        language_switch.use_chinese_notebook(zh_app, f"exercises/{aid}/{aid}", source)
        assert notebook_language(json.loads(source[0])) == LANG
        language_switch.use_chinese_notebook(en_app, f"exercises/{aid}/{aid}", source := ["english"])
        assert source == ["english"]
    language_switch.use_chinese_notebook(zh_app, "book/clipping", source := ["chapter"])
    assert source == ["chapter"]
    env = SimpleNamespace(found_docs={"book/clipping", "book/exercises", *(f"exercises/{aid}/{aid}" for aid in IDS)})
    assert sorted(language_switch.reread_exercises(zh_app, env, set(), set(), set())) == sorted(
        ["book/exercises", *(f"exercises/{aid}/{aid}" for aid in IDS)])  # zh rebuilds pick up a new release
    assert language_switch.reread_exercises(en_app, env, set(), set(), set()) == []
    copied = tmp_path / "_sources" / "exercises" / IDS[0] / f"{IDS[0]}.ipynb"
    copied.parent.mkdir(parents=True)
    copied.write_text("english", encoding="utf-8")
    language_switch.publish_chinese_notebooks(zh_app, None)
    assert notebook_language(json.loads(copied.read_text(encoding="utf-8"))) == LANG


@pytest.mark.parametrize("metadata", [[], "zh_CN", {"autograder": []}, {"autograder": {"language": ["zh_CN"]}},
                                      {"autograder": {"language": {"zh_CN": 1}}}, {"autograder": {"language": "xx"}}])
def test_a_hostile_language_field_reads_as_english(metadata: object) -> None:
    """A submitted notebook's metadata is hostile: any shape but a known language's name is English, never an error,
    for the grader (parse) and submit() alike, which both read it with notebook_language."""
    from autograder.grading.inbox.notebook import parse

    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": []}
    assert notebook_language(notebook) is None
    assert parse(json.dumps(notebook).encode()).language is None
    assert notebook_language({"metadata": {"autograder": {"language": LANG}}}) == LANG



def _printed_prose(source: str) -> list[str]:
    """Words the cell's print() calls write as text (not values they format) that are not names in its code."""
    import ast

    tree = ast.parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.slice.value for n in ast.walk(tree) if isinstance(n, ast.Subscript)  # baseline['loss']
              and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)}
    prose = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            for arg in node.args:
                for part in arg.values if isinstance(arg, ast.JoinedStr) else [arg]:
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        prose += [w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]+", part.value) if w not in names]
    return prose


@pytest.mark.parametrize("aid", IDS)
def test_the_code_cells_a_student_is_given_print_no_english(aid: str) -> None:
    """The given cells' code is the English notebook's (same code, same grade), so what they print is code a Chinese
    student can read: names and values (`device = cpu`), never an English sentence ("working on cpu")."""
    nb = json.loads(release_path(aid, LANG).read_text())
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] != "code" or meta.get("solution") or meta.get("grade"):
            continue
        prose = _printed_prose("".join(cell["source"]))
        assert prose == [], f"{aid}, cell {meta.get('grade_id') or cell.get('id')}: prints {prose}"


@pytest.mark.parametrize("aid", IDS)
def test_a_lost_or_respelled_language_field_still_reads_chinese(aid: str) -> None:
    """A Chinese notebook whose field was dropped (copied into a new notebook, saved by a tool that keeps no unknown
    metadata) is told by the course's own locked text; a field spelled zh-CN or zh names the same language."""
    chinese = json.loads(release_path(aid, LANG).read_text(encoding="utf-8"))
    english = json.loads(release_path(aid, None).read_text(encoding="utf-8"))
    del chinese["metadata"]["autograder"]
    assert notebook_language(chinese) == LANG and notebook_language(english) is None
    for spelled in ("zh-CN", "zh", "zh_cn", "zh-Hans-CN"):
        chinese["metadata"]["autograder"] = {"language": spelled}
        assert notebook_language(chinese) == LANG, spelled
    chinese["metadata"]["autograder"] = {"language": "en"}  # a field that says English is English
    assert notebook_language(chinese) is None
    for cell in english["cells"]:  # an English notebook whose student writes Chinese stays English
        if cell["cell_type"] == "markdown" and not cell["metadata"].get("nbgrader", {}).get("locked"):
            cell["source"] = "我的回答：梯度爆炸"
    assert notebook_language(english) is None


@pytest.mark.parametrize("aid", IDS)
def test_words_set_in_formulas_are_chinese_too(aid: str) -> None:
    """`\\text{otherwise}` in a display formula is English prose a Chinese student reads: such formulas are messages
    of their own, and no formula of the Chinese release keeps an English word of prose (names like `nesterov` stay)."""
    nb = json.loads(release_path(aid, "zh_CN").read_text(encoding="utf-8"))
    markdown = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown"]
    texts = [t for m in markdown for t in re.findall(r"\\text\{([^{}]*)\}", m)]
    words = {w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t)}
    assert words & set(PROSE_IN_MATH) == set()
    assert is_message("$$\na = b \\quad \\text{otherwise}\n$$") and not is_message("$$\n\\text{relu}(x) = x\n$$")
