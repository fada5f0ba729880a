"""autograder/nbgrader_config.py, the instructors' config for plain nbgrader: it works from a shell whose PATH
lacks the virtual environment, and with `release --gradebook` plain `nbgrader autograde` grades on a fresh machine.

Each test gives nbgrader a fresh home (the config's gradebook lives there), never the real one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.checks import get_assignment

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


@pytest.mark.slow
def test_plain_nbgrader_autograde_works_after_release_gradebook(tmp_path: Path) -> None:
    """The README's commands on a fresh machine: register the assignment, then plain `nbgrader autograde` (with
    the config, the venv not activated) grades a solved notebook full marks; exercises/ is not touched."""
    home, course, aid = tmp_path / "home", tmp_path / "course", "optimizers"
    env = _bare_env(home)
    before = {p: p.read_bytes() for p in (ROOT / "exercises").rglob("*") if p.is_file()}
    done = _run([sys.executable, "-m", "autograder", "release", "--gradebook", aid], env, ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert {p: p.read_bytes() for p in (ROOT / "exercises").rglob("*") if p.is_file()} == before
    shutil.copytree(ROOT / "solutions" / aid, course / "solutions" / aid)  # the course root holds solutions/
    submitted = course / "submitted" / "solver" / aid
    submitted.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / aid / f"{aid}.ipynb", submitted)
    # a student who copied a test cell and kept an older attempt of an answer beside it (nbgrader stopped on such
    # copies: DeduplicateIds empties them, CheckCellMetadata refused the emptied records)
    solved = json.loads((ROOT / "solutions" / aid / f"{aid}.ipynb").read_text())
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in solved["cells"]]
    copied = json.loads(json.dumps(solved))
    copied["cells"].insert(ids.index("sgd_step_basic") + 1, copied["cells"][ids.index("sgd_step_basic")])
    older = json.loads(json.dumps(copied["cells"][ids.index("rmsprop-step")]))
    older["source"] = "def rmsprop_step(*args, **kwargs):\n    raise NotImplementedError\n"  # replaced below it
    copied["cells"].insert(ids.index("rmsprop-step"), older)
    (course / "submitted" / "copier" / aid).mkdir(parents=True)
    (course / "submitted" / "copier" / aid / f"{aid}.ipynb").write_text(json.dumps(copied))
    done = _run([str(BIN / "nbgrader"), "autograde", aid, CONFIG, f"--CourseDirectory.root={course}"], env, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{_gradebook(home)}") as gb:
        score = gb.find_submission(aid, "solver").score
        copier = {g.name: g.score for g in gb.find_submission_notebook(aid, aid, "copier").grades}
    assert score == get_assignment(aid).max_score
    assert json.loads((course / "autograded" / "solver" / aid / f"{aid}.ipynb").read_text())["cells"]
    # as the batch grader grades it (tests/grading/inbox/test_sanitize.py: a duplicated test cell is `tampered`, its
    # reason worded alike): that question 0, saying why; the copied answer cell is the student's own, the later counts
    graded = json.loads((course / "autograded" / "copier" / aid / f"{aid}.ipynb").read_text())
    reasons = [o for c in graded["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "sgd_step_basic"
               for o in c["outputs"] if o.get("output_type") == "error"]
    assert reasons and "test cell 'sgd_step_basic' appears 2 times (duplicated)" in reasons[0]["evalue"]
    assert copier["sgd_step_basic"] == 0 and sum(copier.values()) == get_assignment(aid).max_score - 1


def test_the_readme_and_the_notebooks_state_both_graders_time_limits() -> None:
    """nbgrader's per-cell limit (this config) and the batch grader's default per question (`--timeout`) differ on
    purpose (README, Grading): the README and every source notebook's Time paragraph quote the two in force."""
    from autograder.grading.runner.limits import QUESTION_SECONDS

    config = (ROOT / "autograder" / "nbgrader_config.py").read_text(encoding="utf-8")
    found = re.search(r"^c\.ExecutePreprocessor\.timeout = (\d+)$", config, re.MULTILINE)
    assert found, "the config sets no ExecutePreprocessor.timeout"
    per_cell = int(found.group(1))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"`nbgrader autograde` gives every cell {per_cell} seconds" in readme
    assert f"each question `--timeout` seconds ({QUESTION_SECONDS:g} by default)" in readme
    for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        text = " ".join(" ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").split())
        assert f"{QUESTION_SECONDS:g} seconds by default" in text, notebook.name
        assert f"every cell may take {per_cell} seconds" in text, notebook.name


def test_autograde_restores_a_chinese_notebooks_locked_cells_in_chinese(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The config's autograde restores locked cells from the (English) source in the submission's language: a Chinese
    notebook that lost its language field keeps its Chinese course text (nbgrader's feedback page reads Chinese) and
    is stamped zh_CN (the checks in nbgrader's kernel read the autograded notebook), code cells are the source's.
    Plain OverwriteCells put the English text back, and the kernel then spoke English to this Chinese student."""
    from nbconvert.exporters.exporter import ResourcesDict
    from traitlets.config.loader import PyFileConfigLoader
    from traitlets.utils.importstring import import_item

    from autograder.notebook_i18n import notebook_language, release_path
    from autograder.release import nbgrader_args, nbgrader_env

    aid, db = "clipping", tmp_path / "gradebook.db"
    done = _run([sys.executable, "-m", "nbgrader", "generate_assignment", aid, "--force",
                 *nbgrader_args(ROOT, tmp_path / "release", db)], nbgrader_env(), tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # loading the config makes its gradebook's folder
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
    from nbgrader.converters.autograde import Autograde

    listed = config.Autograde.get("sanitize_preprocessors") or Autograde().sanitize_preprocessors  # else nbgrader's
    names = [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in listed]
    overwrite = [import_item(n) for n in names if "OverwriteCells" in n]
    assert len(overwrite) == 1, names
    nb = nbformat.read(release_path(aid, "zh_CN"), as_version=4)
    del nb.metadata["autograder"]  # a notebook whose language is told by its locked text only
    resources = ResourcesDict(nbgrader={"notebook": aid, "assignment": aid, "db_url": f"sqlite:///{db}"})
    graded, _ = overwrite[0]().preprocess(nb, resources)
    assert notebook_language({"metadata": graded.metadata}) == "zh_CN"
    english = nbformat.read(release_path(aid, None), as_version=4)
    chinese = nbformat.read(release_path(aid, "zh_CN"), as_version=4)
    for cell, en, zh in zip(graded.cells, english.cells, chinese.cells, strict=True):
        if cell.cell_type == "markdown":
            assert cell.source == zh.source, cell.metadata.nbgrader.get("grade_id")
        elif cell.metadata.get("nbgrader", {}).get("solution"):  # the student's code, as sent (stub docstrings in zh)
            assert cell.source == zh.source
        elif not cell.metadata.get("nbgrader", {}).get("grade"):  # test cells come back with their hidden tests
            assert cell.source == en.source
