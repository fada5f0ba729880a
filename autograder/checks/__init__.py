"""Checks for the course's nbgrader assignments: one spec per assignment drives every consumer.

`ASSIGNMENTS` / `get_assignment(id)` serve the batch grader; `check` and `grade` are what notebook
test cells call (see autograder/checks/notebook.py).
"""

from __future__ import annotations

from autograder.checks import backprop, clipping, exploding, optimizers
from autograder.checks.messages import set_language
from autograder.checks.notebook import check, grade
from autograder.checks.spec import Assignment

ASSIGNMENTS: dict[str, Assignment] = {a.id: a for a in (backprop.ASSIGNMENT, optimizers.ASSIGNMENT, clipping.ASSIGNMENT,
                                                       exploding.ASSIGNMENT)}


def get_assignment(assignment_id: str) -> Assignment:
    """The Assignment with this id, or KeyError naming the known ids."""
    try:
        return ASSIGNMENTS[assignment_id]
    except (KeyError, TypeError):
        raise KeyError(f"unknown assignment {assignment_id!r}; known: {sorted(ASSIGNMENTS)}") from None


__all__ = ["ASSIGNMENTS", "Assignment", "check", "get_assignment", "grade", "set_language"]
