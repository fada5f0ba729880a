"""Reference kernels against independent float64 formulas and central finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import reference as R

Tensor = torch.Tensor

F64 = torch.float64
FAST = settings(max_examples=8, deadline=None)


def rand(*shape: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """float64 normal samples from a seeded generator."""
    return torch.randn(*shape, generator=gen, dtype=F64) * scale


def numerical_grad(f: Callable[[], float], x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central differences (f(x+h e_i) - f(x-h e_i)) / 2h, perturbing x in place and restoring it."""
    grad, flat = torch.zeros_like(x), x.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        grad.view(-1)[i] = (up - down) / (2 * h)
    return grad


# ---------------------------------------------------------------- losses, vjp, MLP

ACTS = {"relu": lambda z: z.clamp(min=0), "tanh": torch.tanh, "sigmoid": lambda z: 1 / (1 + torch.exp(-z))}


def mlp_loss(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, act: str) -> float:
    """Independent forward: logsumexp(z_i) - z_i[y_i], averaged."""
    h, n_layers = x, len(params) // 2
    for l in range(1, n_layers + 1):
        h = h @ params[f"W{l}"] + params[f"b{l}"]
        h = ACTS[act](h) if l < n_layers else h
    return (torch.logsumexp(h, 1) - h[torch.arange(len(y)), y]).mean().item()


@FAST
@given(seed=st.integers(0, 2**16), act=st.sampled_from(sorted(ACTS)),
       widths=st.lists(st.integers(1, 4), min_size=2, max_size=4), n=st.integers(1, 4))
def test_mlp_matches_finite_differences(seed: int, act: str, widths: list[int], n: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for l, (i, o) in enumerate(zip(widths, widths[1:]), start=1):
        params[f"W{l}"], params[f"b{l}"] = rand(i, o, gen=gen), rand(o, gen=gen)
    x, y = rand(n, widths[0], gen=gen), torch.randint(widths[-1], (n,), generator=gen)
    loss, grads = R.mlp_loss_and_grads(params, x, y, act)
    assert loss.shape == () and loss.item() == pytest.approx(mlp_loss(params, x, y, act), rel=1e-12)
    assert list(grads) == list(params)
    for k, p in params.items():
        expected = numerical_grad(lambda: mlp_loss(params, x, y, act), p)
        torch.testing.assert_close(grads[k], expected, rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_closed_form() -> None:
    gen = torch.Generator().manual_seed(1)
    z, y = rand(5, 3, gen=gen, scale=4.0), torch.tensor([0, 2, 1, 2, 0])
    loss, dz = R.softmax_cross_entropy(z, y)
    p = torch.exp(z) / torch.exp(z).sum(1, keepdim=True)
    onehot = torch.zeros_like(z)
    onehot[torch.arange(5), y] = 1
    assert loss.item() == pytest.approx(-torch.log(p[torch.arange(5), y]).mean().item(), rel=1e-12)
    torch.testing.assert_close(dz, (p - onehot) / 5, rtol=1e-12, atol=1e-14)


def test_mse_closed_form() -> None:
    gen = torch.Generator().manual_seed(2)
    pred, target = rand(3, 4, gen=gen), rand(3, 4, gen=gen)
    loss, dpred = R.mse_loss(pred, target)
    assert loss.item() == pytest.approx(((pred - target) ** 2).sum().item() / 12, rel=1e-12)
    torch.testing.assert_close(dpred, 2 * (pred - target) / 12, rtol=1e-12, atol=0)


def test_vjp_with_upstream_scalar_and_unused_input() -> None:
    gen = torch.Generator().manual_seed(3)
    a, b, u = rand(2, 3, gen=gen), rand(2, 3, gen=gen), rand(2, 3, gen=gen)
    out, (da, db) = R.vjp(lambda s, t: torch.sin(s) * t, [a, b], u)
    torch.testing.assert_close(out, torch.sin(a) * b)
    torch.testing.assert_close(da, torch.cos(a) * b * u)
    torch.testing.assert_close(db, torch.sin(a) * u)
    out, (da, db) = R.vjp(lambda s, t: (s**3).sum(), [a, b])
    assert out.shape == () and torch.equal(db, torch.zeros_like(b))
    torch.testing.assert_close(da, 3 * a**2)
    _, (dconst,) = R.vjp(lambda s: torch.ones(()), [a])  # output ignores its input
    assert torch.equal(dconst, torch.zeros_like(a))


# ---------------------------------------------------------------- RNN

def rnn_states(x: Tensor, h0: Tensor, wx: Tensor, wh: Tensor, b: Tensor) -> Tensor:
    """Independent forward via einsum, time step by time step."""
    h, out = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(torch.einsum("nd,dh->nh", x[:, t], wx) + torch.einsum("nk,kh->nh", h, wh) + b)
        out.append(h)
    return torch.stack(out, 1)


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(1, 3),
       hidden=st.integers(1, 3))
def test_rnn_forward_and_bptt(seed: int, n: int, t: int, d: int, hidden: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    args = [rand(n, t, d, gen=gen), rand(n, hidden, gen=gen), rand(d, hidden, gen=gen),
            rand(hidden, hidden, gen=gen), rand(hidden, gen=gen)]
    dh = rand(n, t, hidden, gen=gen)
    torch.testing.assert_close(R.rnn_forward(*args), rnn_states(*args), rtol=1e-12, atol=1e-14)
    grads = R.rnn_backward(*args, dh)
    for arg, grad in zip(args, grads):
        expected = numerical_grad(lambda: (rnn_states(*args) * dh).sum().item(), arg)
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_rnn_with_no_time_steps() -> None:
    x, h0 = torch.zeros(2, 0, 3, dtype=F64), torch.ones(2, 4, dtype=F64)
    args = [x, h0, torch.ones(3, 4), torch.ones(4, 4), torch.ones(4)]
    assert R.rnn_forward(*args).shape == (2, 0, 4)
    grads = R.rnn_backward(*args, torch.zeros(2, 0, 4))
    assert [tuple(g.shape) for g in grads] == [(2, 0, 3), (2, 4), (3, 4), (4, 4), (4,)]
    assert all(torch.count_nonzero(g) == 0 for g in grads)


# ---------------------------------------------------------------- optimizers (torch's exact equations, by hand)

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
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    got = R.optimizer_trajectory("sgd", p0, grads, **hyper)
    torch.testing.assert_close(got, sgd_path(p0, grads, **hyper), rtol=1e-10, atol=1e-15)


@FAST
@given(seed=st.integers(0, 999), steps=st.integers(1, 6), scale=SCALES, lr=RATE, alpha=st.floats(0.5, 0.999),
       eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.floats(0.0, 0.1), momentum=FRACTION,
       centered=st.booleans())
def test_rmsprop(seed: int, steps: int, scale: float, lr: float, alpha: float, eps: float, weight_decay: float,
                 momentum: float, centered: bool) -> None:
    p0, grads = trajectory_case(seed, steps, scale)
    hyper = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
    got = R.optimizer_trajectory("rmsprop", p0, grads, **hyper)
    torch.testing.assert_close(got, rmsprop_path(p0, grads, **hyper), rtol=1e-10, atol=1e-15)


@FAST
@given(seed=st.integers(0, 999), steps=st.integers(1, 6), scale=SCALES, lr=RATE, b1=FRACTION,
       b2=st.floats(0.5, 0.9999), eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.floats(0.0, 0.1),
       amsgrad=st.booleans(), name=st.sampled_from(["adam", "adamw"]))
def test_adam_and_adamw(seed: int, steps: int, scale: float, lr: float, b1: float, b2: float, eps: float,
                        weight_decay: float, amsgrad: bool, name: str) -> None:
    p0, grads = trajectory_case(seed, steps, scale)
    hyper = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
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


# ---------------------------------------------------------------- norms and clipping

def global_norm(grads: list[torch.Tensor | None], p: float) -> torch.Tensor:
    """The p-norm of all entries of all non-None gradients, as one long vector."""
    flat = torch.cat([g.reshape(-1).to(F64) for g in grads if g is not None])
    return flat.abs().max() if math.isinf(p) else (flat.abs() ** p).sum() ** (1 / p)


@FAST
@given(seed=st.integers(0, 999), p=st.sampled_from([1.0, 2.0, 3.0, math.inf]), ratio=st.floats(0.1, 3.0),
       with_none=st.booleans())
def test_grad_norm_and_clip_grad_norm(seed: int, p: float, ratio: float, with_none: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    grads: list[torch.Tensor | None] = [rand(3, 2, gen=gen), rand(4, gen=gen, scale=5.0), rand((), gen=gen)]
    if with_none:
        grads.insert(1, None)
    total = global_norm(grads, p)
    torch.testing.assert_close(R.grad_norm(grads, p), total, rtol=1e-12, atol=0)
    max_norm = ratio * total.item()
    clipped, pre = R.clip_grad_norm(grads, max_norm, norm_type=p)
    coef = min(1.0, max_norm / (total.item() + 1e-6))
    torch.testing.assert_close(pre, total, rtol=1e-12, atol=0)
    assert [c is None for c in clipped] == [g is None for g in grads]
    for c, g in zip(clipped, grads):
        if g is not None:
            torch.testing.assert_close(c, g * coef, rtol=1e-12, atol=0)


def test_clip_at_and_around_max_norm() -> None:
    g = [torch.tensor([3.0, 4.0], dtype=F64)]  # norm exactly 5
    at, _ = R.clip_grad_norm(g, 5.0)  # torch still scales by 5 / (5 + 1e-6) at the threshold
    torch.testing.assert_close(at[0], g[0] * 5 / (5 + 1e-6), rtol=1e-14, atol=0)
    below, _ = R.clip_grad_norm(g, 5.0 + 1e-3)
    assert torch.equal(below[0], g[0])
    barely_below, _ = R.clip_grad_norm(g, 5.0 + 1e-7)  # within 1e-6 of the norm: still scaled
    torch.testing.assert_close(barely_below[0], g[0] * (5.0 + 1e-7) / (5 + 1e-6), rtol=1e-14, atol=0)
    assert torch.linalg.vector_norm(barely_below[0]).item() < 5.0
    above, total = R.clip_grad_norm(g, 5.0 - 1e-3)
    assert total.item() == 5.0
    torch.testing.assert_close(above[0], g[0] * (5.0 - 1e-3) / (5 + 1e-6), rtol=1e-14, atol=0)


def test_nonfinite_gradients() -> None:
    for bad in (math.inf, math.nan):
        grads = [torch.tensor([1.0, bad], dtype=F64), torch.tensor([2.0], dtype=F64)]
        with pytest.raises(RuntimeError):
            R.clip_grad_norm(grads, 1.0, error_if_nonfinite=True)
        clipped, total = R.clip_grad_norm(grads, 1.0)
        assert not torch.isfinite(total)
        # inf total: coefficient 1/inf = 0, so finite entries become 0 and inf * 0 = nan; nan spreads to all
        expected_finite = 0.0 if bad == math.inf else math.nan
        torch.testing.assert_close(clipped[1], torch.tensor([expected_finite], dtype=F64), equal_nan=True)
        assert torch.isnan(clipped[0][1])
    inf_norm = R.grad_norm([torch.tensor([1.0, -math.inf])], math.inf)
    assert inf_norm.item() == math.inf


def test_clip_grad_value_and_empty_inputs() -> None:
    g = [torch.tensor([-3.0, 0.5, 2.0]), None, torch.zeros(0)]
    clipped = R.clip_grad_value(g, 1.0)
    torch.testing.assert_close(clipped[0], torch.tensor([-1.0, 0.5, 1.0], dtype=F64))
    assert clipped[1] is None and clipped[2].shape == (0,)
    for grads in ([], [None, None]):
        assert R.grad_norm(grads).item() == 0.0 and R.grad_norm(grads).shape == ()
        assert R.clip_grad_norm(grads, 1.0) == (grads, torch.tensor(0.0, dtype=F64))
    assert R.grad_norm([torch.zeros(0)], math.inf).item() == 0.0


# ---------------------------------------------------------------- purity, dtype, device

def every_kernel(dtype: torch.dtype) -> list[tuple[str, Callable[[], object], list[torch.Tensor]]]:
    """One call of each kernel on fresh inputs of `dtype`, with the tensors it must leave untouched."""
    gen = torch.Generator().manual_seed(4)

    def r(*shape: int) -> torch.Tensor:
        return rand(*shape, gen=gen).to(dtype)
    params = {"W1": r(3, 4), "b1": r(4), "W2": r(4, 2), "b2": r(2)}
    x, y, z = r(5, 3), torch.tensor([0, 1, 1, 0, 1]), r(5, 2)
    rnn = [r(2, 3, 3), r(2, 4), r(3, 4), r(4, 4), r(4)]
    dh, p0, grads = r(2, 3, 4), r(3), [r(3), r(3)]
    return [
        ("mlp", lambda: R.mlp_loss_and_grads(params, x, y, "tanh"), [*params.values(), x, y]),
        ("xent", lambda: R.softmax_cross_entropy(z, y), [z, y]),
        ("mse", lambda: R.mse_loss(z, z.flip(0)), [z]),
        ("vjp", lambda: R.vjp(torch.exp, [z], z), [z]),
        ("rnn_forward", lambda: R.rnn_forward(*rnn), rnn),
        ("rnn_backward", lambda: R.rnn_backward(*rnn, dh), [*rnn, dh]),
        ("optimizer", lambda: R.optimizer_trajectory("adam", p0, grads, lr=0.1, weight_decay=0.1), [p0, *grads]),
        ("grad_norm", lambda: R.grad_norm(grads), grads),
        ("clip_norm", lambda: R.clip_grad_norm(grads, 0.1), grads),
        ("clip_value", lambda: R.clip_grad_value(grads, 0.1), grads),
    ]


def output_tensors(result: object) -> list[torch.Tensor]:
    """Every tensor inside a kernel's (nested) result."""
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (list, tuple)):
        return [t for item in result for t in output_tensors(item)]
    return []


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernels_never_mutate_and_return_float64(dtype: torch.dtype) -> None:
    for name, call, inputs in every_kernel(dtype):
        before = [t.clone() for t in inputs]
        outputs = output_tensors(call())
        assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(inputs, before)), name
        assert outputs and all(o.dtype == F64 and o.device == inputs[0].device for o in outputs), name
        assert not any(o.requires_grad for o in outputs), name
        ids = {id(t) for t in inputs}
        assert all(id(o) not in ids for o in outputs), f"{name} returned one of its inputs"


# ---------------------------------------------------------------- bad input: ValueError naming the argument

_f, _i = torch.ones(2, 3), torch.ones(2, 3, dtype=torch.int64)
_P = {"W1": torch.ones(3, 4), "b1": torch.ones(4), "W2": torch.ones(4, 2), "b2": torch.ones(2)}
_Y = torch.tensor([0, 1])
_RNN = [torch.ones(2, 3, 5), torch.ones(2, 4), torch.ones(5, 4), torch.ones(4, 4), torch.ones(4)]


def _rnn_with(i: int, bad: object) -> list[object]:
    """The valid RNN arguments with argument i replaced by `bad`."""
    return [bad if k == i else t for k, t in enumerate(_RNN)]


BAD_CALLS: list[tuple[str, Callable[[], object]]] = [
    ("activation must be one of 'relu', 'tanh', 'sigmoid', got 'gelu'", lambda: R.mlp_loss_and_grads(_P, _f, _Y, "gelu")),
    ("params must have keys", lambda: R.mlp_loss_and_grads({"W1": _P["W1"], "b1": _P["b1"], "W3": _P["W2"], "b3": _P["b2"]}, _f, _Y)),
    ("params must be a non-empty dict", lambda: R.mlp_loss_and_grads({}, _f, _Y)),
    ("params['W2'] must have shape (4, out)", lambda: R.mlp_loss_and_grads({**_P, "W2": torch.ones(3, 2)}, _f, _Y)),
    ("params['b1'] must have shape (4,)", lambda: R.mlp_loss_and_grads({**_P, "b1": torch.ones(3)}, _f, _Y)),
    ("params['W1'] must be a floating-point tensor", lambda: R.mlp_loss_and_grads({**_P, "W1": torch.ones(3, 4, dtype=torch.int64)}, _f, _Y)),
    ("x must be a floating-point tensor", lambda: R.mlp_loss_and_grads(_P, _i, _Y)),
    ("x must be 2-D", lambda: R.mlp_loss_and_grads(_P, torch.ones(3), _Y)),
    ("x must have at least one row", lambda: R.mlp_loss_and_grads(_P, torch.ones(0, 3), _Y[:0])),
    ("y must be an int64 tensor", lambda: R.mlp_loss_and_grads(_P, _f, _Y.float())),
    ("y must be an int64 tensor", lambda: R.mlp_loss_and_grads(_P, _f, _Y.int())),
    ("y must have shape (2,)", lambda: R.mlp_loss_and_grads(_P, _f, torch.tensor([0, 1, 1]))),
    ("y must hold labels in [0, 2)", lambda: R.mlp_loss_and_grads(_P, _f, torch.tensor([0, 2]))),
    ("logits must be a floating-point tensor", lambda: R.softmax_cross_entropy(_i, _Y)),
    ("logits must be 2-D", lambda: R.softmax_cross_entropy(torch.ones(3), _Y)),
    ("y must be an int64 tensor", lambda: R.softmax_cross_entropy(_f, torch.tensor([True, False]))),
    ("target must have shape (2, 3)", lambda: R.mse_loss(_f, torch.ones(3, 2))),
    ("pred must be a floating-point tensor", lambda: R.mse_loss(_f.bool(), _f)),
    ("fn must be callable", lambda: R.vjp("exp", [_f])),
    ("inputs must be a list or tuple", lambda: R.vjp(torch.exp, _f)),
    ("inputs[1] must be a floating-point tensor", lambda: R.vjp(torch.mul, [_f, _i])),
    ("upstream must be given", lambda: R.vjp(torch.exp, [_f])),
    ("upstream must have shape (2, 3)", lambda: R.vjp(torch.exp, [_f], torch.ones(3))),
    ("fn must return a floating-point tensor", lambda: R.vjp(lambda t: t.tolist(), [_f])),
    ("x must be 3-D", lambda: R.rnn_forward(*_rnn_with(0, torch.ones(2, 5)))),
    ("x must be a floating-point tensor", lambda: R.rnn_forward(*_rnn_with(0, torch.ones(2, 3, 5, dtype=torch.int32)))),
    ("h0 must have shape (2, 4)", lambda: R.rnn_forward(*_rnn_with(1, torch.ones(3, 4)))),
    ("Wx must have shape (5, 4)", lambda: R.rnn_forward(*_rnn_with(2, torch.ones(4, 4)))),
    ("Wh must have shape (4, 4)", lambda: R.rnn_forward(*_rnn_with(3, torch.ones(4, 5)))),
    ("b must have shape (4,)", lambda: R.rnn_backward(*_rnn_with(4, torch.ones(1, 4)), torch.ones(2, 3, 4))),
    ("dh must have shape (2, 3, 4)", lambda: R.rnn_backward(*_RNN, torch.ones(2, 4))),
    ("h0 must be on cpu", lambda: R.rnn_forward(*_rnn_with(1, torch.ones(2, 4, device="meta")))),
    ("name must be one of 'sgd', 'rmsprop', 'adam', 'adamw', got 'lamb'", lambda: R.optimizer_trajectory("lamb", _f, [_f])),
    ("hyper-parameter 'beta1' is not one adam accepts", lambda: R.optimizer_trajectory("adam", _f, [_f], beta1=0.9)),
    ("hyper-parameter 'betas' is not one sgd accepts", lambda: R.optimizer_trajectory("sgd", _f, [_f], betas=(0.9, 0.9))),
    ("param0 must be a floating-point tensor", lambda: R.optimizer_trajectory("sgd", _i, [_f])),
    ("grads[1] must have shape (2, 3)", lambda: R.optimizer_trajectory("sgd", _f, [_f, torch.ones(3)])),
    ("grads[0] must be a torch.Tensor, got NoneType", lambda: R.optimizer_trajectory("sgd", _f, [None])),
    ("grads must be a list", lambda: R.optimizer_trajectory("sgd", _f, 3)),
    ("grads must be a list or tuple", lambda: R.grad_norm(_f)),
    ("grads[1] must be a torch.Tensor, got str", lambda: R.grad_norm([_f, "g"])),
    ("grads[0] must be a floating-point tensor", lambda: R.clip_grad_value([_i], 1.0)),
    ("grads[1] must be on cpu", lambda: R.clip_grad_norm([_f, torch.ones(2, device="meta")], 1.0)),
    ("norm_type must be a positive float or float('inf'), got 0", lambda: R.grad_norm([_f], 0)),
    ("norm_type must be a positive float", lambda: R.grad_norm([_f], -2.0)),
    ("norm_type must be a positive float", lambda: R.grad_norm([_f], math.nan)),
    ("norm_type must be a positive float", lambda: R.clip_grad_norm([_f], 1.0, norm_type="two")),
    ("norm_type must be a positive float", lambda: R.clip_grad_norm([_f], 1.0, norm_type=True)),
    ("max_norm must be a real number >= 0, got -1.0", lambda: R.clip_grad_norm([_f], -1.0)),
    ("max_norm must be a real number >= 0", lambda: R.clip_grad_norm([_f], math.nan)),
    ("max_norm must be a real number >= 0", lambda: R.clip_grad_norm([_f], torch.tensor(1.0))),
    ("error_if_nonfinite must be True or False", lambda: R.clip_grad_norm([_f], 1.0, error_if_nonfinite="yes")),
    ("clip_value must be a real number >= 0", lambda: R.clip_grad_value([_f], -0.5)),
]


@pytest.mark.parametrize(("message", "call"), BAD_CALLS, ids=[m[:40] for m, _ in BAD_CALLS])
def test_bad_input_raises_value_error_naming_the_argument(message: str, call: Callable[[], object]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_torch_value_checks_propagate() -> None:
    with pytest.raises(ValueError, match="Nesterov"):
        R.optimizer_trajectory("sgd", _f, [_f], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        R.optimizer_trajectory("adam", _f, [_f], lr=-1.0)
    assert R.grad_norm([torch.tensor([3.0, -4.0])], "inf").item() == 4.0  # torch's spelling of inf works too
