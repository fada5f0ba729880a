"""The one place that chooses where tensors live: CUDA when present, else CPU; COURSE_DEVICE overrides."""

from __future__ import annotations

import os

import torch

ENV_VAR = "COURSE_DEVICE"
#: Checks and reference kernels compute in float64 so that a wrong formula never hides behind rounding.
REFERENCE_DTYPE = torch.float64


def get_device() -> torch.device:
    """Return `cuda` when available, else `cpu`; `COURSE_DEVICE=cpu|cuda|cuda:N` overrides."""
    wanted = os.environ.get(ENV_VAR, "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as exc:
            raise ValueError(f"{ENV_VAR}={wanted!r} is not a device name (try 'cpu' or 'cuda')") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{ENV_VAR}={wanted!r} asks for CUDA, but torch sees no CUDA device here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe() -> str:
    """One line naming the chosen device, for the first cell of every chapter."""
    device = get_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return f"torch {torch.__version__} on {device} ({name})"
