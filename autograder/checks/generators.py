"""Python's and numpy's global random generators, seeded for every graded call and put back after it.

torch's global generator starts from the same seed in every process (a fresh kernel under `nbgrader autograde`, a
child of the batch grader) and the checks never draw from it, so a student's `torch.rand` gives the same numbers in
every grader. Python's `random` and numpy's global generator are seeded from the operating system instead: a
function that jittered a step with `np.random.rand()` or shuffled batches with `random.shuffle` got another grade on
every run, and from every grader. Each call of the student's functions on a case (`checks.builder`, the capstone's
training run) now starts both from SEED, and the state they had before comes back after it, so a student's own
exploration after a `check(...)` goes on as it would have.
"""

from __future__ import annotations

import contextlib
import importlib
import random
import sys
from collections.abc import Iterator

#: What Python's and numpy's global generators are seeded with for each graded call: a constant, so that the numbers a
#: student's function draws are a function of the notebook alone.
SEED = 20261208


@contextlib.contextmanager
def seeded() -> Iterator[None]:
    """Python's global generator, and numpy's when numpy is loaded (torch loads it), seeded with SEED meanwhile.

    The module-level instances are seeded through their classes' own methods, not `random.seed`: a student who
    replaced those names has not replaced what the generators are."""
    python = getattr(random, "_inst", None)
    if "numpy" in sys.modules and "numpy.random.mtrand" not in sys.modules:
        # numpy 2 loads numpy.random on first use: a student's first np.random.rand() would seed it from the system
        importlib.import_module("numpy.random")
    numpy = sys.modules.get("numpy.random.mtrand")
    legacy = getattr(numpy, "_rand", None)
    before = (python.getstate() if isinstance(python, random.Random) else None,
              legacy.get_state() if legacy is not None else None)
    if isinstance(python, random.Random):
        random.Random.seed(python, SEED)
    if legacy is not None:
        type(legacy).seed(legacy, SEED)
    try:
        yield
    finally:
        if before[0] is not None and isinstance(python, random.Random):
            python.setstate(before[0])
        if before[1] is not None and legacy is not None:
            legacy.set_state(before[1])
