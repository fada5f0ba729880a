"""The graded test cells of solutions/<id>/<id>.ipynb agree with the checks: one cell per question, same points.

Plain `nbgrader autograde` grades out of each test cell's nbgrader `points`, `autograder grade` out of the
question's points in the checks (`autograder.checks.get_assignment(id).question(grade_id).points`); the release
refuses a source notebook where they could differ, so the two graders never disagree silently.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SOURCE = "solutions"


def _points(value: Any) -> float | None:
    """nbgrader's `points` as a number, None when it is none (missing, text, not finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _test_cells(nb: Any) -> list[tuple[str, Any]]:
    """(grade_id, points) of each autograded test cell: nbgrader `grade` without `solution` or `task`."""
    cells = []
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and not meta.get("task"):
            cells.append((str(meta.get("grade_id")), meta.get("points")))
    return cells


def disagreements(aid: str, root: Path) -> list[str]:
    """One line per disagreement between solutions/<aid>/<aid>.ipynb and the checks: a test cell whose points
    differ from its question's, a test cell that is no question, a question without a test cell."""
    from autograder.checks import get_assignment  # lazy: imports torch

    where = f"{SOURCE}/{aid}/{aid}.ipynb"
    try:
        assignment = get_assignment(aid)
    except KeyError as exc:
        return [f"{where}: {exc.args[0]} in autograder/checks/"]
    nb = json.loads((root / where).read_text(encoding="utf-8"))
    known = [q.grade_id for q in assignment.questions]
    cells = _test_cells(nb)
    problems = []
    for grade_id, points in cells:
        if grade_id not in known:
            problems.append(f"{where}: test cell {grade_id!r} is not a question of the checks (known: {known}): "
                            f"rename the cell or add the question to autograder/checks/")
            continue
        expected = assignment.question(grade_id).points
        if _points(points) != float(expected):
            problems.append(f"{where}: test cell {grade_id!r} has nbgrader points {points!r}, the checks "
                            f"give {expected:g} (get_assignment({aid!r}).question({grade_id!r}).points): "
                            f"make them equal")
    found = {grade_id for grade_id, _ in cells}
    problems += [f"{where}: question {q!r} of the checks has no test cell (an nbgrader autograded cell with "
                 f"grade_id {q!r})" for q in known if q not in found]
    return problems
