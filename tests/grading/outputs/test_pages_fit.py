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


#: What is broken across lines in the tables: a latin word (a break after its hyphen aside) of a cell other than those
#: whose text may break anywhere (messages a submission wrote, student ids), and any heading or status cell not on
#: one line (Chinese text may break between any two characters: a short label must not).
BROKEN_WORDS_JS = """() => {
  const lines = (range) => new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  const broken = [];
  for (const cell of document.querySelectorAll('td:not(.message):not(.id), th')) {
    const whole = document.createRange();
    whole.selectNodeContents(cell);
    if ((cell.tagName === 'TH' || cell.classList.contains('status')) && lines(whole) > 1) broken.push(cell.innerText);
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[A-Za-z0-9_.]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        if (lines(range) > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("page", ["report.html", "feedback/student-01-{x}/fake/fake.html",
                                  "feedback/student-02-{x}/fake/fake.html"], ids=["report", "zh", "en"])
def test_table_words_stay_whole(out: Path, browser: Any, page: str, width: int) -> None:
    """A status, a heading or a test's name is never broken in the middle ("stat/us", "passe/d"), on a desktop or a
    phone: its column is at least as wide as its longest word (a table wider than a phone scrolls in its box)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 500)
    view = context.new_page()
    view.goto((out / page.format(x="x" * 30)).as_uri(), wait_until="load")
    assert view.evaluate("() => document.querySelectorAll('td, th').length") > 10
    assert view.evaluate(BROKEN_WORDS_JS) == []
    context.close()


@pytest.mark.parametrize("page", ["feedback/student-01-{x}/fake/fake.html", "feedback/student-02-{x}/fake/fake.html"],
                         ids=["zh", "en"])
def test_feedback_on_a_phone_is_one_card_per_question(out: Path, browser: Any, page: str) -> None:
    """At 390 px every question's score, status and diagnosis are on the screen, each under its column's name (no
    part of the table behind a sideways scroll); at 1280 px it is the table with its headings."""
    seen = {}
    for width in (390, 1280):
        context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 500)
        view = context.new_page()
        view.goto((out / page.format(x="x" * 30)).as_uri(), wait_until="load")
        seen[width] = view.evaluate("""() => ({
          headings: [...document.querySelectorAll('table.cards th')].filter(e => e.getBoundingClientRect().width > 0)
                    .length,
          outside: [...document.querySelectorAll('table.cards td')].filter(e => {
            const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < 0 || r.right > window.innerWidth); })
            .length,
          labels: [...document.querySelectorAll('table.cards td.message')].map(e =>
            getComputedStyle(e, '::before').content),
        })""")
        context.close()
    assert seen[390]["headings"] == 0 and seen[390]["outside"] == 0
    assert seen[390]["labels"] and all(label not in ("none", "normal", '""') for label in seen[390]["labels"])
    colon = '："' if page.startswith("feedback/student-01") else ': "'  # student-01 wrote in Chinese (the fixture)
    assert all(label.endswith(colon) for label in seen[390]["labels"]), seen[390]["labels"]
    assert seen[1280]["headings"] == 5 and seen[1280]["outside"] == 0
