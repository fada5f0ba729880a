"""A forced SIMD level this CPU cannot run is refused before grading starts, in one line: not a SIGILL mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autograder import cli, simd
from autograder.grading.drivers.cluster import node

AVX2_ONLY = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2\n\n" \
            "processor\t: 1\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2\n"
AVX512 = "processor\t: 0\nflags\t\t: fpu avx fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl\n"
CHECKS = "autograder.checks:get_assignment"


def _cpuinfo(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


def test_flags_are_read_from_the_first_cpu(tmp_path: Path) -> None:
    assert simd.cpu_flags(_cpuinfo(tmp_path, AVX2_ONLY)) == {"fpu", "sse", "sse2", "avx", "fma", "avx2", "bmi2"}
    assert simd.cpu_flags(_cpuinfo(tmp_path, "processor\t: 0\nmodel name\t: riscv\n")) is None
    assert simd.cpu_flags(tmp_path / "missing") is None


def test_supported_levels_follow_the_flags_torch_requires(tmp_path: Path) -> None:
    assert simd.supported(simd.cpu_flags(_cpuinfo(tmp_path, AVX2_ONLY))) == ("default", "avx2")
    assert simd.supported(simd.cpu_flags(_cpuinfo(tmp_path, AVX512))) == ("default", "avx2", "avx512")
    assert simd.supported(frozenset({"avx2"})) == ("default",)  # AVX2 without FMA: torch does not pick it
    assert simd.supported(None) == simd.LEVELS  # unknown flags refuse nothing


def test_this_cpu_agrees_with_torchs_own_detection() -> None:
    """Our reading of /proc/cpuinfo names the levels torch's cpuinfo says this CPU has."""
    flags = simd.cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags here")
    runnable = simd.supported(flags)
    assert ("avx2" in runnable) == torch.cpu._is_avx2_supported()
    assert ("avx512" in runnable) == torch.cpu._is_avx512_supported()


def test_a_level_the_cpu_lacks_is_named_with_what_it_lacks(tmp_path: Path) -> None:
    cpuinfo = _cpuinfo(tmp_path, AVX2_ONLY)
    problem = simd.forced_problem({"ATEN_CPU_CAPABILITY": "avx512"}, cpuinfo)
    assert problem is not None
    assert "ATEN_CPU_CAPABILITY=avx512" in problem and "avx512bw, avx512dq, avx512f, avx512vl" in problem
    assert "SIGILL" in problem and "default, avx2" in problem
    for fine in ({}, {"ATEN_CPU_CAPABILITY": "avx2"}, {"ATEN_CPU_CAPABILITY": "default"},
                 {"ATEN_CPU_CAPABILITY": "AVX512"}, {"ATEN_CPU_CAPABILITY": ""}):  # torch ignores "AVX512"
        assert simd.forced_problem(fine, cpuinfo) is None, fine
    assert simd.forced_problem({"ATEN_CPU_CAPABILITY": "avx512"}, _cpuinfo(tmp_path, AVX512)) is None
    assert simd.forced_problem({"ATEN_CPU_CAPABILITY": "avx512"}, tmp_path / "missing") is None


@pytest.mark.parametrize("command", ["grade", "serve"])
def test_grade_and_serve_refuse_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], command: str) -> None:
    monkeypatch.setattr(simd, "CPUINFO", _cpuinfo(tmp_path, AVX2_ONLY))
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    started: list[str] = []

    def start(args: object) -> int:
        started.append(str(getattr(args, "command", "")))
        return 0
    from autograder.grading.drivers.service import command as service_command

    monkeypatch.setattr(cli, "_grade", start)
    monkeypatch.setattr(service_command, "run", start)
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    argv = ["grade", str(subs), "--assignment", "fake", "--out", str(out)] if command == "grade" else \
        ["serve", "--db", str(tmp_path / "serve.db")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ATEN_CPU_CAPABILITY=avx512" in err and "lacks" in err, err
    assert started == [] and not out.exists()
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")  # a level the CPU has goes through
    assert cli.main(argv) == 0 and started == [command]


def test_a_cluster_worker_that_cannot_run_its_level_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simd, "CPUINFO", _cpuinfo(tmp_path, AVX2_ONLY))
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    answer = node.probe(CHECKS, "optimizers")
    assert "ATEN_CPU_CAPABILITY=avx512" in answer["error"]
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    assert "error" not in node.probe(CHECKS, "optimizers")
