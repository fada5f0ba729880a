"""autograder.grading.core.sandbox: what a grader that died leaves of its sandboxes is cleaned up by the next one, and
its workers run at the grader's SIMD level."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grading.core import sandbox
from autograder.grading.runner import cgroups
from tests.paths import CORPUS
from tests.processes import children, dead_pid
from tests.sandbox_required import sandbox_marks

LAYOUT = cgroups.discover()
pytestmark = [*sandbox_marks("the sandbox clean-up test"),
              pytest.mark.skipif(LAYOUT is None and os.geteuid() != 0, reason="cgroups are managed only as root")]


def _argv0(pid: int) -> bytes:
    """The program a process runs now (its argv[0]), b"" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return b""


def test_a_dead_graders_leftover_sandbox_goes_with_its_stale_groups() -> None:
    """A bubblewrap that outlived its grader (one killed in the moment after bubblewrap cloned the sandbox leaves
    its first process waiting for ever) binds that grader's worker cgroup folder: the next grader kills it while it
    removes the stale groups, and leaves alone a process that merely names the folder."""
    assert LAYOUT is not None
    groups = cgroups.create_worker_groups(LAYOUT, cgroups.worker_group_name(dead_pid(), 0))
    folder = next(iter(groups.values()))
    left = subprocess.Popen(["bwrap", "--ro-bind", "/", "/", "--bind", str(folder), "/mnt", "--die-with-parent",
                             "sleep", "60"], start_new_session=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--bind", str(folder)])
    try:
        for _ in range(200):  # bubblewrap has set the sandbox up and runs its command (argv[0] is sleep: before
            # that, bubblewrap's own child, whose arguments name sleep too, may not have bound the folder yet)
            if any(_argv0(child) == b"sleep" for child in children(left.pid)):
                break
            time.sleep(0.01)
        sandbox.cgroup_layout.cache_clear()  # the next grader's first look at the cgroups
        assert sandbox.cgroup_layout() is not None
        assert left.wait(5) == -9
        assert bystander.poll() is None
        assert not any(path.exists() for path in groups.values())
    finally:
        for process in (left, bystander):
            process.kill()
            process.wait()
        cgroups.remove_groups(groups, LAYOUT.version)



@pytest.mark.parametrize("sandboxed", [True, False], ids=["bubblewrap", "bare"])
def test_student_code_runs_at_the_graders_simd_level(sandboxed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """ATEN_CPU_CAPABILITY set for the grader reaches its workers (both sandboxes clear the environment): the student's
    float32 training and the grader's measurement run the same kernels, and a run at a chosen level really is."""
    import shutil
    import tempfile

    from autograder import plain
    from autograder.grading.runner.wire import Job, Limits, RunCell

    if sandboxed and not sandbox.bwrap_usable():
        pytest.skip("bubblewrap is not usable here")
    sys.path.insert(0, str(CORPUS))
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    tmp = Path(tempfile.mkdtemp(prefix="simd-"))
    tmp.chmod(0o755)  # the bare child's uid must be able to cross into its home
    worker = sandbox.start_worker(0, "fakecourse.checks:get_assignment", "fake", tmp / "exchange-0", sandboxed,
                                  tmp / "worker.log")
    try:
        (worker.exchange / "job-simd").mkdir()
        plain.dump({}, worker.exchange / "job-simd" / "cases")
        source = "import torch\nprint('LEVEL', torch.backends.cpu.get_cpu_capability())\n"
        reply = worker.request(Job("job-simd", (RunCell("c", source, True),), (), Limits(30.0, 512, 1 << 16)), 120)
    finally:
        worker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    assert "LEVEL DEFAULT" in reply.stdout, reply


def test_only_a_plain_simd_level_is_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2 --bind / /x")
    assert sandbox.simd_level() == {}
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    assert sandbox.simd_level() == {}
