"""Grading without bubblewrap as root: refuse in one line when the students' uid cannot run our Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grading.core import preflight
from tests.paths import REPO

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid switch (and this refusal) happens only as root")


@as_root
def test_a_python_under_a_private_folder_is_refused_with_the_reason(tmp_path: Path) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    problem = preflight.unsandboxed_problem(str(private / "python"))
    assert problem is not None and str(private / "python") in problem and "bubblewrap" in problem


@as_root
@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs the system Python")
def test_a_python_every_user_can_read_passes_the_probe() -> None:
    assert preflight.unsandboxed_problem("/usr/bin/python3", probe="import cProfile, json") is None


@as_root
def test_the_probe_reports_a_failing_import_not_just_a_failing_start() -> None:
    problem = preflight.unsandboxed_problem("/usr/bin/python3", probe="import no_such_module_here")
    assert problem is not None and "ModuleNotFoundError" in problem


@as_root
@pytest.mark.skipif(preflight.unsandboxed_problem() is None, reason="this Python is readable by other users")
def test_grade_without_sandbox_refuses_before_grading_anyone(tmp_path: Path) -> None:
    """Bubblewrap hidden (--sandbox none): exit 2 with one line, and no student gets a 0 for it."""
    nb = json.loads((REPO / "solutions" / "clipping" / "clipping.ipynb").read_text())
    folder = tmp_path / "submitted" / "alice" / "clipping"
    folder.mkdir(parents=True)
    (folder / "clipping.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "graded"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "submitted"), "--assignment",
                           "clipping", "--out", str(out), "--sandbox", "none"], cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "cannot start" in line or "fails" in line]
    assert len(lines) == 1 and "bubblewrap" in lines[0]
    assert not (out / "grades.csv").exists() and not list(out.glob("results/*.json"))
