"""Hand-written `clipping` students, one per named mistake, and the look-alikes that must not get a wrong name."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch

from tests.test_mistake_names import Variant, assert_named, assert_not_named, grade


def _present(grads):
    return [g for g in grads if g is not None]


def grad_norm(grads, norm_type=2.0, bug=None):
    """The global p-norm, written the textbook way; bug switches for the norm mistakes."""
    present = _present(grads)
    if not present:
        return torch.tensor(0.0)
    if bug == "per_tensor":  # ||g_1|| + ||g_2|| + ...
        return sum(torch.linalg.vector_norm(g, norm_type) for g in present)
    if bug == "no_root":  # sum |g|^p, the p-th root forgotten (the max for inf is right)
        if norm_type == float("inf"):
            return torch.stack([g.abs().max() for g in present]).max()
        return sum((g.abs() ** norm_type).sum() for g in present)
    p = 2.0 if bug == "ignore_p" else norm_type
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, p) for g in present]), p)


def clip(grads, max_norm, norm_type=2.0, error_if_nonfinite=False, bug=None):
    """clip_grad_norm like torch, with a switch for each student bug below."""
    total = grad_norm(grads, 2.0 if bug == "ignore_p" else norm_type)
    if error_if_nonfinite and not torch.isfinite(total) and bug != "raise_late":
        raise RuntimeError("the total norm is not finite")
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    if bug == "only_above":
        if not total > max_norm:
            return total
    elif bug == "no_eps":
        coef = torch.clamp(max_norm / total, max=1.0)
    elif bug == "minus_eps":
        coef = torch.clamp(max_norm / (total - 1e-6), max=1.0)
    elif bug == "no_clamp":
        coef = max_norm / (total + 1e-6)
    elif bug in ("python_min", "python_min_minus"):
        coef = min(1.0, max_norm / (float(total) + (-1e-6 if bug == "python_min_minus" else 1e-6)))
    for g in grads:
        if g is None:
            continue
        if bug == "per_tensor":
            g.mul_(torch.clamp(max_norm / (torch.linalg.vector_norm(g, norm_type) + 1e-6), max=1.0))
        elif bug == "copies":
            g = g * coef
        elif bug == "divide_if_above":
            if total > max_norm:
                g.div_(total / max_norm)
        else:
            g.mul_(coef)
    if bug == "raise_late" and error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError("the total norm is not finite")
    return total * coef if bug == "post_clip" else total


def clamp_each(grads, clip_value, bug=None):
    """clip_grad_value like torch, with bug switches."""
    for g in grads:
        if g is None:
            continue
        if bug == "upper":
            g.clamp_(max=clip_value)
        elif bug == "abs":
            g.copy_(g.abs().clamp(max=clip_value))
        elif bug == "copies":
            g = g.clamp(-clip_value, clip_value)
        else:
            g.clamp_(-clip_value, clip_value)


def _norm(bug: str) -> dict[str, Callable[..., Any]]:
    return {"grad_norm": functools.partial(grad_norm, bug=bug)}


def _clip(bug: str) -> dict[str, Callable[..., Any]]:
    return {"clip_grad_norm": functools.partial(clip, bug=bug)}


def _value(bug: str) -> dict[str, Callable[..., Any]]:
    return {"clip_grad_value": functools.partial(clamp_each, bug=bug)}


_CLIP_BUGS = {
    "scaled only when total > max_norm": "only_above",
    "per-tensor instead of global norm": "per_tensor",
    "missing 1e-6": "no_eps",
    "1e-6 subtracted instead of added": "minus_eps",
    "scale factor not clamped at 1": "no_clamp",
    "a NaN scale factor dropped (Python's min(1.0, nan) is 1.0)": "python_min",
    "clipped copies instead of in-place changes": "copies",
    "returning the post-clip norm": "post_clip",
}
NAMED: list[Variant] = [
    ("grad_norm", "per-tensor instead of global norm (per-tensor norms added)", _norm("per_tensor")),
    ("grad_norm", "p-th root missing (sum of |g|^p, e.g. the squared 2-norm)", _norm("no_root")),
    ("grad_norm", "norm_type ignored (always the 2-norm)", _norm("ignore_p")),
    *[(q, name, _clip(bug)) for name, bug in _CLIP_BUGS.items()
      for q in ("clip_grad_norm_basic", "clip_grad_norm_flags")],
    ("clip_grad_norm_flags", "norm_type ignored (always the 2-norm)", _clip("ignore_p")),
    ("clip_grad_norm_flags", "gradients changed before raising", _clip("raise_late")),
    ("clip_grad_value", "only the upper side clamped", _value("upper")),
    ("clip_grad_value", "sign lost (|g| clamped)", _value("abs")),
    ("clip_grad_value", "clipped copies instead of in-place changes", _value("copies")),
]


@pytest.mark.parametrize(("grade_id", "name", "functions"), NAMED, ids=[f"{g}:{n}" for g, n, _ in NAMED])
def test_clipping_student_gets_the_name(grade_id: str, name: str, functions: dict[str, Callable[..., Any]]) -> None:
    assert_named(grade("clipping", grade_id, functions), name)


def test_honest_student_passes() -> None:
    for grade_id in ("clip_grad_norm_basic", "clip_grad_norm_flags"):
        outcome = grade("clipping", grade_id, _clip("none"))
        assert outcome.status == "passed", outcome.text()


ONLY_ABOVE, COPIES = "scaled only when total > max_norm", "clipped copies instead of in-place changes"
LOOK_ALIKES = [
    # - 1e-6 AND Python's min(): two bugs, so no single name fits; above all not "only when total > max_norm"
    ("python_min_minus", (ONLY_ABOVE, "1e-6 subtracted instead of added", COPIES)),
    # the tensors did change (divided in place, only above max_norm, no 1e-6): never "clipped copies"
    ("divide_if_above", (COPIES, ONLY_ABOVE, "missing 1e-6")),
]


@pytest.mark.parametrize(("bug", "wrong"), LOOK_ALIKES, ids=[b for b, _ in LOOK_ALIKES])
@pytest.mark.parametrize("grade_id", ["clip_grad_norm_basic", "clip_grad_norm_flags"])
def test_look_alikes_do_not_get_a_wrong_name(grade_id: str, bug: str, wrong: tuple[str, ...]) -> None:
    assert_not_named(grade("clipping", grade_id, _clip(bug)), *wrong)


@pytest.mark.parametrize("grade_id", ["clip_grad_norm_basic", "clip_grad_norm_flags"])
def test_minus_eps_and_python_min_are_not_called_only_above(grade_id: str) -> None:
    """The issue's two mislabelled students, each with its own single bug, get their own name only."""
    for bug, name in (("minus_eps", "1e-6 subtracted instead of added"),
                      ("python_min", "a NaN scale factor dropped (Python's min(1.0, nan) is 1.0)")):
        outcome = grade("clipping", grade_id, _clip(bug))
        assert outcome.names() == (name,), outcome.text()
