"""Known wrong variants of hand-written backward passes (float64, plain tensor ops, inputs untouched)."""

from __future__ import annotations

import torch
from torch import Tensor


def linear_db_mean(dout: Tensor) -> Tensor:
    """Mistake: db averaged over the batch; the forward sums b into every row, so db = sum over rows."""
    return dout.double().mean(dim=0)


def relu_grad_at_zero(x: Tensor, dout: Tensor) -> Tensor:
    """Mistake: gradient passed where x == 0 (torch's ReLU passes it only where x > 0)."""
    return dout.double() * (x.double() >= 0)


def sigmoid_from_preactivation(x: Tensor, dout: Tensor) -> Tensor:
    """Mistake: sigma'(x) written as x (1 - x) with the pre-activation x instead of s (1 - s), s = sigma(x)."""
    x = x.double()
    return dout.double() * x * (1 - x)


def tanh_from_preactivation(x: Tensor, dout: Tensor) -> Tensor:
    """Mistake: tanh'(x) written as 1 - x^2 with the pre-activation x instead of 1 - tanh(x)^2."""
    return dout.double() * (1 - x.double() ** 2)


def tanh_one_minus_output(x: Tensor, dout: Tensor) -> Tensor:
    """Mistake: tanh'(x) written as 1 - tanh(x) instead of 1 - tanh(x)^2."""
    return dout.double() * (1 - torch.tanh(x.double()))


def sigmoid_output_only(x: Tensor, dout: Tensor) -> Tensor:
    """Mistake: sigma'(x) written as s instead of s (1 - s)."""
    return dout.double() * torch.sigmoid(x.double())


def activation_from_exp(name: str, x: Tensor, dout: Tensor) -> dict[str, Tensor]:
    """Mistake: tanh or sigmoid written with exp of the raw input (inf/inf = NaN once |x| is large)."""
    x = x.double()
    e, e_neg = x.exp(), (-x).exp()
    out = (e - e_neg) / (e + e_neg) if name == "tanh" else e / (1 + e)
    local = 1 - out ** 2 if name == "tanh" else out * (1 - out)
    return {"out": out, "dx": dout.double() * local}


def overflowed(x: Tensor, *outputs: object) -> bool:
    """True when inputs of size > 100 came back as inf/NaN (an exp-based formula overflowed)."""
    return float(torch.as_tensor(x).double().abs().max()) > 100 and has_nonfinite(*outputs)


def _softmax_ce(logits: Tensor, y: Tensor, stable: bool) -> tuple[Tensor, Tensor]:
    """Per-batch-mean cross-entropy and its gradient; stable=False exponentiates the raw logits."""
    z = logits.double()
    if stable:
        z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    p = e / e.sum(dim=1, keepdim=True)
    # stable: log-softmax, since log(p) is -inf where p underflows (logits ~1e3 apart); unstable: inf / inf = NaN
    log_p = z - e.sum(dim=1, keepdim=True).log() if stable else p.log()
    n = z.shape[0]
    loss = -log_p[torch.arange(n), y].mean()
    onehot = torch.zeros_like(p)
    onehot[torch.arange(n), y] = 1.0
    return loss, (p - onehot) / n


def ce_sum_over_batch(logits: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Mistake: summed over the batch instead of averaged (loss and gradient N times too large)."""
    loss, d = _softmax_ce(logits, y, True)
    n = logits.shape[0]
    return {"loss": loss * n, "dlogits": d * n}


def ce_mean_over_all_entries(logits: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Mistake: averaged over all N x C entries instead of over the N rows (C times too small)."""
    loss, d = _softmax_ce(logits, y, True)
    c = logits.shape[1]
    return {"loss": loss / c, "dlogits": d / c}


def ce_grad_not_averaged(logits: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Mistake: the loss is averaged but its gradient is not divided by the batch size N."""
    _, d = _softmax_ce(logits, y, True)
    return {"dlogits": d * logits.shape[0]}


def ce_unstable(logits: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Mistake: exp of the raw logits (no max subtracted): overflows to inf/NaN at logits ~1e3."""
    loss, d = _softmax_ce(logits, y, False)
    return {"loss": loss, "dlogits": d}


def has_nonfinite(*values: object) -> bool:
    """True when any of the values is a tensor/array with inf or NaN (the overflow of an unstable softmax)."""
    for v in values:
        try:
            if not bool(torch.isfinite(torch.as_tensor(v, dtype=torch.float64)).all()):
                return True
        except (TypeError, RuntimeError, ValueError):
            continue
    return False


def mse_mean_over_batch(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Mistake: summed over features and averaged over the batch only, not over all elements."""
    r = pred.double() - target.double()
    n = r.shape[0]
    return {"loss": (r ** 2).sum() / n, "dpred": 2 * r / n}


def mse_sum(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Mistake: summed instead of averaged over all elements."""
    r = pred.double() - target.double()
    return {"loss": (r ** 2).sum(), "dpred": 2 * r}


def mse_no_factor_two(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Mistake: d/dpred of mean((pred - target)^2) written without the 2."""
    r = pred.double() - target.double()
    return {"dpred": r / r.numel()}


def mse_sign_flipped(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Mistake: d/dpred written as 2 (target - pred) / numel (the sign of the residual flipped)."""
    r = pred.double() - target.double()
    return {"dpred": -2 * r / r.numel()}


_ACT = {"relu": (torch.relu, lambda a, h: (a > 0).double()),
        "tanh": (torch.tanh, lambda a, h: 1 - h ** 2),
        "sigmoid": (torch.sigmoid, lambda a, h: h * (1 - h))}


def mlp(params: dict[str, Tensor], x: Tensor, y: Tensor, activation: str = "relu",
        mistake: str | None = None) -> dict[str, Tensor]:
    """Hand-written MLP backward; mistake in {None, 'activation_after_last', 'derivative_from_preactivation'}."""
    act, dact = _ACT[activation]
    n_layers = len(params) // 2
    h, cache = x.double(), []
    for k in range(1, n_layers + 1):
        a = h @ params[f"W{k}"].double() + params[f"b{k}"].double()
        last = k == n_layers and mistake != "activation_after_last"
        out = a if last else act(a)
        cache.append((h, a, out, last))
        h = out
    loss, d = _softmax_ce(h, y, True)
    grads: dict[str, Tensor] = {}
    for k in range(n_layers, 0, -1):
        h_in, a, out, last = cache[k - 1]
        if not last:
            local = dact(a, a) if mistake == "derivative_from_preactivation" else dact(a, out)
            d = d * local
        grads[f"W{k}"], grads[f"b{k}"] = h_in.T @ d, d.sum(dim=0)
        d = d @ params[f"W{k}"].double().T
    return {"loss": loss, **{k: grads[k] for k in sorted(grads)}}


def rnn_weights_not_accumulated(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor,
                                dh: Tensor) -> dict[str, Tensor]:
    """Mistake: dWx, dWh, db overwritten at each step of the backward loop, so only t = 0 survives."""
    x, h_prev, Wx, Wh, b, dh = (t.double() for t in (x, h0, Wx, Wh, b, dh))
    states = []
    for t in range(x.shape[1]):
        h_prev = torch.tanh(x[:, t] @ Wx + h_prev @ Wh + b)
        states.append(h_prev)
    carry = torch.zeros_like(h0.double())
    out: dict[str, Tensor] = {}
    for t in range(x.shape[1] - 1, -1, -1):
        da = (dh[:, t] + carry) * (1 - states[t] ** 2)
        before = states[t - 1] if t > 0 else h0.double()
        out = {"dWx": x[:, t].T @ da, "dWh": before.T @ da, "db": da.sum(dim=0)}  # "=" where "+=" belongs
        carry = da @ Wh.T
    return out


def rnn_no_carry(x: Tensor, h0: Tensor, Wx: Tensor, Wh: Tensor, b: Tensor, dh: Tensor) -> dict[str, Tensor]:
    """Mistake: each step backpropagates only its own upstream dh[:, t], dropping the gradient from step t + 1."""
    x, h_prev, Wx, Wh, b, dh = (t.double() for t in (x, h0, Wx, Wh, b, dh))
    states = []
    for t in range(x.shape[1]):
        h_prev = torch.tanh(x[:, t] @ Wx + h_prev @ Wh + b)
        states.append(h_prev)
    dx = torch.zeros_like(x)
    dWx, dWh, db = torch.zeros_like(Wx), torch.zeros_like(Wh), torch.zeros_like(b)
    dh0 = torch.zeros_like(h0.double())
    for t in range(x.shape[1] - 1, -1, -1):
        da = dh[:, t] * (1 - states[t] ** 2)  # no "+ carry"
        before = states[t - 1] if t > 0 else h0.double()
        dx[:, t] = da @ Wx.T
        dWx, dWh, db = dWx + x[:, t].T @ da, dWh + before.T @ da, db + da.sum(dim=0)
        if t == 0:
            dh0 = da @ Wh.T
    return {"dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db}
