"""Which assignment an OUT folder already holds: read before the first worker starts, so nothing heavy is imported
here (the worker's start must not wait for the grader's own torch import: cli._grade)."""

from __future__ import annotations

import json
from pathlib import Path

from autograder.grading.runner.limits import RESULT_BYTES


def stored_assignment(out: Path) -> tuple[str, str] | None:
    """(the assignment, the file) of the first readable stored result in `out` (every result there is of one
    assignment: the command line gives each assignment its own OUT); None when there is none."""
    for path in sorted((out / "results").glob("*.json")) if (out / "results").is_dir() else ():
        try:
            if path.is_symlink() or path.stat().st_size > 2 * RESULT_BYTES:
                continue
            found = json.loads(path.read_bytes()).get("assignment")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(found, str):
            return found, str(path)
    return None
