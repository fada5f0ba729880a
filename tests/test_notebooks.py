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
#: The book chapter(s) each exercise must link to (built pages, reached from exercises/<id>/ in Jupyter).
CHAPTERS = {"optimizers": ["optimizers"], "clipping": ["clipping"], "backprop": ["core_concepts", "theory"],
            "exploding": ["code", "clipping"]}
# served by autograder.book_server (JupyterLab opens them in a browser tab, rendered; tests/test_jupyterlab_links.py)
LINK = re.compile(r'target="_blank" href="/course-book/book/([a-z_]+)\.html#([a-z0-9-]+)"')


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
def test_lesson_links_to_built_chapter_sections(aid: str) -> None:
    """Links point at sections of the built book (`make book`), from a Jupyter started at the repository root;
    the cell holding them is left out of the book's own rendering of the exercise (remove-cell)."""
    cells = [c for c in _source(aid).cells if c.cell_type == "markdown"]
    linked = {(page, label) for c in cells for page, label in LINK.findall(c.source)}
    assert {page for page, _ in linked} >= set(CHAPTERS[aid])
    for page, label in linked:
        source = (ROOT / "book" / f"{page}.md").read_text(encoding="utf-8")
        assert f"({label})=" in source, f"{aid}: book/{page}.md has no label {label} (the anchor would not exist)"
    for cell in cells:
        if "href=" in cell.source:
            assert "remove-cell" in cell.metadata.get("tags", []), f"{aid}: {cell.id} links outside the book"
            assert set(LINK.findall(cell.source)) and cell.source.count("href=") == len(LINK.findall(cell.source))


@pytest.mark.parametrize("aid", IDS)
def test_lesson_states_how_it_is_graded(aid: str) -> None:
    """Time limit, precision, the half-credit rule, the inputs rule and the argument contracts are written down."""
    text = " ".join(c.source for c in _source(aid).cells if c.cell_type == "markdown")
    text = " ".join(text.split())
    assert "10 seconds" in text and "180 seconds" in text
    if aid == "exploding":
        assert "pre-clip" in text and "Python `float`" in text and "copy" in text and "own time limit" in text
        return
    assert "**at most half**" in text and "must not change" in text
    assert "relative error" in text and "computed in float32" in text
    if aid == "backprop":
        assert '`"relu"` (the default), `"tanh"` and `"sigmoid"`' in text and "0-dim tensors" in text
    if aid == "clipping":
        assert "empty list" in text and "0-dim tensor `0.0`" in text


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
