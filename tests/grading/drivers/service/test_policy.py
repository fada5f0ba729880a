"""The instructor's policy file and which submission counts: latest or best, late work accepted, ignored or refused."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from autograder.grading.core.model import Result, Row
from autograder.grading.drivers.service.db import Stored
from autograder.grading.drivers.service.export import choose
from autograder.grading.drivers.service.policy import Policy, load
from autograder.message import say


def test_policy_file_sets_defaults_and_per_assignment_rules(tmp_path: Path) -> None:
    """Defaults apply to every assignment; an assignment's table overrides them; the deadline is an instant."""
    path = tmp_path / "policy.toml"
    path.write_text('[defaults]\ncounts = "latest"\nrate_per_hour = 5\n\n'
                    '[assignments.optimizers]\ndeadline = 2027-01-15T23:59:00Z\nlate = "ignore"\n')
    policies = load(path, ["optimizers", "clipping"])
    deadline = datetime.datetime(2027, 1, 15, 23, 59, tzinfo=datetime.UTC).timestamp()
    assert policies["clipping"] == Policy(counts="latest", rate_per_hour=5)
    assert policies["optimizers"] == Policy(counts="latest", rate_per_hour=5, deadline=deadline, late="ignore")
    assert policies["optimizers"].is_late(deadline + 1) and not policies["optimizers"].is_late(deadline)
    assert not policies["clipping"].is_late(deadline + 1e9)
    assert load(None, ["x"]) == {"x": Policy()}  # no file: best counts, 20 per hour, no deadline


@pytest.mark.parametrize(("text", "says"), [
    ('[defaults]\ncounts = "first"\n', "counts must be one of latest, best"),
    ('[defaults]\nrate_per_hour = -1\n', "rate_per_hour"),
    ('[assignments.optimizers]\ndeadline = 2027-01-15T23:59:00\n', "with an offset"),
    ('[assignments.optimizers]\nlate = "maybe"\n', "late must be one of"),
    ('[assignments.optimiser]\nlate = "accept"\n', "optimiser are not served"),
    ('[defaults]\ncount = "best"\n', "unknown key(s) count"),
    ('[defualts]\n', "unknown table(s) defualts"),
    ('counts = "best', "policy.toml"),
])
def test_a_bad_policy_file_is_one_line_naming_the_problem(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load(path, ["optimizers"])
    assert says in str(caught.value) and "\n" not in str(caught.value)


def _graded(number: int, total: float, late: bool = False, refused: bool = False) -> Stored:
    """Submission `number` of one student with this total."""
    row = Row("ann", "fake", "fake.ipynb", "q", total, 5.0, "malformed" if refused else "partial",
              say("check.no_output"))
    result = Result("ann", "fake", "fake.ipynb", "", late, 1, (), {}, 0.1, (row,))
    return Stored(number, "ann", "fake", float(number), "", late, result, refused)


def test_which_submission_counts() -> None:
    """best: the highest total (the later one on a tie); latest: the last; refused only alone; late per the policy."""
    history = [_graded(1, 2.0), _graded(2, 4.0), _graded(3, 4.0), _graded(4, 1.0), _graded(5, 0.0, refused=True),
               _graded(6, 5.0, late=True)]
    chosen = {how: choose(history, Policy(counts=how[0], late=how[1]))
              for how in (("best", "accept"), ("latest", "accept"), ("best", "ignore"), ("latest", "ignore"))}
    assert {how: s.id if s else None for how, s in chosen.items()} == {
        ("best", "accept"): 6, ("latest", "accept"): 6, ("best", "ignore"): 3, ("latest", "ignore"): 4}
    assert choose(history[4:5], Policy()) == history[4]  # only refused work: it counts (the batch's malformed rows)
    assert choose(history[5:], Policy(late="ignore")) is None
