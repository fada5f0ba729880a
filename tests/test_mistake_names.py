"""Every named mistake has a hand-written student variant that earns exactly that name and at most half.

The variants live in test_mistake_names_<assignment>.py, written as a student would write the bug (never
through the mistake kernels in autograder/checks/mistakes/), and are graded through the checks' contract:
make_cases (visible and hidden), call, judge. This file holds the shared assertions and the coverage test
that fails when a question gains a mistake without a variant.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import torch

from autograder.checks import backprop, clipping, get_assignment, optimizers
from autograder.checks.builder import MISTAKE_CAP
from autograder.checks.spec import Outcome

#: (assignment, module) pairs whose SPECS list the named mistakes.
ASSIGNMENTS = (("backprop", backprop), ("optimizers", optimizers), ("clipping", clipping))

#: One named variant: (grade_id, mistake name, the student's functions).
Variant = tuple[str, str, dict[str, Callable[..., Any]]]


def grade(assignment: str, grade_id: str, functions: Mapping[str, Callable[..., Any]], seed: int = 3) -> Outcome:
    """Visible and hidden cases for one seed, through call and judge, as the batch grader does."""
    question = get_assignment(assignment).question(grade_id)
    cases = question.make_cases(torch.Generator().manual_seed(seed), True)
    return question.judge(cases, [question.call(functions, case) for case in cases])


def has_name(outcome: Outcome, name: str) -> bool:
    """Is `name` the display name of one of the mistakes the outcome names by id (several when the cases cannot
    tell them apart)?"""
    return name in outcome.names()


def assert_named(outcome: Outcome, name: str) -> None:
    """The exact name in the structured field and the message, at most half the points, and the cost said."""
    assert has_name(outcome, name), f"expected {name!r}, got {outcome.names()!r}: {outcome.text()}"
    assert name in outcome.text(), outcome.text()
    assert outcome.score <= outcome.max_score * MISTAKE_CAP, outcome
    assert f"{outcome.score:g} of {outcome.max_score:g} points" in outcome.text(), outcome.text()


def assert_not_named(outcome: Outcome, *wrong: str) -> None:
    """Points lost, but none of the wrong names given."""
    assert outcome.score < outcome.max_score, outcome.text()
    assert not any(has_name(outcome, name) for name in wrong), f"wrongly named {outcome.names()!r}: {outcome.text()}"


def test_every_named_mistake_has_a_hand_written_variant() -> None:
    """Adding a mistake to a question without a student variant that earns it fails here."""
    for assignment, module in ASSIGNMENTS:
        variants = importlib.import_module(f"tests.test_mistake_names_{assignment}").NAMED
        covered = {(grade_id, name) for grade_id, name, _ in variants}
        declared = {(spec.grade_id, m.name) for spec in module.SPECS for m in spec.mistakes}
        assert declared <= covered, f"{assignment}: no hand-written variant for {sorted(declared - covered)}"
        assert covered <= declared, f"{assignment}: variants for undeclared mistakes {sorted(covered - declared)}"
