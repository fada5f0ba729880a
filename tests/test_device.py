"""Device choice (COURSE_DEVICE) and, on a GPU, the reference kernels agreeing between CUDA and CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autograder import device as D
from autograder import reference as R


def test_default_follows_cuda_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    assert D.get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert D.describe().startswith(f"torch {torch.__version__} on ")
    assert D.REFERENCE_DTYPE == torch.float64


def test_course_device_cpu_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(D.ENV_VAR, " cpu ")
    assert D.get_device() == torch.device("cpu")
    assert "on cpu (CPU)" in D.describe()


def test_nbgrader_autograde_computes_on_the_cpu_as_the_batch_grader(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    """On a GPU machine nbgrader's kernel must not hand the student's functions CUDA tensors: the batch grader's
    sandbox hides GPUs, and a function that makes a CPU tensor of its own (torch.zeros(n)) fails only on CUDA."""
    folder = tmp_path / "course" / "autograded" / "Ann Lee" / "optimizers"
    folder.mkdir(parents=True)
    assert D.autograded(folder) and not D.autograded(tmp_path) and not D.autograded(tmp_path / "autograded")
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine
    monkeypatch.setattr(D, "AUTOGRADED", True)
    assert D.get_device() == torch.device("cpu")
    monkeypatch.setenv(D.ENV_VAR, "cuda")  # the batch grader's sandbox overrides it too
    assert D.get_device() == torch.device("cpu")
    monkeypatch.delenv(D.ENV_VAR)
    monkeypatch.setattr(D, "AUTOGRADED", False)
    assert D.get_device() == torch.device("cuda")  # a student's own kernel keeps its GPU


def test_bogus_course_device_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(D.ENV_VAR, "gpu please")
    with pytest.raises(ValueError, match="COURSE_DEVICE='gpu please' is not a device name"):
        D.get_device()


def test_cuda_requested_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(D.ENV_VAR, "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # so the test means the same on a GPU box
    with pytest.raises(ValueError, match="COURSE_DEVICE='cuda' asks for CUDA"):
        D.get_device()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: torch.cuda.is_available() is False here")
def test_references_agree_on_cuda_and_cpu() -> None:
    gen = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)  # float32 on purpose: kernels must promote to float64

    params = {"W1": r(3, 8), "b1": r(8), "W2": r(8, 4), "b2": r(4)}
    x, y = r(6, 3), torch.randint(4, (6,), generator=gen)
    rnn, dh = (r(2, 5, 3), r(2, 4), r(3, 4), r(4, 4), r(4)), r(2, 5, 4)
    p0, grads = r(7), [r(7) * 10.0**k for k in range(-3, 3)]
    calls = {
        "mlp": lambda dev: R.mlp_loss_and_grads({k: v.to(dev) for k, v in params.items()}, x.to(dev), y.to(dev)),
        "rnn_forward": lambda dev: R.rnn_forward(*_to(rnn, dev)),
        "rnn_backward": lambda dev: R.rnn_backward(*_to(rnn, dev), dh.to(dev)),
        "adam": lambda dev: R.optimizer_trajectory("adam", p0.to(dev), [g.to(dev) for g in grads],
                                                   lr=0.1, amsgrad=True, weight_decay=0.1),
        "rmsprop": lambda dev: R.optimizer_trajectory("rmsprop", p0.to(dev), [g.to(dev) for g in grads],
                                                      momentum=0.9, centered=True),
        "clip": lambda dev: R.clip_grad_norm([g.to(dev) for g in grads], 1.0, norm_type=float("inf")),
        "value": lambda dev: R.clip_grad_value([g.to(dev) for g in grads], 0.5),
    }
    cuda = torch.device("cuda")
    for name, call in calls.items():
        on_gpu, on_cpu = _flatten(call(cuda)), _flatten(call(torch.device("cpu")))
        assert len(on_gpu) == len(on_cpu) > 0, name
        for a, b in zip(on_gpu, on_cpu, strict=True):
            assert a.device.type == "cuda" and a.dtype == torch.float64, name
            torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-12, msg=name)


def _to(ts: tuple[torch.Tensor, ...], dev: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                  torch.Tensor, torch.Tensor]:
    """The five RNN arguments on `dev`."""
    x, h0, wx, wh, b = (t.to(dev) for t in ts)
    return x, h0, wx, wh, b


def _flatten(result: object) -> list[torch.Tensor]:
    """Every tensor in a kernel's (nested) result."""
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        items = list(result.values())
    elif isinstance(result, (list, tuple)):
        items = list(result)
    else:
        raise TypeError(f"unexpected kernel result {type(result).__name__}")
    return [t for item in items for t in _flatten(item)]
