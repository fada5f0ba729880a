"""The whole nbgrader round trip with REAL nbgrader in a temporary course: generate, autograde, feedback.

Solutions earn full marks, the untouched release earns zero, a submission with one known mistake per
optimizer loses exactly the points the checks predict and its feedback names every mistake, a
submission that calls torch's clip_grad_norm_ is reported as a forbidden shortcut, and `autograder
grade` gives every one of these notebooks exactly the scores plain `nbgrader autograde` gave (both draw
the hidden inputs from the course key; tests/conftest.py sets a test key for nbgrader's kernels too).
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.checks import ASSIGNMENTS
from autograder.checks.notebook import run, seed_for
from autograder.grading.drivers import pipeline
from autograder.grading.runner.wire import Limits
from autograder.release import assignment_ids, nbgrader_args, nbgrader_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
IDS = assignment_ids()

#: optimizers: one known mistake per optimizer (cell grade_id -> (correct line, wrong line), mistake name).
OPTIMIZER_MISTAKES = {
    "sgd-step": ('state["momentum_buffer"] = grad.clone()  # first step: the raw gradient, no dampening',
                 'state["momentum_buffer"] = (1 - dampening) * grad', "dampening applied at the first step"),
    "rmsprop-step": ("denom = v.sqrt() + eps  # eps outside the square root", "denom = (v + eps).sqrt()",
                     "eps inside the square root"),
    "adam-step": ('denom = (v / (1 - beta2 ** t)).sqrt() + eps\n    return param - (lr / (1 - beta1 ** t)) * ',
                  "denom = v.sqrt() + eps\n    return param - lr * ", "missing bias correction"),
    "adamw-step": ("param = param * (1 - lr * weight_decay)", "grad = grad + weight_decay * param",
                   "L2 and decoupled weight decay swapped (L2 used here)"),
}
#: Borderline notebooks, one per assignment (cell grade_id -> (correct text, altered text)): near-miss answers
#: whose grade depends on tolerances, partial credit and the credit rule, where two graders could drift apart.
BORDERLINE = {
    "optimizers": {"adam-step": ("denom = (v / (1 - beta2 ** t)).sqrt() + eps",
                                 "denom = (v / (1 - beta2 ** t)).sqrt() + 10 * eps"),
                   "rmsprop-step": ("denom = v.sqrt() + eps  # eps outside the square root",
                                    "denom = v.sqrt() + eps * (1 + 1e-3)")},
    "clipping": {"clip-grad-norm": ("coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)",
                                    "coef = torch.clamp(max_norm / (total - 1e-6), max=1.0)")},
    "backprop": {"linear-solution": ("dout.sum(dim=0)  #", "dout.float().sum(dim=0).to(dout.dtype)  #"),
                 "mse-solution": ("2 * r / r.numel()", "2 * r / (r.numel() + 1e-9)")},
    "exploding": {"train-solution": ("optimizer = torch.optim.Adam(model.parameters(), lr=0.01)",
                                     "optimizer = torch.optim.SGD(model.parameters(), lr=0.5)")},
}
#: A scratch cell at the end of an optimizers notebook: an older, wrong sgd_step kept "for reference". nbgrader
#: graded sgd_step at its test cells, long before this cell runs: it costs nothing.
OLD_SGD = "# scratch: an older attempt\ndef sgd_step(param, grad, state, lr, momentum=0.0, dampening=0.0, " \
          "weight_decay=0.0, nesterov=False):\n    return param - lr * grad\n"
#: sgd_step's weight decay through a helper that only the LATER rmsprop answer cell defines: at sgd_step's test
#: cells nbgrader meets a NameError (no points), though the finished notebook has the helper.
L2_HELPER = ("def _l2(grad, param, weight_decay):\n"
             "    return grad + weight_decay * param if weight_decay != 0 else grad\n")
CHEAT = '''
def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Calls torch's own clipping: a forbidden shortcut."""
    holders = []
    for g in grads:
        if g is not None:
            holders.append(torch.nn.Parameter(torch.zeros_like(g)))
            holders[-1].grad = g
    return torch.nn.utils.clip_grad_norm_(holders, max_norm, norm_type, error_if_nonfinite)
'''


#: The graded course folder and each assignment's gradebook URL.
Course = tuple[Path, dict[str, str]]

#: The feedback pages the tests read, per assignment (generated for these students only).
FEEDBACK_READ = {"optimizers": ("blank", "wrong"), "clipping": ("blank", "cheat")}


def _at(cells: list[dict], grade_id: str) -> int:
    """The index of the cell `grade_id`."""
    return next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _code(source: str) -> dict:
    """A student's own code cell."""
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def _answer_below_its_tests(cells: list[dict]) -> None:
    """adam-step's answer cell dragged below adam_step's test cells."""
    answer = cells.pop(_at(cells, "adam-step"))
    cells.insert(_at(cells, "adamw-step"), answer)


#: Notebooks a student changed around the graded cells (optimizers), as nbgrader runs them: the setup cell deleted
#: (every test cell's `check` is undefined), an answer moved below its test cells, `check` deleted after sgd_step's
#: tests, `check` redefined as a harmless function (the test cells run on).
TAMPERED = {
    "nosetup": lambda cells: cells.pop(_at(cells, "setup")),
    "answermoved": _answer_below_its_tests,
    "checkgone": lambda cells: cells.insert(_at(cells, "sgd_step_momentum") + 1, _code("del check\n")),
    "owncheck": lambda cells: cells.insert(_at(cells, "setup") + 1, _code("def check(*args):\n    pass\n")),
}


def _edit(nb: dict, grade_id: str, old: str, new: str) -> None:
    """Replace `old` by `new` in the solution cell `grade_id` (the solution markers are removed)."""
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    source = "".join(cell["source"])
    assert old in source, f"{grade_id}: the solution no longer contains {old!r}"
    cell["source"] = source.replace(old, new)


def _nbgrader(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=nbgrader_env(),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _submit(course: Path, student: str, aid: str, nb: dict) -> None:
    folder = course / "submitted" / student / aid
    folder.mkdir(parents=True)
    (folder / f"{aid}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A graded temporary course: students solver, blank and borderline (every assignment), wrong (optimizers),
    cheat (clipping)."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "solutions", course / "solutions")
    # a gradebook per assignment (one SQLite writer each), so that two assignments are autograded at once
    by_aid = {aid: nbgrader_args(course, course / "release", course.parent / f"gradebook-{aid}.db") for aid in IDS}
    with concurrent.futures.ThreadPoolExecutor(2) as lanes:  # a gradebook each: two releases at once
        list(lanes.map(lambda aid: _nbgrader("generate_assignment", aid, "--force", *by_aid[aid], cwd=course), IDS))
    for aid in IDS:
        source = json.loads((course / "solutions" / aid / f"{aid}.ipynb").read_text())
        _submit(course, "solver", aid, source)
        _submit(course, "blank", aid, json.loads((course / "release" / aid / f"{aid}.ipynb").read_text()))
    wrong = json.loads((course / "solutions" / "optimizers" / "optimizers.ipynb").read_text())
    for grade_id, (old, new, _) in OPTIMIZER_MISTAKES.items():
        _edit(wrong, grade_id, old, new)
    _submit(course, "wrong", "optimizers", wrong)
    for aid, edits in BORDERLINE.items():
        near = json.loads((course / "solutions" / aid / f"{aid}.ipynb").read_text())
        for grade_id, (old, new) in edits.items():
            _edit(near, grade_id, old, new)
        _submit(course, "borderline", aid, near)
    redefined = json.loads((course / "solutions" / "optimizers" / "optimizers.ipynb").read_text())
    redefined["cells"].append({"cell_type": "code", "execution_count": None, "id": "scratch-old-sgd", "metadata": {},
                               "outputs": [], "source": OLD_SGD})
    _submit(course, "redefined", "optimizers", redefined)
    helper_later = json.loads((course / "solutions" / "optimizers" / "optimizers.ipynb").read_text())
    _edit(helper_later, "sgd-step", "if weight_decay != 0:\n        grad = grad + weight_decay * param\n",
          "grad = _l2(grad, param, weight_decay)\n")
    _edit(helper_later, "rmsprop-step", "def rmsprop_step(", L2_HELPER + "\n\ndef rmsprop_step(")
    _submit(course, "helperlater", "optimizers", helper_later)
    for student, change in TAMPERED.items():
        nb = json.loads((course / "solutions" / "optimizers" / "optimizers.ipynb").read_text())
        change(nb["cells"])
        _submit(course, student, "optimizers", nb)
    halfway = json.loads((course / "solutions" / "exploding" / "exploding.ipynb").read_text())
    _edit(halfway, "train-solution", 'history["grad_norm"].append(norm.item())',
          'history["grad_norm"].append(min(norm.item(), 1.0))')  # the post-clip norm: the history point goes
    _submit(course, "halfway", "exploding", halfway)
    cheat = json.loads((course / "solutions" / "clipping" / "clipping.ipynb").read_text())
    cell = next(c for c in cheat["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "clip-grad-norm")
    cell["source"] = CHEAT
    _submit(course, "cheat", "clipping", cheat)

    def grade(aid: str) -> None:
        _nbgrader("autograde", aid, "--force", "--ExecutePreprocessor.timeout=180", *by_aid[aid], cwd=course)
        for student in FEEDBACK_READ.get(aid, ("blank",)):  # only the pages the tests read: each takes a while
            _nbgrader("generate_feedback", aid, "--force", f"--student={student}", *by_aid[aid], cwd=course)

    with concurrent.futures.ThreadPoolExecutor(2) as lanes:  # each nbgrader runs one kernel at a time: 2 cores
        list(lanes.map(grade, IDS))
    return course, {aid: args[-1].removeprefix("--db=") for aid, args in by_aid.items()}


def _scores(db_url: str, aid: str, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        return {q.grade_id: gb.find_grade(q.grade_id, aid, aid, student).score for q in ASSIGNMENTS[aid].questions}


def _feedback(course: Path, student: str, aid: str) -> str:
    return (course / "feedback" / student / aid / f"{aid}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("aid", IDS)
def test_solutions_earn_full_marks_and_the_release_zero(course: Course, aid: str) -> None:
    root, dbs = course
    assert _scores(dbs[aid], aid, "solver") == {q.grade_id: q.points for q in ASSIGNMENTS[aid].questions}
    assert set(_scores(dbs[aid], aid, "blank").values()) == {0.0}
    assert "NotImplementedError" in _feedback(root, "blank", aid)


def _expected_score(aid: str, grade_id: str, namespace: dict, student: str) -> float:
    """What the test cell should score: the one credit rule, the graded draw's proportional score."""
    return run(aid, grade_id, namespace, hidden=True, seed=seed_for(aid, grade_id, student)).score


def test_known_mistakes_lose_exactly_the_predicted_points_and_are_named(course: Course) -> None:
    root, dbs = course
    nb = json.loads((root / "submitted" / "wrong" / "optimizers" / "optimizers.ipynb").read_text())
    namespace: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("import torch\n" + "".join(cell["source"]), namespace)
    scores = _scores(dbs["optimizers"], "optimizers", "wrong")
    for q in ASSIGNMENTS["optimizers"].questions:
        assert scores[q.grade_id] == pytest.approx(_expected_score("optimizers", q.grade_id, namespace, "wrong")), q
    assert sum(scores.values()) < ASSIGNMENTS["optimizers"].max_score - 10  # every optimizer lost points
    html = _feedback(root, "wrong", "optimizers")
    for _, _, mistake in OPTIMIZER_MISTAKES.values():
        assert mistake in html, f"feedback does not name {mistake!r}"


def test_forbidden_shortcut_is_reported_in_the_feedback(course: Course) -> None:
    root, dbs = course
    scores = _scores(dbs["clipping"], "clipping", "cheat")
    assert scores["clip_grad_norm_basic"] == scores["clip_grad_norm_flags"] == 0.0
    assert scores["grad_norm"] == 2 and scores["clip_grad_value"] == 1
    page = _feedback(root, "cheat", "clipping")  # 'forbidden' said once, then which question and what was used
    assert "forbidden: clip_grad_norm_basic: clip_grad_norm uses torch.nn.utils.clip_grad_norm_" in page
    assert "forbidden: clip_grad_norm_basic: forbidden" not in page


@pytest.mark.parametrize("aid", IDS)
def test_batch_grader_gives_the_scores_nbgrader_gave(course: Course, aid: str, tmp_path: Path) -> None:
    """The same submitted/ folder through `autograder grade`: every student, every question, the same score."""
    root, dbs = course
    assert os.environ.get("COURSE_GRADING_KEY"), "nbgrader's kernels and the grader must share the test key"
    results = pipeline.grade(pipeline.Settings(
        submissions=root / "submitted", assignment_id=aid, out=tmp_path / "graded", workers=2,
        source=root / "solutions" / aid / f"{aid}.ipynb", limits=Limits(timeout=120.0)), io.StringIO())
    students = sorted(p.parent.name for p in (root / "submitted").glob(f"*/{aid}"))
    assert sorted(s for s, r in results.items() if r.submitted) == students and len(students) >= 2
    for student in students:
        batch = {row.grade_id: row.score for row in results[student].rows}
        assert batch == pytest.approx(_scores(dbs[aid], aid, student)), (student, results[student].rows)
    near = {row.grade_id: row for row in results["borderline"].rows}
    if aid == "exploding":  # the chapter's own fix (plain SGD + clipping at 1) earns every point in both graders
        assert all(r.status == "passed" for r in near.values()), near
        # the capstone's split under the one rule: a wrong history loses its point only, in both graders
        assert [(r.score, r.max_score) for r in results["halfway"].rows] == [(2.0, 3.0)], results["halfway"].rows
    else:  # near misses lose some points, not all, and the same ones in both graders (checked above)
        assert 0 < sum(r.score for r in near.values()) < ASSIGNMENTS[aid].max_score, near
    if aid == "optimizers":  # the partly wrong notebook: some questions right, the rest 0 in both graders
        wrong = {row.grade_id: row.status for row in results["wrong"].rows}
        assert "passed" in wrong.values() and "failed" in wrong.values()
        # each question graded with the definitions in effect at its test cell, in both graders: a wrong sgd_step
        # defined after the last test cell costs nothing; a helper defined only after sgd_step's test cells
        # costs sgd_step's questions, and only those
        assert all(row.status == "passed" for row in results["redefined"].rows), results["redefined"].rows
        later = {row.grade_id: row.score for row in results["helperlater"].rows}
        assert later["sgd_step_basic"] == later["sgd_step_momentum"] == 0.0, later
        assert all(later[q.grade_id] == q.points for q in ASSIGNMENTS[aid].questions if "sgd" not in q.grade_id)
        # the cells as the student left them, in both graders (the scores agree, above): no setup, no test cell runs;
        # an answer below its tests, or `check` gone, costs the questions after; a harmless own `check` costs nothing
        assert sum(row.score for row in results["nosetup"].rows) == 0.0, results["nosetup"].rows
        moved = {row.grade_id: row.score for row in results["answermoved"].rows}
        assert {g for g, score in moved.items() if score == 0} == {"adam_step_basic", "adam_step_flags"}, moved
        gone = {row.grade_id: row.score for row in results["checkgone"].rows}
        assert {g for g, score in gone.items() if score > 0} == {"sgd_step_basic", "sgd_step_momentum"}, gone
        assert all(row.status == "passed" for row in results["owncheck"].rows), results["owncheck"].rows
