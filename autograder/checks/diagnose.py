"""Name the known mistake a student's outputs show, using every graded case, not only the first failure.

A mistake is named only when it reproduces EVERY graded case: on each case the mistaken kernel's outputs
(and the reference's, for the outputs the mistake leaves alone) match all of the student's outputs, and at
least one failing case shows it (on a failing float32 case, the changed outputs may instead sit ten times closer
to the float64 mistake than to the reference: float32 rounding through an ill-conditioned mistake). A case the
kernel cannot compute explains nothing: it contradicts the name when the student failed it. When the cases cannot
tell several mistakes apart, all of them are named.
"computed in float32" is checked last, for every question: on every failing float64 case the outputs are right
to float32 accuracy, not to float64 accuracy, and exactly representable in float32 (they went through it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograder.checks.compare import Tolerance, as_float64, compare
from autograder.checks.spec import ERROR_KEY, Case, Output

#: The id, name and hint of the generic float32 diagnosis (catalogued like the checks' own mistakes).
FLOAT32 = ("float32", "computed in float32",
           "the checks give float64 inputs and compare at float64 accuracy: keep the inputs' dtype "
           "(no .float(), no torch.tensor(...) without dtype=, no float32 zeros/constants)")


def _float32_like(case: Case, out: Output, want: Output) -> bool | None:
    """True/False on float64 cases with some output off at float64 accuracy; None when not informative."""
    if str(case.get("dtype", "float64")) != "float64":
        return None
    loose = False
    for key, value in want.items():
        w = as_float64(value)
        if w is None:
            continue
        finite = w[torch.isfinite(w)]
        scale = float(finite.abs().max()) if finite.numel() else 1.0
        tol32 = Tolerance(rtol=2e-4, atol=1e-5 * scale)  # float32 rounding, relative to the output's size
        if not compare(out.get(key), value, tol32).ok:
            return False
        got = as_float64(out.get(key))
        if got is not None and got.shape == w.shape and bool((got != w).any()):
            finite_got = got[torch.isfinite(got)]
            if not torch.equal(finite_got, finite_got.float().double()):
                return False  # float64 digits a float32 computation cannot produce: another mistake
            loose = True
    return loose


def diagnose(mistakes: tuple[Any, ...], tolerance: Callable[[Case], Tolerance], cases: list[Case],
             outputs: list[Any], wants: list[Output], failing: list[bool]) -> tuple[str, ...]:
    """The ids of the known mistake(s) reproducing every graded case, else float32's, else none."""
    graded = [i for i, out in enumerate(outputs) if isinstance(out, dict) and ERROR_KEY not in out]
    if not any(failing[i] for i in graded):
        return ()
    best = [m for m in mistakes
            if all(_explains(m, tolerance(cases[i]), cases[i], outputs[i], wants[i], failing[i]) for i in graded)]
    if best:
        return tuple(m.id for m in best)
    verdicts = [_float32_like(cases[i], outputs[i], wants[i]) for i in graded if failing[i]]
    if verdicts and all(v is True for v in verdicts):
        return (FLOAT32[0],)
    return ()


def _explains(mistake: Any, tol: Tolerance, case: Case, out: Output, want: Output, failed: bool) -> bool:
    """Does the mistake reproduce all of this case's outputs? (Overflow-style mistakes: its pattern on failures.)"""
    if mistake.matches is not None:
        return bool(mistake.matches(case, out)) if failed else True
    try:
        wrong = mistake.kernel(case)
    except Exception:  # noqa: BLE001 - a kernel that cannot compute a case explains nothing about it
        return not failed
    if wrong is None or not set(wrong) <= set(want):
        return not failed
    if str(case.get("dtype", "float64")) == "float32" and failed:
        return all(compare(out.get(k), want[k], tol).ok if k not in wrong else _near(out.get(k), wrong[k], want[k], tol)
                   for k in want)
    return all(compare(out.get(k), {**want, **wrong}[k], tol).ok for k in want)


def _near(got: Any, wrong: Any, want: Any, tol: Tolerance) -> bool:
    """On a failing float32 case: the output matches the float64 mistake, or sits ten times closer to it than to the
    reference (float32 rounding through an ill-conditioned mistake, e.g. v - g_avg^2 with alpha swapped, can exceed
    the float32 tolerance that fits the well-conditioned reference)."""
    to_wrong = compare(got, wrong, tol)
    return to_wrong.ok or 10 * to_wrong.max_abs < compare(got, want, tol).max_abs
