"""The input guard's comparison: what counts as an unchanged input (autograder/checks/guard.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
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


def _steps(k: int, write: Callable[[torch.Tensor, int], None]) -> int:
    """Watch one new input per call for k calls, as an optimizer check does; `write(earlier input, call)` may change
    one; the number of full comparisons made (ChangedInput propagates)."""
    calls = 0
    real = guard.same

    def counted(a: torch.Tensor, b: torch.Tensor) -> bool:
        nonlocal calls
        calls += 1
        return real(a, b)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guard, "same", counted)
        with guard.guarding() as watched:
            inputs = []
            for step in range(k):
                inputs.append(guard.watch("grad", torch.ones(3)))
                write(inputs[0], step)
                guard.after_call(f"call{step}", None)
            watched.finish()
    return calls


def test_an_unchanged_input_costs_one_comparison_per_case_not_one_per_call() -> None:
    # comparing every earlier input after every call was quadratic in the steps (a third of a graded question)
    assert _steps(40, lambda first, step: None) == 40


def test_an_in_place_write_to_an_earlier_input_is_reported_by_the_call_that_made_it() -> None:
    # a momentum buffer kept as the first step's grad itself, then updated in place at step 3
    def alias(first: torch.Tensor, step: int) -> None:
        if step == 3:
            first.mul_(0.9)
    with pytest.raises(guard.ChangedInput) as raised:
        _steps(10, alias)
    assert dict(raised.value.message.params) == {"function": "call3", "what": "grad"}


@pytest.mark.parametrize("write", [lambda t: t.data.mul_(2), lambda t: t.numpy().__setitem__(0, 5.0),
                                   lambda t: t.detach().numpy().__iadd__(1.0)],
                         ids=["data", "numpy", "detached-numpy"])
def test_a_write_torch_does_not_count_is_reported_at_the_end_of_the_case(
        write: Callable[[torch.Tensor], Any]) -> None:
    with pytest.raises(guard.ChangedInput, match="changed.input") as raised:
        _steps(5, lambda first, step: write(first) if step == 1 else None)
    assert dict(raised.value.message.params) == {"function": "call4", "what": "grad"}  # the last call


def test_a_write_restored_by_the_end_of_the_case_through_data_is_not_a_change() -> None:
    def write(first: torch.Tensor, step: int) -> None:
        first.data.mul_(2 if step == 1 else 0.5 if step == 2 else 1)
    assert _steps(5, write) == 5


def test_a_student_class_attribute_for_version_does_not_hide_a_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.Tensor, "_version", 0, raising=False)
    with guard.guarding():
        x = guard.watch("x", torch.ones(3))
        x.add_(1)
        with pytest.raises(guard.ChangedInput):
            guard.after_call("relu_forward", None)


def test_a_param_written_through_data_and_returned_is_the_output_not_a_change() -> None:
    with guard.guarding() as watched:
        param = guard.watch("param", torch.ones(3), may_return=True)
        param.data.add_(1)
        guard.after_call("sgd_step", param)
        watched.finish()


def test_a_param_written_through_data_and_not_returned_is_a_change() -> None:
    with guard.guarding() as watched:
        param = guard.watch("param", torch.ones(3), may_return=True)
        param.data.add_(1)
        guard.after_call("sgd_step", param + 0)
        with pytest.raises(guard.ChangedInput, match="changed.returnable"):
            watched.finish()


def test_an_input_with_no_version_counter_is_compared_after_every_call() -> None:
    with torch.inference_mode():
        x = torch.ones(3)
    with guard.guarding():
        guard.watch("x", x)
        with torch.inference_mode():
            x.add_(1)
        with pytest.raises(guard.ChangedInput):
            guard.after_call("relu_forward", None)
