"""The input guard's comparison: what counts as an unchanged input (autograder/checks/guard.py)."""

from __future__ import annotations

import torch

from autograder.checks import guard


def test_same_values_are_the_same() -> None:
    a = torch.randn(3, 4, dtype=torch.float64)
    assert guard.same(a, a.clone())


def test_nan_where_nan_was_is_unchanged() -> None:
    a = torch.tensor([1.0, float("nan"), 3.0])
    assert guard.same(a, a.clone())


def test_nan_moved_or_added_is_a_change() -> None:
    a = torch.tensor([1.0, float("nan"), 3.0])
    assert not guard.same(torch.tensor([float("nan"), 2.0, 3.0]), a)
    assert not guard.same(torch.tensor([1.0, 2.0, float("nan")]), torch.tensor([1.0, 2.0, 3.0]))


def test_one_changed_value_dtype_or_shape_is_a_change() -> None:
    a = torch.arange(6, dtype=torch.float64)
    changed = a.clone()
    changed[4] += 1e-12
    assert not guard.same(changed, a)
    assert not guard.same(a.float(), a)
    assert not guard.same(a.view(2, 3), a)


def test_signed_zero_and_integers_compare_by_value() -> None:
    assert guard.same(torch.tensor([-0.0]), torch.tensor([0.0]))
    assert guard.same(torch.tensor([1, 2]), torch.tensor([1, 2]))
    assert not guard.same(torch.tensor([1, 2]), torch.tensor([1, 3]))


def test_a_tensor_subclass_is_compared_as_a_tensor() -> None:
    class Marked(torch.Tensor):
        pass

    a = torch.randn(4)
    assert guard.same(a.clone().as_subclass(Marked), a)
    assert not guard.same((a + 1).as_subclass(Marked), a)
