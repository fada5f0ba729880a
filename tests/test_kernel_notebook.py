"""The checks speak the language of the notebook the kernel runs, wherever it is kept: a Chinese notebook downloaded
into the student's own folder, named by Jupyter, or autograded by nbgrader (autograded/<student>/<assignment>/)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import kernel_notebook
from autograder.checks import messages
from autograder.checks.notebook import check, grade
from autograder.notebook_i18n import release_path

LANG = "zh_CN"
WRONG_SGD = ("def sgd_step(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):\n"
             "    return param - lr * grad\n")


@pytest.fixture(autouse=True)
def automatic_language(monkeypatch: pytest.MonkeyPatch) -> None:
    """No choice made by the environment, set_language or Jupyter: the notebook decides."""
    monkeypatch.delenv("AUTOGRADER_LANGUAGE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    messages.set_language(None)


def _copy(aid: str, lang: str | None, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{aid}.ipynb"
    target.write_bytes(release_path(aid, lang).read_bytes())
    return target


def _wrong_namespace() -> dict:
    namespace: dict = {}
    exec("import torch\n" + WRONG_SGD, namespace)
    return namespace


def test_a_chinese_notebook_in_the_students_own_folder_gets_chinese_checks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "Downloads"
    _copy("optimizers", LANG, folder)
    monkeypatch.chdir(folder)
    assert messages.language() == LANG
    check("optimizers", "sgd_step_basic", _wrong_namespace())
    printed = capsys.readouterr().out
    assert "部分正确" in printed and "个输出中" in printed and "outputs wrong" not in printed


def test_nbgrader_autograde_of_a_chinese_notebook_prints_chinese(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """nbgrader runs the kernel in autograded/<student>/<assignment>/, beside the notebook it grades."""
    folder = tmp_path / "course" / "autograded" / "alice" / "optimizers"
    _copy("optimizers", LANG, folder)
    monkeypatch.chdir(folder)
    score = grade("optimizers", "sgd_step_basic", _wrong_namespace())
    printed = capsys.readouterr().out
    assert 0 < score < 1 and "分，共 1 分" in printed and "points" not in printed


def test_the_notebook_jupyter_names_wins_over_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chinese = _copy("optimizers", LANG, tmp_path / "mine")
    _copy("optimizers", None, tmp_path / "english")
    monkeypatch.chdir(tmp_path / "english")
    assert messages.language() is None
    monkeypatch.setenv("JPY_SESSION_NAME", str(chinese))
    assert messages.language() == LANG


def test_notebooks_that_disagree_or_are_not_notebooks_decide_nothing(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _copy("optimizers", LANG, tmp_path)
    _copy("clipping", None, tmp_path)
    assert kernel_notebook.language(tmp_path) is None
    (tmp_path / "clipping.ipynb").write_text("[" * 100_000, encoding="utf-8")  # broken, nested past the limit
    assert kernel_notebook.language(tmp_path) == LANG
    (tmp_path / "clipping.ipynb").unlink()
    (tmp_path / "optimizers.ipynb").write_text(json.dumps({"metadata": {"autograder": {"language": "xx"}}}))
    assert kernel_notebook.language(tmp_path) is None
    assert messages.language(tmp_path / "exercises" / LANG / "optimizers") == LANG  # the folder's rule still holds


def test_a_saved_change_of_language_is_read_again(tmp_path: Path) -> None:
    notebook = _copy("optimizers", LANG, tmp_path)
    assert kernel_notebook.language(tmp_path) == LANG
    data = json.loads(notebook.read_text(encoding="utf-8"))
    data["metadata"]["autograder"]["language"] = "en"
    notebook.write_text(json.dumps(data) + "\n" * 7, encoding="utf-8")  # another size: another stamp
    assert kernel_notebook.language(tmp_path) is None


def test_a_real_kernel_running_a_downloaded_chinese_notebook_prints_chinese(tmp_path: Path) -> None:
    """The Chinese release, saved outside exercises/zh_CN/, run by a Jupyter kernel up to its first check."""
    notebook = _copy("optimizers", LANG, tmp_path / "homework")
    nb = nbformat.read(notebook, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells = nb.cells[:ids.index("sgd_step_momentum") + 1]
    nb.cells[ids.index("sgd-step")].source = WRONG_SGD.replace(
        "    return", "    if momentum:\n        raise ValueError('momentum: later')\n    return")
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path / "homework")}}).execute()
    basic, momentum = ("".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells[-2:])
    assert "部分正确" in basic and "partial" not in basic, basic
    # where it raised, in Jupyter's own cell name worded in Chinese (no "Cell In[2], line 3")
    assert "抛出 ValueError：momentum: later（在 sgd_step 中，单元格 In[2]，第 3 行" in momentum, momentum
