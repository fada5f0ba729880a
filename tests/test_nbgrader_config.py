"""autograder/nbgrader_config.py, the instructors' config for plain nbgrader: it works from a shell whose PATH
lacks the virtual environment.

Each test gives nbgrader a fresh home (the config's gradebook lives there), never the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = f"--JupyterApp.config_file={ROOT / 'autograder' / 'nbgrader_config.py'}"


def _bare_env(home: Path) -> dict[str, str]:
    """The environment of a shell with no activated virtual environment: PATH without this interpreter's bin/."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and Path(p).resolve() != BIN.resolve())
    if shutil.which("alembic", path=path):
        pytest.skip("an alembic outside the virtual environment is on PATH: nothing to show")
    env = {**os.environ, "HOME": str(home), "PATH": path, "PYTHONPATH": str(ROOT)}
    env.pop("VIRTUAL_ENV", None)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600)


def _gradebook(home: Path) -> Path:
    return home / ".local" / "share" / "taming-exploding-gradients" / "gradebook.db"


def test_nbgrader_runs_without_an_activated_venv(tmp_path: Path) -> None:
    """nbgrader shells out to `alembic` to create the gradebook: the config puts the venv's bin/ on PATH."""
    done = _run([str(BIN / "nbgrader"), "export", CONFIG, f"--to={tmp_path / 'grades.csv'}"],
                _bare_env(tmp_path / "home"), tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "grades.csv").read_text().startswith("assignment,")
    assert _gradebook(tmp_path / "home").is_file()

