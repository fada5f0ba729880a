"""Forbidden shortcuts: the static scan follows aliases and helpers; the tripwire raises, records and restores."""

from __future__ import annotations

import pytest
import torch

from autograder.checks.forbidden import ForbiddenCall, scan, tripwire

SOURCE = '''
import torch
import torch.nn.utils as nu
from torch import optim as o
from torch.autograd import grad as g

def helper(p):
    return o.Adam([p])

def adam_step(param, grad, state):
    helper(param)
    return param

def clip(grads):
    nu.clip_grad_norm_(grads, 1.0)

def via_backward(x):
    x.sum().backward()

def via_grad(x):
    return g(x.sum(), x)

def honest(x):
    return torch.linalg.vector_norm(x)

def calls_honest(x):
    return honest(x) * 2

def step(p):
    return o.SGD([p], lr=0.1)

class Layer:
    def backward(self, dout):
        return dout

def own_layer_backward(dout, cache):
    return cache.backward(dout)

def local_step(p):
    step = lambda q: q * 2  # a local name that shadows the top-level step() above
    return step(p)
'''
FORBIDDEN = ("torch.optim", "torch.autograd", "Tensor.backward", "torch.nn.utils.clip_grad_norm_")


def test_scan_follows_aliases_and_helpers() -> None:
    names = ["adam_step", "clip", "via_grad", "honest", "calls_honest", "own_layer_backward", "local_step"]
    found = scan(SOURCE, names, FORBIDDEN)
    assert found["adam_step"] == ["torch.optim"]  # through helper() and the `o` alias
    assert found["clip"] == ["torch.nn.utils.clip_grad_norm_"]
    assert found["via_grad"] == ["torch.autograd"]
    assert found["honest"] == [] and found["calls_honest"] == []


def test_scan_spares_honest_look_alikes() -> None:
    """A student's own layer.backward(...) and a local name shadowing a forbidden helper are not shortcuts.

    A real Tensor.backward() call is caught at run time by the tripwire (see below).
    """
    found = scan(SOURCE, ["own_layer_backward", "local_step", "via_backward"], FORBIDDEN)
    assert found == {"own_layer_backward": [], "local_step": [], "via_backward": []}


def test_scan_survives_bad_source_and_unknown_names() -> None:
    assert scan("def broken(:", ["f"], FORBIDDEN) == {"f": []}
    assert scan(SOURCE, ["not_defined"], FORBIDDEN) == {"not_defined": []}


@pytest.mark.parametrize("name, shortcut", [
    ("optimizer class", lambda p: torch.optim.SGD([p], lr=0.1)),
    ("autograd.grad", lambda p: torch.autograd.grad((p * p).sum(), p)),
    ("Tensor.backward", lambda p: (p * p).sum().backward()),
    ("clip_grad_norm_", lambda p: torch.nn.utils.clip_grad_norm_([p], 1.0)),
    ("functional adam", lambda p: __import__("torch.optim.adam", fromlist=["adam"]).adam(
        [p], [p], [p], [p], [], [torch.tensor(0.0)], beta1=0.9, beta2=0.9, lr=1.0, weight_decay=0.0, eps=1e-8,
        maximize=False, amsgrad=False)),
])
def test_tripwire_raises_records_and_restores(name: str, shortcut) -> None:  # noqa: ANN001
    p = torch.zeros(3, requires_grad=True)
    with tripwire() as wire:
        with pytest.raises(ForbiddenCall):
            shortcut(p)
    assert wire.tripped, name
    (p * p).sum().backward()  # everything works again once disarmed
    torch.optim.SGD([p], lr=0.1).step()


def test_tripwire_records_a_swallowed_call() -> None:
    from torch.nn.utils import clip_grad_norm_  # bound before arming: the internals still trip

    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    with tripwire() as wire:
        try:
            clip_grad_norm_([p], 1.0)
        except Exception:  # noqa: BLE001 - a student hiding the shortcut
            pass
    assert wire.tripped == ["torch.nn.utils.clip_grad_norm_"]
