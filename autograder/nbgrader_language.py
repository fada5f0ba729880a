"""nbgrader's OverwriteCells for translated notebooks: the locked cells come back from the source in the notebook's
own language.

`nbgrader autograde` restores every locked cell from the gradebook's source, which is the English notebook. For a
Chinese submission (exercises/zh_CN/) that put the course's English text into the autograded notebook, so the
feedback page nbgrader generates read English, and a notebook that had lost its language field
(metadata.autograder.language, told otherwise by its locked Chinese text: notebook_i18n.notebook_language) was read as
English by the checks in nbgrader's kernel, while the batch grader and Jupyter spoke Chinese to the same student.

Here the language is read before the cells are restored, written into the notebook's metadata, and the restored
locked markdown is translated with the notebook's catalog (the same translation the Chinese release holds). Code
cells and every checksum stay nbgrader's: the grade is the same in every language.
Used by autograder/nbgrader_config.py (`Autograde.sanitize_preprocessors`).
"""

from __future__ import annotations

from typing import Any

from nbgrader.preprocessors import OverwriteCells

from autograder.notebook_i18n import load, notebook_language, translate


class OverwriteCellsInLanguage(OverwriteCells):
    """OverwriteCells, then the locked markdown translated into the submitted notebook's language."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        lang = notebook_language(nb)  # before the English source replaces the locked text it may be told by
        nb, resources = super().preprocess(nb, resources)
        if lang is None:
            return nb, resources
        course = nb.metadata.get("autograder")
        nb.metadata["autograder"] = {**course, "language": lang} if isinstance(course, dict) else {"language": lang}
        translated, _ = translate(nb, load(str(resources["nbgrader"]["notebook"]), lang), lang)
        for cell, done in zip(nb.cells, translated["cells"], strict=True):
            if cell.cell_type == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get("locked"):
                cell.source = done["source"]
        return nb, resources
