"""The feedback pages and the cohort report fit a phone (320-390 px): no sideways scrolling, a wide table scrolls
inside its own box, long unbroken text (ids, paths, identifiers) wraps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from autograder.grading.core.model import Result, Row, RunSummary
from autograder.grading.outputs import batch as outputs
from autograder.message import say
from tests.page_fit import fit_problems
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE

pytestmark = pytest.mark.browser
#: A long unbroken run, as student code can produce in an error message (a path, a hash, an identifier).
UNBROKEN = "very_long_identifier_without_any_space_" * 6


def _cohort() -> dict[str, Result]:
    """Twelve students: long messages in failing rows, captured output, an English and a Chinese notebook."""
    results = {}
    for n in range(12):
        student = f"student-{n:02d}-{'x' * 30}"
        rows = tuple(Row(student, "fake", "fake.ipynb", q.grade_id, 0.0 if n % 3 else q.points, q.points,
                         "passed" if n % 3 == 0 else "failed",
                         say("check.call_failed", error=f"ValueError: {UNBROKEN}") if n % 3 else say("diff.match"))
                     for q in FAKE.questions)
        results[student] = Result(student, "fake", "fake.ipynb", f"/subs/{student}/fake/fake.ipynb", n == 4, 7,
                                  (say("upload.problem", reason=UNBROKEN),),
                                  {"stdout": f"printed {UNBROKEN}\n" * 3, "cell_errors": f"cell #3: {UNBROKEN}"},
                                  0.2, rows, submitted=True, language="zh_CN" if n == 1 else None)
    return results


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fit") / "out"
    (folder / "results").mkdir(parents=True)
    outputs.write_all(folder, FAKE, _cohort(), RunSummary("k", "bubblewrap", graded=12, elapsed=1.0))
    return folder


@pytest.fixture(scope="module")
def browser() -> Any:
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _chromium_or_skip

    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("page", ["report.html", "feedback/student-01-{x}/fake/fake.html",
                                  "feedback/student-02-{x}/fake/fake.html"], ids=["report", "zh", "en"])
def test_grader_pages_fit_a_phone(out: Path, browser: Any, page: str) -> None:
    path = out / page.format(x="x" * 30)
    assert path.is_file(), sorted(p.name for p in out.iterdir())
    assert fit_problems(browser, path.as_uri()) == []
