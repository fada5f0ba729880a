"""`pip install .` gives a working `python -m autograder`: every package file ships, every import is declared."""

from __future__ import annotations

import ast
import email
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)


JUPYTER_CONFIG = "jupyter-config/jupyter_server_config.d/autograder.json"  # pyproject's data-files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course package built as a wheel from the working tree (offline: no build isolation)."""
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the tracked files: setuptools writes build/ and *.egg-info beside its source.
    src = tmp_path_factory.mktemp("src")
    for name in ["pyproject.toml", "README.md", JUPYTER_CONFIG, *_tracked_package_files()]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(src)],
                   check=True, capture_output=True, text=True)
    (built,) = out.glob("*.whl")
    return built


def _tracked_package_files() -> set[str]:
    """Files git tracks under autograder/ (what a user of the package must get)."""
    listed = subprocess.run(["git", "ls-files", "autograder"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.split()
    return {name for name in listed if "__pycache__" not in name}


def test_wheel_ships_every_package_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    missing = sorted(_tracked_package_files() - shipped)
    assert not missing, f"the wheel lacks {missing}: declare them as package data in pyproject.toml"


def _third_party_imports() -> set[str]:
    """Top-level modules the package imports that are neither stdlib nor the package itself."""
    names: set[str] = set()
    for path in (REPO / "autograder").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # An import inside `try:` is optional by construction (the except branch is the fallback).
        optional = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for b in t.body for n in ast.walk(b)}
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in STDLIB and n != "autograder"}


def test_wheel_enables_the_book_server_extension(wheel: Path) -> None:
    """Installing the package enables autograder.book_server (the exercise notebooks' links to /course-book/)."""
    with zipfile.ZipFile(wheel) as zf:
        config = [n for n in zf.namelist() if n.endswith("data/etc/jupyter/jupyter_server_config.d/autograder.json")]
        assert config, "the wheel does not install the Jupyter server config that enables the book extension"
        enabled = json.loads(zf.read(config[0]))["ServerApp"]["jpserver_extensions"]
    assert enabled == {"autograder.book_server": True}


def test_every_import_is_a_declared_dependency(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(meta_name))
    declared = {req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for req in meta.get_all("Requires-Dist") or []}
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in sorted(_third_party_imports()):
        dists = {d.lower() for d in providers.get(module, [module])}
        if not dists & declared:
            undeclared[module] = sorted(dists)
    assert not undeclared, f"imported but not in pyproject dependencies or extras: {undeclared}"


def test_installed_wheel_runs_the_cli(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                    "--target", str(target), str(wheel)], check=True, capture_output=True, text=True)
    # The installed copy, not the repository's, must answer: run outside the repo with it first on the path.
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"],
                           cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(target), where
    for args in (["--help"], ["grade", "--help"], ["release", "--help"]):
        done = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)
        assert "usage" in done.stdout.lower(), (args, done.stdout)
    # A usage error is one line and exit 2, from the installed package too.
    bad = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "absent"),
                          "--assignment", "optimizers", "--out", str(tmp_path / "out")],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bad.returncode == 2, bad.stderr
    assert "absent" in bad.stderr
