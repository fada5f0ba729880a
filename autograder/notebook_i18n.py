"""Translated releases of the exercise notebooks: one English source plus one gettext catalog per assignment.

The messages are the paragraphs (blank-line separated blocks) of the released notebook's markdown cells that
hold prose, display formulas with words in them (`\text{otherwise}`), and the one-line docstrings of the answer
cells' stubs; other display math, code fences, code and nbgrader's "YOUR ANSWER HERE" / "# YOUR CODE HERE" stay as
they are. The catalogs live in solutions/locale/<lang>/LC_MESSAGES/<id>.po (read with Babel, no compiled .mo). A
translated notebook keeps every code line, cell id and nbgrader metadata (grade_ids, points) of the English release;
only markdown text and stub docstrings change (a translated cell's checksum is its translated text's, for `nbgrader
validate`), its links point to that language's edition of the book, and the notebook's metadata says its language
(`metadata.autograder.language`), which the checks and the grader read.

`python -m autograder.notebook_i18n update [ids]` merges new messages into the catalogs (keeping translations).
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

from autograder.grading.core.model import LANGUAGES  # one list, on the runner side (the records check it)

ROOT = Path(__file__).resolve().parent.parent
LOCALE = Path("solutions") / "locale"
ANSWER = "YOUR ANSWER HERE"  # nbgrader's placeholder in markdown answer cells: the autograder looks for it
_BLOCK = re.compile(r"^\s*(\$\$.*\$\$|```.*```)\s*$", re.S)
_MATH_OR_CODE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|<[^>]*>", re.S)


def catalog_path(aid: str, lang: str, root: Path = ROOT) -> Path:
    """Where the catalog of one assignment in one language lives."""
    return root / LOCALE / lang / "LC_MESSAGES" / f"{aid}.po"


def release_path(aid: str, lang: str | None, root: Path = ROOT) -> Path:
    """The released notebook: exercises/<id>/<id>.ipynb in English, exercises/<lang>/<id>/<id>.ipynb otherwise."""
    folder = root / "exercises" if lang is None else root / "exercises" / lang
    return folder / aid / f"{aid}.ipynb"


def _blocks(source: str) -> list[str]:
    """A markdown cell's paragraphs, split at blank lines."""
    return re.split(r"\n[ \t]*\n", source.strip("\n"))


#: English words set in a formula (`\text{otherwise}`): a display formula holding one is translated as a whole.
#: Names set in a formula (`\text{relu}`, `\text{nesterov}`, AMSGrad) are not prose and stay as they are.
PROSE_IN_MATH = ("otherwise", "with", "likewise", "and", "as", "in", "for", "where", "if", "else", "included",
                 "when", "each", "all", "then", "same")
_TEXT_IN_MATH = re.compile(r"\\text\{([^{}]*)\}")


def _prose_in_math(block: str) -> bool:
    """Whether a `\text{}` of the formula holds an English word of PROSE_IN_MATH."""
    return any(word.lower() in PROSE_IN_MATH for inner in _TEXT_IN_MATH.findall(block)
               for word in re.findall(r"[A-Za-z]+", inner))


def is_message(block: str) -> bool:
    """A paragraph is translated when it holds prose: letters outside math, code and HTML tags, or words set in a
    display formula's `\text{}` (the formula is the message; its translation keeps the math)."""
    if block.strip() == ANSWER:
        return False
    if _BLOCK.match(block):
        return block.lstrip().startswith("$$") and _prose_in_math(block)
    return re.search(r"[A-Za-z]{2,}", _MATH_OR_CODE.sub(" ", block)) is not None


def _is_answer_code(cell: Any) -> bool:
    """An nbgrader answer cell holding code: its stub's docstrings are the student's only description in the cell."""
    grading = cell.get("metadata", {}).get("nbgrader")
    return cell["cell_type"] == "code" and isinstance(grading, dict) and grading.get("solution") is True


def docstrings(source: str) -> list[str]:
    """The one-line docstrings (\"\"\"...\"\"\" on one line, as written) of the functions a code cell defines."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):  # RecursionError: nested deeper than Python reads
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc and "\n" not in doc and f'"""{doc}"""' in source and re.search(r"[A-Za-z]{2,}", doc):
                found.append(doc)
    return found


def messages(nb: Any) -> list[str]:
    """The notebook's messages in order of first appearance: markdown paragraphs, and the docstrings of the answer
    cells' stubs (a Chinese student reads "The global norm of all non-None gradients" as English prose too)."""
    seen: dict[str, None] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for block in _blocks(_text(cell["source"])):
                if is_message(block):
                    seen.setdefault(block, None)
        elif _is_answer_code(cell):
            for doc in docstrings(_text(cell["source"])):
                seen.setdefault(doc, None)
    return list(seen)


def source_messages(aid: str, root: Path = ROOT) -> list[str]:
    """The messages the release of solutions/<id> will hold (solution regions become nbgrader's placeholder),
    without running nbgrader."""
    import json

    nb = json.loads((root / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", ANSWER, _text(cell["source"]), flags=re.S)
        elif cell["cell_type"] == "code":  # the solution's own helpers and their docstrings are not released
            cell["source"] = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "pass", _text(cell["source"]), flags=re.S)
    return messages(nb)


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def load(aid: str, lang: str, root: Path = ROOT) -> dict[str, str]:
    """msgid -> msgstr of the finished (non-empty, non-fuzzy) translations of one catalog."""
    from babel.messages.pofile import read_po  # lazy: the grader imports this module for LANGUAGES only

    path = catalog_path(aid, lang, root)
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def relink(text: str, lang: str) -> str:
    """Links to the built book become links to that language's edition: the course package's book server
    (/course-book/ serves _build/html/, so /course-book/<lang>/ is that edition) and plain relative links from
    exercises/<id>/ (the translated notebook is one folder deeper)."""
    text = text.replace('href="/course-book/', f'href="/course-book/{lang}/')
    text = text.replace('href="../../_build/html/', f'href="../../../_build/html/{lang}/')
    return text.replace("`_build/html/index.html`", f"`_build/html/{lang}/index.html`")


def translate(nb: Any, table: dict[str, str], lang: str) -> tuple[Any, list[str]]:
    """A copy of the notebook with its markdown translated; the messages that had no translation.

    A translated cell that carries an nbgrader checksum gets the checksum of its translated text: `nbgrader validate`
    (Jupyter's Validate button) compares the two and otherwise told a Chinese student, of the untouched release, that
    "THE CONTENTS OF 7 TEST CELL(S) HAVE CHANGED!". Grading never reads these: `nbgrader autograde` restores locked
    cells and their checksums from the source, and the course's grader runs the source's text (checksums unread)."""
    from nbgrader.utils import compute_checksum  # lazy: the grader imports this module for LANGUAGES only

    out = copy.deepcopy(nb)
    missing: list[str] = []
    for cell in out["cells"]:
        if _is_answer_code(cell):
            source = _text(cell["source"])
            for doc in docstrings(source):
                if doc not in table:
                    missing.append(doc)
                elif "\n" not in table[doc] and '"""' not in table[doc]:  # the stub's lines stay where they were
                    source = source.replace(f'"""{doc}"""', f'"""{table[doc]}"""')
            if source != _text(cell["source"]):
                cell["source"] = source
                cell["metadata"]["nbgrader"]["checksum"] = compute_checksum(cell)  # an untouched stub: "No response."
            continue
        if cell["cell_type"] != "markdown":
            continue
        blocks = []
        for block in _blocks(_text(cell["source"])):
            if is_message(block) and block not in table:
                missing.append(block)
            blocks.append(relink(table.get(block, block), lang))
        translated = "\n\n".join(blocks)
        grading = cell.get("metadata", {}).get("nbgrader")
        if translated != _text(cell["source"]) and isinstance(grading, dict) and "checksum" in grading:
            cell["source"] = translated
            grading["checksum"] = compute_checksum(cell)
        cell["source"] = translated
    out["metadata"]["autograder"] = {**out["metadata"].get("autograder", {}), "language": lang}
    return out, missing


def notebook_language(nb: Any) -> str | None:
    """The language a notebook asks for (metadata.autograder.language), only when it is one the course knows; None:
    English. The grader, submit() and the release read it here alike (a submitted notebook's values are hostile).

    The field's spelling is forgiven (zh-CN, zh, zh_Hans: `known`); a notebook that lost the field (copied into a
    new notebook, saved by a tool that drops unknown metadata) is told by the course's own text, its locked markdown
    cells: mostly Chinese reads zh_CN, as the student who works in it expects."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    course = meta.get("autograder") if isinstance(meta, dict) else None
    if isinstance(course, dict) and "language" in course:
        return known(course["language"])
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return _language_of_text(cells) if isinstance(cells, list) else None


def known(tag: Any) -> str | None:
    """The course's language a language tag names (zh_CN, zh-CN, zh, zh-Hans-CN ... -> zh_CN), else None."""
    if not isinstance(tag, str) or len(tag) > 35:
        return None
    parts = tag.strip().replace("-", "_").lower().split("_")
    return next((lang for lang in LANGUAGES if parts[0] == lang.split("_")[0].lower()), None)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _language_of_text(cells: list[Any]) -> str | None:
    """zh_CN when most locked markdown cells (the course's text, nbgrader's `locked`) hold Chinese; else None."""
    locked = []
    for cell in cells[:2000]:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(grading, dict) and grading.get("locked") is True and cell.get("cell_type") == "markdown":
            source = cell.get("source")
            text = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
            locked.append(isinstance(text, str) and _CJK.search(text[:20_000]) is not None)
    return "zh_CN" if "zh_CN" in LANGUAGES and locked and 2 * sum(locked) > len(locked) else None


class MissingTranslation(RuntimeError):
    """A catalog lacks the translation of a message of the English release."""


def release_translations(ids: list[str], english: Path, out: Path, root: Path = ROOT) -> list[Path]:
    """Write out/<lang>/<id>/<id>.ipynb for every language from the English releases english/<id>/<id>.ipynb;
    raise MissingTranslation (naming each catalog that lacks one, and its first such message) when a message has
    no translation, before writing any notebook."""
    import nbformat

    done: dict[Path, Any] = {}
    gaps = []
    for aid in ids:
        nb = nbformat.read(english / aid / f"{aid}.ipynb", as_version=4)
        for lang in LANGUAGES:
            done[out / lang / aid / f"{aid}.ipynb"], missing = translate(nb, load(aid, lang, root), lang)
            if missing:
                gaps.append(f"{catalog_path(aid, lang, root)}: {len(missing)} message(s) without a translation, "
                            f"the first: {missing[0][:200]!r}")
    if gaps:
        raise MissingTranslation("; ".join(gaps) + " (run `python -m autograder.notebook_i18n update`, then "
                                 "translate them)")
    for target, translated in done.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict(translated), target)
    return list(done)


def update(aid: str, english: Any, lang: str, root: Path = ROOT) -> Path:
    """Merge the English release's messages into the catalog: new ones empty, obsolete ones dropped."""
    from babel.messages.catalog import Catalog

    from autograder.po_files import write_catalog

    old = load(aid, lang, root)
    catalog = Catalog(locale=lang, project=f"exercise {aid}", domain=aid)
    for msgid in messages(english):
        catalog.add(msgid, old.get(msgid, ""))
    path = catalog_path(aid, lang, root)
    write_catalog(path, catalog, width=0, omit_header=False, sort_output=False)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: `update [ids]` refreshes the catalogs from the English releases."""
    import nbformat

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "update":
        print("usage: python -m autograder.notebook_i18n update [ids]", file=sys.stderr)
        return 2
    import tempfile

    from autograder.release import assignment_ids, generate

    ids = args[1:] or assignment_ids()
    with tempfile.TemporaryDirectory(prefix="course-i18n-") as tmp:
        generate(ids, Path(tmp))  # a fresh English release: exercises/ may be stale
        for aid in ids:
            for lang in LANGUAGES:
                print(update(aid, nbformat.read(Path(tmp) / aid / f"{aid}.ipynb", as_version=4), lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
