"""Optimizer trajectories against hand-written loops of torch's exact update equations."""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import reference as R
from tests.reference_helpers import F64, FAST, Tensor, rand


def sgd_path(p: Tensor, grads: list[Tensor], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
             weight_decay: float = 0.0, nesterov: bool = False) -> Tensor:
    """SGD; the first momentum buffer is the raw (decayed) gradient, without dampening."""
    p, buf, out = p.clone(), None, []
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.clone() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return torch.stack(out)


def rmsprop_path(p: Tensor, grads: list[Tensor], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> Tensor:
    """RMSprop; eps is added outside the square root, after centering."""
    p, v, mean_g, buf, out = p.clone(), torch.zeros_like(p), torch.zeros_like(p), torch.zeros_like(p), []
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        mean_g = alpha * mean_g + (1 - alpha) * g
        denom = (torch.sqrt(v - mean_g**2) if centered else torch.sqrt(v)) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        out.append(p)
    return torch.stack(out)


def adam_path(p: Tensor, grads: list[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
              eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, decoupled: bool = False) -> Tensor:
    """Adam (L2 decay) or AdamW (p *= 1 - lr*wd); t is incremented before bias correction; AMSGrad keeps
    max of the raw v and divides by sqrt(v_max)/sqrt(1-b2^t) + eps."""
    b1, b2 = betas
    p, m, v, v_max, out = p.clone(), torch.zeros_like(p), torch.zeros_like(p), torch.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = torch.maximum(v_max, v)
        denom = torch.sqrt(v_max if amsgrad else v) / math.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
        out.append(p)
    return torch.stack(out)


def trajectory_case(seed: int, steps: int, scale: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A (3, 2) parameter and `steps` gradients whose magnitudes vary wildly from step to step."""
    gen = torch.Generator().manual_seed(seed)
    return rand(3, 2, gen=gen), [rand(3, 2, gen=gen, scale=scale * 10 ** (k % 3 - 1)) for k in range(steps)]


SCALES = st.sampled_from([1e-8, 1e-3, 1.0, 50.0])
RATE = st.floats(1e-4, 0.5)
FRACTION = st.floats(0.0, 0.99)


@FAST
@given(seed=st.integers(0, 999), steps=st.integers(1, 6), scale=SCALES, lr=RATE, momentum=FRACTION,
       dampening=FRACTION, weight_decay=st.floats(0.0, 0.1), nesterov=st.booleans())
def test_sgd(seed: int, steps: int, scale: float, lr: float, momentum: float, dampening: float,
             weight_decay: float, nesterov: bool) -> None:
    p0, grads = trajectory_case(seed, steps, scale)
    if nesterov:
        dampening = 0.0  # torch refuses nesterov with dampening
        momentum = max(momentum, 0.1)
    hyper: dict[str, Any] = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                 nesterov=nesterov)
    got = R.optimizer_trajectory("sgd", p0, grads, **hyper)
    torch.testing.assert_close(got, sgd_path(p0, grads, **hyper), rtol=1e-10, atol=1e-15)


@FAST
@given(seed=st.integers(0, 999), steps=st.integers(1, 6), scale=SCALES, lr=RATE, alpha=st.floats(0.5, 0.999),
       eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.floats(0.0, 0.1), momentum=FRACTION,
       centered=st.booleans())
def test_rmsprop(seed: int, steps: int, scale: float, lr: float, alpha: float, eps: float, weight_decay: float,
                 momentum: float, centered: bool) -> None:
    p0, grads = trajectory_case(seed, steps, scale)
    hyper: dict[str, Any] = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                 centered=centered)
    got = R.optimizer_trajectory("rmsprop", p0, grads, **hyper)
    torch.testing.assert_close(got, rmsprop_path(p0, grads, **hyper), rtol=1e-10, atol=1e-15)


@FAST
@given(seed=st.integers(0, 999), steps=st.integers(1, 6), scale=SCALES, lr=RATE, b1=FRACTION,
       b2=st.floats(0.5, 0.9999), eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.floats(0.0, 0.1),
       amsgrad=st.booleans(), name=st.sampled_from(["adam", "adamw"]))
def test_adam_and_adamw(seed: int, steps: int, scale: float, lr: float, b1: float, b2: float, eps: float,
                        weight_decay: float, amsgrad: bool, name: str) -> None:
    p0, grads = trajectory_case(seed, steps, scale)
    hyper: dict[str, Any] = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    got = R.optimizer_trajectory(name, p0, grads, **hyper)
    expected = adam_path(p0, grads, **hyper, decoupled=name == "adamw")
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-15)


def test_adam_first_step_with_tiny_gradients_feels_eps() -> None:
    # t = 1: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps): half of lr when |g| = eps.
    path = R.optimizer_trajectory("adam", torch.zeros(2), [torch.tensor([1e-8, -1e-8], dtype=F64)], lr=0.1)
    torch.testing.assert_close(path, torch.tensor([[-0.05, 0.05]], dtype=F64), rtol=1e-12, atol=0)


def test_sgd_first_momentum_buffer_is_raw_gradient_and_defaults_are_torchs() -> None:
    g = [torch.tensor([1.0]), torch.tensor([1.0])]
    path = R.optimizer_trajectory("sgd", torch.zeros(1), g, lr=1.0, momentum=0.9, dampening=0.5)
    torch.testing.assert_close(path[:, 0], torch.tensor([-1.0, -1.0 - (0.9 + 0.5)], dtype=F64))
    adamw = R.optimizer_trajectory("adamw", torch.ones(1), [torch.zeros(1)], lr=0.1)  # default wd = 0.01
    torch.testing.assert_close(adamw[:, 0], torch.tensor([1 - 0.1 * 0.01], dtype=F64))


def test_trajectory_accepts_stacked_grads_and_no_steps() -> None:
    p0, grads = trajectory_case(0, 3, 1.0)
    listed = R.optimizer_trajectory("adam", p0, grads, lr=0.1)
    assert torch.equal(R.optimizer_trajectory("adam", p0, torch.stack(grads), lr=0.1), listed)
    assert R.optimizer_trajectory("sgd", p0, []).shape == (0, 3, 2)


@FAST
@given(seed=st.integers(0, 999), steps=st.integers(1, 6), scale=SCALES, name=st.sampled_from(["sgd", "rmsprop", "adam",
                                                                                            "adamw"]),
       flag=st.booleans(), weight_decay=st.sampled_from([0.0, 0.1]))
def test_trajectory_is_torch_optim_step_bit_for_bit(seed: int, steps: int, scale: float, name: str, flag: bool,
                                                    weight_decay: float) -> None:
    """Skipping step()'s wrappers (no torch._dynamo import) changes nothing: the same bits as optimizer.step()."""
    p0, grads = trajectory_case(seed, steps, scale)
    flags: dict[str, dict[str, Any]] = {"sgd": {"lr": 0.1, "momentum": 0.9, "nesterov": flag},
                                         "rmsprop": {"momentum": 0.5, "centered": flag},
                                         "adam": {"lr": 0.1, "amsgrad": flag}, "adamw": {"amsgrad": flag}}
    hyper = {**flags[name], "weight_decay": weight_decay}
    param = torch.nn.Parameter(p0.clone())
    optimizer = R.optimizers.OPTIMIZERS[name][0]([param], maximize=False, foreach=False, **hyper)
    expected = []
    for g in grads:
        param.grad = g.clone()
        optimizer.step()
        expected.append(param.detach().clone())
    assert torch.equal(R.optimizer_trajectory(name, p0, grads, **hyper), torch.stack(expected))


def test_a_trajectory_does_not_import_torch_dynamo() -> None:
    """torch._dynamo costs 1.5 s to import: the grader's first judgement must not pay it."""
    import subprocess
    import sys

    script = ("import sys, torch\nfrom autograder import reference as R\n"
              "for name in R.optimizers.OPTIMIZERS:\n"
              "    R.optimizer_trajectory(name, torch.zeros(2), [torch.ones(2)])\n"
              "assert 'torch._dynamo' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
