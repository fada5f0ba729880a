"""outputs/pages and the feedback page: display rules, autoescape, failures first, links to the book."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from autograder.checks import ASSIGNMENTS
from autograder.grading.core.model import Result, Row
from autograder.grading.outputs import batch as outputs
from autograder.grading.outputs import pages, sections
from autograder.message import say
from tests.test_names_travel import CODE, ROWS  # the README's table, parsed one way for both tests


def test_score_shows_at_most_two_decimals() -> None:
    assert [pages.score(v) for v in (0.3333, 2.0, 1.005, 0, "n/a", None)] == ["0.33", "2", "1", "0", "n/a", "None"]


def test_environment_escapes_everything_and_refuses_unknown_names() -> None:
    env = pages.environment()
    assert env is pages.environment() and env.autoescape
    assert env.from_string("{{ x }}").render(x="<b>&") == "&lt;b&gt;&amp;"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing }}").render()


def test_case_label_is_short_stable_and_hides_the_seed() -> None:
    seed = 4_611_686_018_427_387_903
    label = pages.case_label(seed)
    assert re.fullmatch(r"K-[0-9A-F]{6}", label) and label == pages.case_label(seed)
    assert label != pages.case_label(seed - 1) and str(seed)[:6] not in label
    assert pages.case_label(None) == ""


def test_sections_are_the_readme_names_travel_table() -> None:
    """Names travel: every exercise function of the README's table links to that row's page and label, and back."""
    table = {}
    for topic, chapter, exercise, *_ in ROWS:
        path, label = CODE.findall(chapter)
        for function in CODE.findall(exercise)[1:]:
            table[function] = sections.Section(topic, Path(path).stem, label)
    assert sections.SECTIONS == table
    graded = {f for a in ASSIGNMENTS.values() for q in a.questions for f in q.functions}
    assert all(sections.section_for(q.functions) for a in ASSIGNMENTS.values() for q in a.questions)
    assert set(sections.SECTIONS) <= graded


def test_links_point_at_the_local_build_or_a_published_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adam = sections.SECTIONS["adam_step"]
    monkeypatch.delenv(sections.URL_ENV, raising=False)
    page_dir = sections.BUILT_BOOK.parents[1] / "out" / "feedback" / "alice" / "optimizers"
    base = sections.book_base(page_dir, sections.book_url())
    assert base == "../../../../_build/html"
    assert sections.link(adam, base) == "../../../../_build/html/book/optimizers.html#sec-opt-adam"
    monkeypatch.setenv(sections.URL_ENV, "https://course.example.org/book/")
    assert sections.link(adam, sections.book_base(page_dir, sections.book_url())) == (
        "https://course.example.org/book/book/optimizers.html#sec-opt-adam")


def _optimizers_result() -> Result:
    """A student who passes, fails and half-passes questions of the optimizers assignment."""
    assignment = ASSIGNMENTS["optimizers"]
    statuses = ["passed", "failed", "partial", "passed", "timeout", "passed", "passed"]
    rows = tuple(Row("alice", "optimizers", "optimizers.ipynb", q.grade_id, q.points if st == "passed" else 0.5
                     if st == "partial" else 0.0, q.points, st,
                     say("check.error", grade_id=q.grade_id, error=st))
                 for q, st in zip(assignment.questions, statuses, strict=True))
    return Result("alice", "optimizers", "optimizers.ipynb", "upload", False, 1234567890123456789, (), {}, 0.4, rows)


def test_feedback_puts_failures_first_highlighted_and_linked(tmp_path: Path) -> None:
    assignment = ASSIGNMENTS["optimizers"]
    page = outputs.feedback_html(_optimizers_result(), assignment, "bubblewrap", "../book-root")
    order = re.findall(r"<tr class=\"(\w+)\"><td class=\"title\">(\w+)</td>", page)
    assert order == [("failing", "sgd_step_momentum"), ("failing", "adam_step_basic"),
                     ("partial", "rmsprop_step_basic"), ("passed", "sgd_step_basic"),
                     ("passed", "rmsprop_step_momentum_centered"), ("passed", "adam_step_flags"),
                     ("passed", "adamw_step")]
    assert "<b>failed</b>" in page and "<b>timeout</b>" in page and "<b>passed</b>" not in page
    assert "To work on: <b>sgd_step_momentum, adam_step_basic, rmsprop_step_basic</b>" in page
    assert '<a href="../book-root/book/optimizers.html#sec-opt-adam">Adam</a>' in page
    assert '<a href="../book-root/book/optimizers.html#sec-opt-momentum">SGD momentum</a>' in page
    points = {q.grade_id: q.points for q in assignment.questions}
    assert f"0 / {pages.score(points['adam_step_basic'])}" in page  # points as the notebook states them
    assert "1234567890123456789" not in page and pages.case_label(1234567890123456789) in page
    assert "tr.failing" in page  # the highlight is styled, not only named
