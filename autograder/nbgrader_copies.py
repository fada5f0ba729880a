"""nbgrader's autograde for a notebook with copied cells: graded as the batch grader grades it, instead of failing.

nbgrader's DeduplicateIds empties the nbgrader metadata of every later copy of a graded or locked cell, and its own
CheckCellMetadata then refuses those empty records as "an old version of the nbgrader metadata format":
`nbgrader autograde` stopped (exit code 1, no grade at all) for a student who had copied a cell, an older attempt
kept beside the answer, say. Here the copies become the student's own cells, run where they stand (as the batch
grader runs them: grading/inbox/sanitize.py), and a test cell that was duplicated costs its question, as it does
in the batch grader: it raises, which nbgrader scores 0, with the batch's reason in the notebook's language.
Used by autograder/nbgrader_config.py (`Autograde.sanitize_preprocessors`), around DeduplicateIds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.checks import messages
from autograder.message import say
from autograder.notebook_i18n import notebook_language

#: Where CountCopies leaves the duplicated test cells' ids (with their counts) for SettleCopies.
KEY = "autograder_duplicated_tests"


def _test_id(cell: Any) -> str | None:
    """The grade_id of an autograded test cell (graded, not a solution), else None."""
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    gid = meta.get("grade_id")
    return gid if meta.get("grade") and not meta.get("solution") and isinstance(gid, str) else None


class CountCopies(NbGraderPreprocessor):  # nbgrader's base: enabled (nbconvert's is off)
    """Before DeduplicateIds: note which test cells the student's notebook holds more than once."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        counts = Counter(gid for gid in map(_test_id, nb.cells) if gid is not None)
        resources[KEY] = {gid: count for gid, count in counts.items() if count > 1}
        return nb, resources


class SettleCopies(NbGraderPreprocessor):
    """After the locked cells are restored, before CheckCellMetadata: the copies DeduplicateIds emptied are plain
    cells, and each duplicated test cell raises the batch grader's reason."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        duplicated: dict[str, int] = resources.get(KEY) or {}
        lang = notebook_language(nb)
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader") == {}:  # a copy DeduplicateIds emptied
                del cell.metadata["nbgrader"]
                continue
            gid = _test_id(cell)
            if gid in duplicated:
                reason = messages.text(say("tampered.duplicated", cell=gid, count=duplicated[gid]), lang)
                cell.source = f"raise RuntimeError({reason!r})"
        return nb, resources
