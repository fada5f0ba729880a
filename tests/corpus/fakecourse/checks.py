"""A tiny stand-in assignment ('fake') with the real contract, so the grader is tested on its own.

Three questions: `scale(x, a) = a * x` (1 point), `norm2(x) = sqrt(sum x^2)` (2 points) and
`square_grad(x) = d/dx sum(x^2) = 2x` (2 points, autograd forbidden). Partial credit is the share of
cases right; an output that used a forbidden shortcut scores 0 with status forbidden.
"""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.compare import describe
from autograder.checks.forbidden import forbidden_output, is_forbidden
from autograder.checks.spec import ERROR_KEY, Assignment, Outcome, Question, error_message, error_output
from autograder.checks.where import describe_exception
from autograder.message import Message, say

FORBIDDEN = ("torch.optim", "torch.autograd", "Tensor.backward", "torch.nn.utils.clip_grad_norm_")


def _cases(gen: torch.Generator, hidden: bool) -> list[dict[str, Any]]:
    """Random float64 vectors (and a scalar `a`); hidden cases are more and larger."""
    count = 4 if hidden else 2
    return [{"x": torch.randn(3 + k, generator=gen, dtype=torch.float64),
             "a": float(torch.rand((), generator=gen, dtype=torch.float64) * 4 - 2)} for k in range(count)]


def _caller(name: str, uses_a: bool):
    """call(): run the student's function on one case, turn any failure into an error output."""
    def call(functions: Any, case: dict[str, Any]) -> dict[str, Any]:
        try:
            args = (case["x"].clone(), case["a"]) if uses_a else (case["x"].clone(),)
            return {"y": functions[name](*args)}
        except Exception as exc:  # noqa: BLE001 - student code
            if type(exc).__name__ == "ForbiddenCall":
                return forbidden_output(str(exc))
            return error_output(describe_exception(exc))
    return call


def _judge(grade_id: str, points: float, expected):
    """judge(): the share of cases whose `y` matches `expected(case)` in float64."""
    def judge(cases: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> Outcome:
        right, problem, raised = 0, None, False
        for case, out in zip(cases, outputs, strict=False):  # a missing output is caught below
            where = f"x of length {case['x'].numel()}"
            if not isinstance(out, dict) or ERROR_KEY in out:
                if is_forbidden(out):
                    return Outcome(0.0, points, "forbidden", error_message(out))
                raised = raised or problem is None
                problem = problem or say("check.case", grade_id=grade_id, label=where, problem=error_message(out))
                continue
            got, want = out.get("y"), expected(case)
            if isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(
                    got.to(torch.float64), want, rtol=1e-9, atol=1e-12):
                right += 1
            else:
                problem = problem or say("check.case", grade_id=grade_id, label=where,
                                         problem=say("check.differs", key="y", reason=describe(got)))
        if len(outputs) != len(cases):
            return Outcome(0.0, points, "error", say("results.count", outputs=len(outputs), cases=len(cases)))
        if right == len(cases):
            return Outcome(points, points, "passed", say("check.passed", grade_id=grade_id, n=right, err="0"))
        status = "partial" if right else ("error" if raised else "failed")
        score = points * right / len(cases)
        head: Message | str = problem or grade_id
        return Outcome(score, points, status, say("check.summary", head=head, wrong=len(cases) - right,
                                                  total=len(cases), score=f"{score:g}", points=f"{points:g}"))
    return judge


ASSIGNMENT = Assignment(
    id="fake", notebook="fake.ipynb", forbidden=FORBIDDEN,
    questions=(
        Question("test_scale", 1.0, ("scale",), _cases, _caller("scale", True),
                 _judge("test_scale", 1.0, lambda c: c["a"] * c["x"])),
        Question("test_norm2", 2.0, ("norm2",), _cases, _caller("norm2", False),
                 _judge("test_norm2", 2.0, lambda c: c["x"].norm().reshape(()))),
        Question("test_square_grad", 2.0, ("square_grad",), _cases, _caller("square_grad", False),
                 _judge("test_square_grad", 2.0, lambda c: 2 * c["x"])),
    ))


def get_assignment(assignment_id: str) -> Assignment:
    """The fake assignment, by id (KeyError for any other id, like the real registry)."""
    if assignment_id != ASSIGNMENT.id:
        raise KeyError(f"no assignment {assignment_id!r}; known: ['fake']")
    return ASSIGNMENT
