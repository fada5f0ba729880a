"""autograder.grading.core.pool: the one grading core. A worker it starts belongs to the pool, not to the thread that
happened to start it (bubblewrap's --die-with-parent follows the starting thread), so warm workers survive."""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from pathlib import Path

from autograder.grading.core.model import Submission
from autograder.grading.core.pool import Pool
from autograder.grading.inbox.notebook import parse
from autograder.grading.runner.assignments import load_assignment
from autograder.grading.runner.wire import Limits
from tests.paths import CORPUS
from tests.sandbox_required import sandbox_marks

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

pytestmark = sandbox_marks("the grading core's worker test")


def test_a_warm_worker_outlives_the_thread_that_started_it() -> None:
    """Warm from a thread that then ends, grade from two other threads: the same worker process grades both."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    source = parse(json.dumps(notebooks.source_notebook()).encode())
    with tempfile.TemporaryDirectory() as tmp:
        pool = Pool("fakecourse.checks:get_assignment", assignment, source, 7, Limits(), True, Path(tmp), Path(tmp))
        try:
            warm = threading.Thread(target=pool.warm, args=(1,))
            warm.start()
            warm.join()
            assert pool.warm_count() == 1
            worker = pool._idle[0].worker
            assert worker is not None
            totals = []
            for name in ("ann", "bob"):
                thread = threading.Thread(target=lambda n=name: totals.append(
                    pool.grade(Submission(n, "x", json.dumps(notebooks.submission()).encode())).total))
                thread.start()
                thread.join()
            assert totals == [5.0, 5.0]
            assert worker.process.poll() is None and pool._idle[0].worker is worker  # never restarted
        finally:
            pool.close()
        assert worker.process.poll() is not None  # close() stopped it
