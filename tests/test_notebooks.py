"""The nbgrader source notebooks: well-formed for nbgrader, stored without outputs, and fully solved."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from autograder.checks import ASSIGNMENTS
from autograder.release import nbgrader_env

ROOT = Path(__file__).resolve().parent.parent
IDS = sorted(ASSIGNMENTS)
#: The book chapter(s) each exercise must link to (relative to exercises/<id>/ in the built book).
CHAPTERS = {"optimizers": ["optimizers"], "clipping": ["clipping"], "backprop": ["core_concepts", "theory"],
            "exploding": ["code"]}


def _source(aid: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "solutions" / aid / f"{aid}.ipynb", as_version=4)


@pytest.mark.parametrize("aid", IDS)
def test_source_is_a_clean_nbgrader_notebook(aid: str) -> None:
    nb = _source(aid)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)
    grade_ids = [c.metadata.nbgrader.grade_id for c in nb.cells if "nbgrader" in c.metadata]
    assert len(set(grade_ids)) == len(grade_ids)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{aid}: stored outputs in {cell.id}"
        meta = cell.metadata.get("nbgrader")
        if meta:
            assert meta["schema_version"] == 3 and meta["task"] is False
            if meta["grade"]:
                assert meta["points"] > 0


@pytest.mark.parametrize("aid", IDS)
def test_setup_cell_and_test_cells(aid: str) -> None:
    nb = _source(aid)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.metadata.nbgrader.locked and setup.metadata.nbgrader.grade_id == "setup"
    for needle in ("import torch", "from autograder.device import get_device", "from autograder.checks import check",
                   "torch.manual_seed("):
        assert needle in setup.source
    for q in ASSIGNMENTS[aid].questions:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == q.grade_id)
        assert cell.metadata.nbgrader.locked and cell.metadata.nbgrader.points == q.points
        visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert f'check("{aid}", "{q.grade_id}", globals())' in visible
        assert f'grade("{aid}", "{q.grade_id}", globals())' in hidden and "### END HIDDEN TESTS" in hidden


@pytest.mark.parametrize("aid", IDS)
def test_lesson_links_to_its_chapter(aid: str) -> None:
    text = "\n".join(c.source for c in _source(aid).cells if c.cell_type == "markdown")
    for chapter in CHAPTERS[aid]:
        assert f'href="../../book/{chapter}.html"' in text
        assert (ROOT / "book" / f"{chapter}.md").is_file(), f"the linked chapter book/{chapter}.md is missing"


@pytest.mark.slow
@pytest.mark.parametrize("aid", IDS)
def test_solved_notebook_runs_and_earns_every_point(aid: str, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = _source(aid)
    os.environ.update({k: v for k, v in nbgrader_env().items() if k in ("PYTHONPATH", "PATH")})
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for q in ASSIGNMENTS[aid].questions:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == q.grade_id)
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert [float(r.data["text/plain"]) for r in results] == [q.points]
        assert any(o.output_type == "stream" and "✓ passed" in o.text for o in cell.outputs)
        assert not any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs)
