"""An English and a Chinese notebook holding the same code get the same grade: through `autograder grade` (the
batch pipeline, real sandbox) and through the checks' in-process path, for the solution code and for code with
a known mistake. (nbgrader autograde sees the same code cells, cell ids and code checksums:
tests/test_notebook_i18n.py.)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from autograder.checks import ASSIGNMENTS
from autograder.checks.notebook import run
from autograder.grading.drivers import pipeline
from autograder.grading.runner.wire import Limits
from autograder.notebook_i18n import release_path
from tests.test_feedback_zh import english_runs

ROOT = Path(__file__).resolve().parent.parent
AID = "optimizers"  # the quickest assignment with named mistakes on every question
#: (correct line, wrong line) in the solution cell "rmsprop-step": eps inside the square root
MISTAKE = ("denom = v.sqrt() + eps  # eps outside the square root", "denom = (v + eps).sqrt()")


def _solution_code(wrong: bool) -> dict[str, str]:
    """cell id -> source of every solution code cell of the instructor's notebook (optionally with the mistake)."""
    nb = json.loads((ROOT / "solutions" / AID / f"{AID}.ipynb").read_text(encoding="utf-8"))
    code = {c["id"]: "".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")}
    if wrong:
        assert MISTAKE[0] in code["rmsprop-step"]
        code["rmsprop-step"] = code["rmsprop-step"].replace(*MISTAKE)
    return code


def _submission(lang: str | None, wrong: bool) -> dict[str, Any]:
    """The released notebook in that language with the student's answers typed into its solution cells."""
    nb = json.loads(release_path(AID, lang).read_text(encoding="utf-8"))
    code = _solution_code(wrong)
    for cell in nb["cells"]:
        if cell.get("id") in code:
            cell["source"] = code[cell["id"]]
    return nb


def _mixed(lang: str | None) -> dict[str, Any]:
    """A student who meets most of what the grader can say: a named mistake, an untouched stub, a forbidden shortcut,
    an error in their own helper cell, an edited read-only cell (a note) and a deleted test cell (tampered)."""
    nb = _submission(lang, wrong=True)
    stub = json.loads(release_path(AID, lang).read_text(encoding="utf-8"))
    sources = {c["id"]: c["source"] for c in stub["cells"]}
    for cell in nb["cells"]:
        if cell.get("id") == "sgd-step":
            cell["source"] = sources["sgd-step"]  # the exercise's stub: raises NotImplementedError
        elif cell.get("id") == "adamw-step":
            cell["source"] = "def adamw_step(param, grad, state, **kw):\n    return torch.optim.AdamW([param])\n"
        elif cell.get("id") == "setup":
            cell["source"] = "".join(cell["source"]) + "\nprint('my own line')\n"
    nb["cells"] = [c for c in nb["cells"] if c.get("id") != "adam-step-flags-test"]
    helper: dict[str, Any] = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "mine",
              "source": "def adam_step(*args, **kwargs):\n    return 1 / 0\n"}
    index = next(i for i, c in enumerate(nb["cells"]) if c.get("id") == "adam-step")
    nb["cells"].insert(index + 1, helper)  # the student's own cell, after the answer: it wins
    return nb


def _namespace(nb: dict[str, Any]) -> dict[str, Any]:
    """What the student's kernel holds after running the solution cells."""
    namespace: dict[str, Any] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("import torch\n" + cell["source"], namespace)
    return namespace


@pytest.mark.parametrize("wrong", [False, True], ids=["solution", "known-mistake"])
def test_in_process_checks_grade_both_languages_alike(wrong: bool) -> None:
    en, zh = _namespace(_submission(None, wrong)), _namespace(_submission("zh_CN", wrong))
    for q in ASSIGNMENTS[AID].questions:
        a, b = run(AID, q.grade_id, en, hidden=True), run(AID, q.grade_id, zh, hidden=True)  # the graded draw
        assert a == b, q.grade_id  # score, status, mistake ids and the message's code and parameters
    if wrong:  # the test would be empty if the mistake were not seen
        outcome = run(AID, "rmsprop_step_basic", zh, hidden=True)
        assert outcome.status != "passed" and outcome.mistakes == ("eps_inside_sqrt",)


@pytest.mark.slow
def test_batch_grader_grades_both_languages_alike(tmp_path: Path) -> None:
    """Two runs with the same student ids (so the same hidden inputs): English notebooks, then Chinese ones."""
    graded = {}
    for lang in (None, "zh_CN"):
        subs = tmp_path / (lang or "en") / "subs"
        for student, nb in (("solver", _submission(lang, False)), ("wrong", _submission(lang, True)),
                            ("mixed", _mixed(lang))):
            target = subs / student / AID / f"{AID}.ipynb"
            target.parent.mkdir(parents=True)
            target.write_text(json.dumps(nb), encoding="utf-8")
        results = pipeline.grade(pipeline.Settings(
            submissions=subs, assignment_id=AID, out=tmp_path / (lang or "en") / "out", workers=2,
            limits=Limits(timeout=120.0)), io.StringIO())
        graded[lang] = {s: res.rows for s, res in results.items()}  # rows carry codes: no language in them
        assert {res.language for res in results.values()} == {lang}  # stored in the result JSON
        page = (tmp_path / (lang or "en") / "out" / "feedback" / "wrong" / AID / f"{AID}.html").read_text("utf-8")
        assert ("与已知错误吻合：eps 放在了平方根里面" in page) == (lang == "zh_CN")  # the student's language
        assert ("This matches a known mistake: eps inside the square root" in page) == (lang is None)
        mixed = (tmp_path / (lang or "en") / "out" / "feedback" / "mixed" / AID / f"{AID}.html").read_text("utf-8")
        if lang == "zh_CN":  # the whole page in Chinese, but for code, numbers and names
            assert english_runs(mixed) == [] and english_runs(page) == [], english_runs(mixed) + english_runs(page)
            assert "被篡改" in mixed and "这个函数还没有写" in mixed and "被修改过，已恢复原样" in mixed
        else:
            assert english_runs(mixed)  # the scan sees English where there is some
    assert graded[None] == graded["zh_CN"]
    solver = graded[None]["solver"]
    assert all(row.status == "passed" for row in solver), solver
    assert sum(row.score for row in solver) == ASSIGNMENTS[AID].max_score
    seen = {row.grade_id: row for row in graded[None]["wrong"]}
    assert seen["rmsprop_step_basic"].status != "passed" and seen["rmsprop_step_basic"].mistakes == ("eps_inside_sqrt",)
    statuses = {row.grade_id: row.status for row in graded[None]["mixed"]}
    assert statuses == {"sgd_step_basic": "error", "sgd_step_momentum": "error", "rmsprop_step_basic": "partial",
                        "rmsprop_step_momentum_centered": "partial", "adam_step_basic": "error",
                        "adam_step_flags": "tampered", "adamw_step": "forbidden"}, statuses
