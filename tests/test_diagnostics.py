"""gradient_health against hand computation and torch.autograd; its flags on sick models; hooks always removed."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from autograder import reference as R
from autograder.diagnostics import Thresholds, gradient_health
from tests.reference_helpers import F64, FAST

mse = nn.functional.mse_loss


def mlp(widths: list[int], act: type[nn.Module] = nn.Tanh, seed: int = 0, gain: float = 1.0) -> nn.Sequential:
    """A float64 MLP with `act` between Linear layers; weights multiplied by `gain`."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers += [nn.Linear(a, b)] + ([act()] if k < len(widths) - 2 else [])
    model = nn.Sequential(*layers).to(F64)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(gain)
    return model


def linear(model: nn.Module, k: int) -> nn.Linear:
    """model[k], checked to be a Linear (so its weight and bias are tensors)."""
    layer = model[k] if isinstance(model, nn.Sequential) else None
    assert isinstance(layer, nn.Linear)
    return layer


def data(n: int, d_in: int, d_out: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded float64 inputs and targets."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=gen, dtype=F64), torch.randn(n, d_out, generator=gen, dtype=F64)


def hook_count(model: nn.Module) -> int:
    """Forward, backward and pre-hooks still registered anywhere in the model."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


@FAST
@given(seed=st.integers(0, 999), depth=st.integers(1, 4), width=st.integers(1, 9),
       act=st.sampled_from([nn.Tanh, nn.ReLU, nn.Sigmoid]))
def test_norms_match_autograd(seed: int, depth: int, width: int, act: type[nn.Module]) -> None:
    model = mlp([3] + [width] * depth + [2], act, seed)
    batch = data(17, 3, 2, seed)
    report = gradient_health(model, mse, batch)
    loss = mse(model(batch[0]), batch[1])
    loss.backward()
    assert report.loss == pytest.approx(loss.item(), rel=1e-12)
    grads = [p.grad for p in model.parameters()]
    assert report.total_grad_norm == pytest.approx(R.grad_norm(grads).item(), rel=1e-12)
    for ph, (name, p) in zip(report.params, model.named_parameters(), strict=True):
        assert p.grad is not None
        assert ph.name == name and ph.shape == tuple(p.shape) and ph.has_grad
        assert ph.grad_norm == pytest.approx(math.sqrt((p.grad ** 2).sum().item()), rel=1e-12, abs=1e-300)
        assert ph.weight_norm == pytest.approx(math.sqrt((p.detach() ** 2).sum().item()), rel=1e-12)
        assert ph.ratio == pytest.approx(ph.grad_norm / ph.weight_norm, rel=1e-12)
        assert ph.nonfinite_fraction == 0.0
    assert len(report.layers) == depth and hook_count(model) == 0


def test_activation_gradient_norm_is_dloss_dactivation() -> None:
    model = mlp([3, 5, 5, 1], nn.Tanh)
    x, y = data(8, 3, 1)
    report = gradient_health(model, mse, (x, y))
    h1 = model[1](model[0](x))
    h1.retain_grad()
    h2 = model[3](model[2](h1))
    h2.retain_grad()
    mse(model[4](h2), y).backward()
    assert h1.grad is not None and h2.grad is not None
    assert [a.grad_norm for a in report.layers] == pytest.approx([h1.grad.norm().item(), h2.grad.norm().item()],
                                                                 rel=1e-12)
    assert [a.std for a in report.layers] == pytest.approx([h1.std().item(), h2.std().item()], rel=1e-12)


def test_model_grads_are_left_untouched() -> None:
    model = mlp([3, 4, 1])
    sentinel = [torch.full_like(p, 7.0) for p in model.parameters()]
    for p, s in zip(model.parameters(), sentinel, strict=True):
        p.grad = s.clone()
    gradient_health(model, mse, data(5, 3, 1))
    assert all(p.grad is not None and torch.equal(p.grad, s) for p, s in zip(model.parameters(), sentinel, strict=True))
    fresh = mlp([3, 4, 1])
    gradient_health(fresh, mse, data(5, 3, 1))
    assert all(p.grad is None for p in fresh.parameters())


def test_healthy_model_has_no_flags() -> None:
    for act in (nn.Tanh, nn.ReLU, nn.Sigmoid):
        report = gradient_health(mlp([4, 32, 32, 1], act), mse, data(64, 4, 1))
        assert report.healthy, report.render()


def test_dead_relu_layer_is_flagged_and_named() -> None:
    model = mlp([4, 16, 16, 1], nn.ReLU)
    with torch.no_grad():
        linear(model, 2).bias.fill_(-100.0)  # the second ReLU never fires
    report = gradient_health(model, mse, data(64, 4, 1))
    assert [(f.kind, f.where) for f in report.flags if f.kind == "dead units"] == [("dead units", "3")]
    assert report.layers[1].dead_fraction == 1.0 and report.layers[0].dead_fraction == 0.0
    assert "vanishing" in report.flag_kinds  # nothing below the dead layer gets a gradient


@FAST
@given(n=st.integers(1, 20), data_=st.data())
def test_dead_fraction_counts_units_never_active(n: int, data_: st.DataObject) -> None:
    dead = data_.draw(st.integers(0, n))
    lin = nn.Linear(3, n).to(F64)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([-1.0] * dead + [1.0] * (n - dead), dtype=F64))
    model = nn.Sequential(lin, nn.ReLU(), nn.Linear(n, 1).to(F64))
    report = gradient_health(model, mse, data(6, 3, 1), Thresholds(dead_fraction=2.0))
    assert report.layers[0].dead_fraction == dead / n
    assert "dead units" not in report.flag_kinds  # the threshold 2.0 can never be exceeded


def test_dead_channels_of_a_conv_along_unit_dim() -> None:
    conv = nn.Conv2d(1, 4, 3).to(F64)
    assert conv.bias is not None
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([-50.0, -50.0, -50.0, 0.0], dtype=F64))
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.LazyLinear(1, dtype=F64))
    x = torch.randn(5, 1, 6, 6, dtype=F64)
    model(x)  # materialise the lazy layer
    report = gradient_health(model, mse, (x, torch.zeros(5, 1, dtype=F64)))
    assert report.layers[0].dead_fraction == 0.75 and "dead units" in report.flag_kinds


@FAST
@given(scale=st.floats(0.1, 20.0), seed=st.integers(0, 99), sigmoid=st.booleans())
def test_saturated_fraction_counts_entries_near_the_asymptotes(scale: float, seed: int, sigmoid: bool) -> None:
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)
    lin = nn.Linear(3, 3).to(F64)
    act = nn.Sigmoid() if sigmoid else nn.Tanh()
    report = gradient_health(nn.Sequential(lin, act), mse, (x * scale, torch.zeros(40, 3, dtype=F64)))
    a = act(lin(x * scale))
    expected = ((2 * a - 1).abs() > 0.99 if sigmoid else a.abs() > 0.99).double().mean().item()
    assert report.layers[0].saturated_fraction == expected
    assert ("saturated" in report.flag_kinds) == (expected > 0.25)


def test_huge_init_relu_is_flagged_exploding() -> None:
    report = gradient_health(mlp([4, 32, 32, 32, 1], nn.ReLU, gain=10.0), mse, data(64, 4, 1))
    assert "exploding" in report.flag_kinds and "non-finite" not in report.flag_kinds
    assert all(f.kind != "exploding" or f.where.endswith("weight") for f in report.flags)


def test_huge_init_tanh_is_flagged_saturated() -> None:
    report = gradient_health(mlp([4, 32, 32, 1], nn.Tanh, gain=20.0), mse, data(64, 4, 1))
    assert "saturated" in report.flag_kinds


def test_deep_sigmoid_is_flagged_vanishing() -> None:
    report = gradient_health(mlp([4] + [16] * 20 + [1], nn.Sigmoid), mse, data(64, 4, 1))
    flag = next(f for f in report.flags if f.kind == "vanishing")
    assert flag.where == "0.weight"  # the first layer is furthest from the loss


@pytest.mark.parametrize("where", ["input", "weight", "target"])
def test_nan_is_flagged_non_finite(where: str) -> None:
    model = mlp([3, 4, 1])
    x, y = data(6, 3, 1)
    if where == "input":
        x[2, 1] = math.nan
    elif where == "target":
        y[0, 0] = math.inf
    else:
        with torch.no_grad():
            linear(model, 2).weight[0, 0] = math.nan
    report = gradient_health(model, mse, (x, y))
    assert "non-finite" in report.flag_kinds and report.flags[0].where == "loss"
    assert any(p.nonfinite_fraction > 0 for p in report.params)
    assert "exploding" not in report.flag_kinds  # nan/inf ratios are not judged twice


def test_hooks_removed_after_errors() -> None:
    model = mlp([3, 4, 4, 1], nn.ReLU)

    def boom(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("loss failed")

    with pytest.raises(RuntimeError, match="loss failed"):
        gradient_health(model, boom, data(4, 3, 1))
    assert hook_count(model) == 0
    with pytest.raises(RuntimeError):
        gradient_health(model, mse, data(4, 5, 1))  # wrong input width: the forward pass fails
    assert hook_count(model) == 0
    with pytest.raises(ValueError, match="one-element tensor"):
        gradient_health(model, lambda o, t: (o - t) ** 2, data(4, 3, 1))
    assert hook_count(model) == 0


def test_bad_arguments_are_named() -> None:
    model = mlp([3, 1])
    with pytest.raises(ValueError, match="model must be"):
        gradient_health("net", mse, data(4, 3, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch must be a pair"):
        gradient_health(model, mse, data(4, 3, 1)[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="depends on the parameters"):
        gradient_health(model, lambda o, t: torch.tensor(1.0), data(4, 3, 1))
    frozen = mlp([3, 1]).requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter"):
        gradient_health(frozen, mse, data(4, 3, 1))


def test_shared_module_and_unused_parameter_and_render() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.act, self.unused = nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.lin(self.act(self.lin(x))))

    report = gradient_health(Net().to(F64), mse, data(4, 3, 3))
    assert [a.name for a in report.layers] == ["act", "act (call 2)"]
    unused = [p for p in report.params if p.name.startswith("unused")]
    assert unused and all(not p.has_grad and p.grad_norm == 0.0 for p in unused)
    text = report.render()
    assert "no grad" in text and "act (call 2)" in text and "healthy" in text and str(report) == text
    sick = gradient_health(mlp([4, 16, 1], nn.ReLU, gain=1e3), mse, data(8, 4, 1))
    assert "! exploding" in sick.render()
