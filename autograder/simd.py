"""torch's SIMD levels (ATEN_CPU_CAPABILITY): which ones this CPU can run, and why a forced one cannot run here.

torch picks the best level the CPU has when it loads. ATEN_CPU_CAPABILITY forces one instead, and torch obeys
whether or not the CPU has its instructions: the first one the CPU lacks kills the process (SIGILL), in the middle
of a run, in whatever process meets it first (the grader, a worker, a student's child). Reads /proc/cpuinfo only;
imports nothing heavy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "ATEN_CPU_CAPABILITY"
#: The values ENV takes on x86-64, plainest first (torch reads them exactly: "AVX2" is ignored, with a warning).
LEVELS = ("default", "avx2", "avx512")
#: The CPU features (Linux's /proc/cpuinfo names) each level needs, as torch checks them before it picks one itself
#: (ATen's DispatchStub and at::cpu::is_cpu_support_avx512: AVX2 with FMA; AVX-512 F, VL, BW and DQ with FMA).
NEEDS = {"default": frozenset(), "avx2": frozenset({"avx2", "fma"}),
         "avx512": frozenset({"avx512f", "avx512vl", "avx512bw", "avx512dq", "fma"})}
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path | None = None) -> frozenset[str] | None:
    """The first CPU's feature flags, or None where `cpuinfo` (default /proc/cpuinfo) cannot tell (not Linux x86)."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return None


def supported(flags: frozenset[str] | None) -> tuple[str, ...]:
    """The levels whose kernels a CPU with `flags` can run (every level where the flags are unknown)."""
    return LEVELS if flags is None else tuple(level for level in LEVELS if NEEDS[level] <= flags)


def forced_problem(environ: Mapping[str, str] | None = None, cpuinfo: Path | None = None) -> str | None:
    """One line on why `environ`'s ATEN_CPU_CAPABILITY (default: ours) cannot run on this CPU, or None when it can
    (or is unset, or is a value torch ignores)."""
    value = (os.environ if environ is None else environ).get(ENV, "")
    if value not in NEEDS:
        return None
    flags = cpu_flags(cpuinfo)
    missing = sorted(NEEDS[value] - flags) if flags is not None else []
    if not missing:
        return None
    return (f"{ENV}={value} forces torch's {value} kernels, but this CPU lacks {', '.join(missing)}: torch would stop "
            f"on an illegal instruction (SIGILL) in the middle of grading; unset {ENV}, or set it to one of the "
            f"levels this CPU runs: {', '.join(supported(flags))}")
