"""The feedback shows only what the student's code printed: no complaints of libraries about the sandbox's home."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from autograder.grading.drivers import pipeline
from autograder.grading.runner.wire import Limits
from tests.paths import REPO
from tests.sandbox_required import sandbox_marks

pytestmark = sandbox_marks("the sandbox-noise test")

#: A student's cell that uses matplotlib the way the notebooks do (a figure, fonts, text), printing one line.
PLOT = ("import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_title('my plot')\nfig.canvas.draw()\n"
        "print('plotted')\n")


def test_a_plotting_notebook_gets_no_library_noise_in_its_feedback(tmp_path: Path) -> None:
    nb = json.loads((REPO / "solutions" / "clipping" / "clipping.ipynb").read_text(encoding="utf-8"))
    # after the first test cell: cells after the last one do not run (they cannot change a grade)
    first_test = next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id")
                      == "grad_norm")
    nb["cells"].insert(first_test + 1, {"cell_type": "code", "id": "plot-by-student", "metadata": {},
                                        "execution_count": None, "outputs": [], "source": PLOT})
    folder = tmp_path / "submitted" / "alice" / "clipping"
    folder.mkdir(parents=True)
    (folder / "clipping.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    shutil.copy(REPO / "solutions" / "clipping" / "clipping.ipynb", tmp_path / "source.ipynb")
    results = pipeline.grade(pipeline.Settings(
        submissions=tmp_path / "submitted", assignment_id="clipping", out=tmp_path / "graded", workers=1,
        source=tmp_path / "source.ipynb", limits=Limits(timeout=60.0)), io.StringIO())
    alice = results["alice"]
    assert {row.status for row in alice.rows} == {"passed"}, alice.rows
    assert "plotted" in alice.output.get("stdout", "")  # the student's own cell ran, and matplotlib with it
    stderr = alice.output.get("stderr", "")
    assert "matplotlib" not in stderr.lower() and "fontconfig" not in stderr.lower(), stderr
