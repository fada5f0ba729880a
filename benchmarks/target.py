"""What a grading benchmark grades: the course's assignment with its solution as source, or the tests' fake one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"


def grading_target(fake: bool, assignment: str) -> tuple[str, str, str, dict[str, Any]]:
    """(assignment id, notebook name, checks reference, source notebook) for a benchmark run."""
    sys.path[:0] = [str(REPO), str(CORPUS)]
    if fake:
        from fakecourse import notebooks

        return "fake", "fake.ipynb", "fakecourse.checks:get_assignment", notebooks.source_notebook()
    from autograder.checks import get_assignment

    notebook = get_assignment(assignment).notebook
    source = json.loads((REPO / "solutions" / assignment / notebook).read_text())
    return assignment, notebook, "autograder.checks:get_assignment", source
