"""Find an Assignment by a 'module:function' reference, the same way in the grader and in its workers."""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the checks import torch: only load_assignment needs them (find_spec and the CLI must not wait)
    from autograder.checks.spec import Assignment

#: Where the course's own assignments live; tests point --checks at a fake module instead.
DEFAULT_CHECKS = "autograder.checks:get_assignment"


def load_assignment(checks: str, assignment_id: str) -> Assignment:
    """Call `function(assignment_id)` from the module named by `checks` ('package.module:function')."""
    from autograder.checks.spec import Assignment

    module_name, sep, function_name = checks.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"--checks {checks!r}: expected 'module:function', e.g. {DEFAULT_CHECKS!r}")
    try:
        getter = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--checks {checks!r}: cannot import it ({exc})") from exc
    try:
        assignment = getter(assignment_id)
    except (KeyError, ValueError, LookupError) as exc:
        raise ValueError(f"--assignment {assignment_id!r}: unknown to {checks} ({exc})") from exc
    if not isinstance(assignment, Assignment):
        raise ValueError(f"--checks {checks!r} returned {type(assignment).__name__}, expected an Assignment")
    return assignment


@contextlib.contextmanager
def without_collections() -> Iterator[None]:
    """No garbage collection while torch and the checks load; one full collection after, if collection was on.

    `import torch` makes ~170,000 objects, nearly all for good, and the collector, run every 700 new objects, spent
    ~9% of the import on them (0.1-0.2 s of CPU in the grader and in each worker, on the way to the first result).
    The one collection after moves them all to the oldest generation at once (a forked child's own collections
    then leave them alone, as before). Not gc.freeze(): frozen objects are hidden from gc.get_objects(), which the
    tripwire (checks/forbidden.arm_for_good) walks to replace every reference to a forbidden original."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()


def import_root(checks: str) -> tuple[Path, Path]:
    """(sys.path entry, top-level package dir or module file) that a sandbox must see to import `checks`."""
    top = checks.partition(":")[0].split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        raise ValueError(f"--checks {checks!r}: module {top!r} is not importable")
    origin = Path(spec.origin).resolve()
    package = origin.parent if origin.name == "__init__.py" else origin
    return package.parent, package
