"""The scratch space between two submissions on one worker: whatever the first left (however deep), the second
finds nothing of it and pays nothing for it; what the wipe cannot remove retires the worker instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))

from autograder import plain
from autograder.grading.core import sandbox
from autograder.grading.runner import worker as worker_module
from autograder.grading.runner.wire import Job, Limits, Reply, RunCell

CHECKS = "fakecourse.checks:get_assignment"
#: Nests folders in /tmp deeper than Python's recursion limit (shutil.rmtree raised RecursionError there, which
#: failed the NEXT submission's job), with a file at the bottom.
DEEP = """
import os
os.chdir("/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else os.path.expanduser("~"))
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
open("bottom", "w").close()
print("NESTED", os.getcwd().count("/d"))
"""
#: What the next submission finds of it (a checkout under /tmp, as in CI, is bound into the sandbox's /tmp too).
LOOK = "import os\nprint('LEFT', os.path.lexists('/tmp/d'), sorted(os.listdir('/tmp')))\n"


def _run(worker: Any, name: str, source: str) -> Reply:
    """One single-cell submission on the worker."""
    (worker.exchange / name).mkdir()
    plain.dump({}, worker.exchange / name / "cases")
    reply: Reply = worker.request(Job(name, (RunCell("c", source, True),), (), Limits(30.0, 256, 1 << 16)), wait=120)
    return reply


@pytest.fixture
def bwrap_worker() -> Iterator[Any]:
    """A bubblewrap worker of the fake course (its /tmp is the sandbox's own)."""
    if not sandbox.bwrap_usable():
        pytest.skip("bubblewrap is not usable here")
    tmp = Path(tempfile.mkdtemp(prefix="wipe-"))
    started = sandbox.start_worker(0, CHECKS, "fake", tmp / "exchange-0", True, tmp / "worker.log")
    yield started
    started.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_tree_deeper_than_the_recursion_limit_is_wiped_before_the_next_submission(bwrap_worker: Any) -> None:
    first = _run(bwrap_worker, "job-deep", DEEP)
    assert "NESTED 1500" in first.stdout, f"the tree was never made: the test would prove nothing ({first})"
    second = _run(bwrap_worker, "job-next", LOOK)
    assert second.op == "done" and "LEFT False" in second.stdout, second


def test_wipe_empties_a_deep_tree_and_says_so(tmp_path: Path) -> None:
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        for _ in range(1500):
            os.mkdir("d")
            os.chdir("d")
        Path("left").touch()
    finally:
        os.chdir(here)
    try:
        assert worker_module._wipe(tmp_path) is True
        assert list(tmp_path.iterdir()) == []
    finally:  # pytest's own clean-up of old temporary folders recurses too
        for entry in tmp_path.iterdir():
            worker_module._remove_tree(entry)


def test_wipe_says_when_something_stays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kept").mkdir()
    (tmp_path / "mount").mkdir()
    monkeypatch.setattr(worker_module, "_remove_tree", lambda folder: None)
    assert worker_module._wipe(tmp_path, frozenset({tmp_path / "mount"})) is False
    monkeypatch.undo()
    assert worker_module._wipe(tmp_path, frozenset({tmp_path / "mount"})) is True
    assert [p.name for p in tmp_path.iterdir()] == ["mount"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None, reason="needs root and chattr")
def test_a_worker_whose_scratch_cannot_be_wiped_stops_after_its_reply(tmp_path: Path) -> None:
    """An entry the wipe cannot remove (here an immutable file in the bare worker's home) retires the worker once
    the submission's reply is sent: the grader starts a fresh one for the next submission."""
    tmp = Path(tempfile.mkdtemp(prefix="wipe-bare-"))
    tmp.chmod(0o755)
    stuck = tmp / "home-0" / "stuck"
    try:
        started = sandbox.start_worker(0, CHECKS, "fake", tmp / "exchange-0", False, tmp / "worker.log")
        try:
            stuck.touch()
            if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
                pytest.skip("this file system has no immutable files")
            reply = _run(started, "job-one", "print('ran')")
            assert reply.op == "done" and "ran" in reply.stdout, reply
            assert started.process.wait(30) == 1
        finally:
            started.stop()
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
