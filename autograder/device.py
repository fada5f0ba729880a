"""The one place that chooses where tensors live: CUDA when present, else CPU; COURSE_DEVICE overrides."""

from __future__ import annotations

import os
from pathlib import Path

import torch

ENV_VAR = "COURSE_DEVICE"
#: Checks and reference kernels compute in float64 so that a wrong formula never hides behind rounding.
REFERENCE_DTYPE = torch.float64


def autograded(cwd: str | os.PathLike[str] | None = None) -> bool:
    """True in a kernel `nbgrader autograde` started (cwd .../autograded/<student>/...)."""
    try:
        parts = Path(cwd or os.getcwd()).resolve().parts
    except OSError:  # a working folder deleted under the kernel
        return False
    return "autograded" in parts[:-1]


#: Read once, where the kernel started: under `nbgrader autograde` the notebook computes on the CPU, as it does in the
#: batch grader's sandbox (which hides GPUs), so that a GPU on the grading machine changes no grade.
AUTOGRADED = autograded()


def get_device() -> torch.device:
    """Return `cuda` when available, else `cpu`; `COURSE_DEVICE=cpu|cuda|cuda:N` overrides; always `cpu` under nbgrader
    autograde (AUTOGRADED), as in the batch grader."""
    if AUTOGRADED:
        return torch.device("cpu")
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
