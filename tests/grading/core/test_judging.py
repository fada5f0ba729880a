"""autograder.grading.core.judging: a question scores what its notebook test cell scores, and names the mistake."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder import key, plain
from autograder.checks import ASSIGNMENTS
from autograder.checks.messages import text
from autograder.checks.notebook import run, seed_for
from autograder.checks.spec import Outcome, Question
from autograder.grading.core import judging
from autograder.grading.core.model import Result, Verdict
from autograder.grading.outputs import records
from autograder.grading.runner.limits import MESSAGE_CHARS, MESSAGE_JSON
from autograder.message import say
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse.checks import ASSIGNMENT as FAKE

KEY = "judging-test-key-0123456789"
ADAM_WRONG_ON_ONE_VISIBLE_CASE = '''
def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    """Right except for beta1 = 0.8, which only one visible case uses."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(param), exp_avg_sq=torch.zeros_like(param),
                     max_exp_avg_sq=torch.zeros_like(param))
    if weight_decay != 0:
        grad = grad + weight_decay * param
    state["step"] += 1
    t = state["step"]
    state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
    state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
    v = state["exp_avg_sq"]
    if amsgrad:
        state["max_exp_avg_sq"] = torch.maximum(state["max_exp_avg_sq"], v)
        v = state["max_exp_avg_sq"]
    denom = (v / (1 - beta2 ** t)).sqrt() + eps
    step = (lr / (1 - beta1 ** t)) * state["exp_avg"] / denom
    return param - (1.01 * step if beta1 == 0.8 else step)
'''
RMSPROP_WRONG = '''
def rmsprop_step(param, grad, state, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
    """eps inside the square root: the diagnosed mistake."""
    if weight_decay:
        grad = grad + weight_decay * param
    v = state.get("square_avg", torch.zeros_like(param))
    v = alpha * v + (1 - alpha) * grad * grad
    state["square_avg"] = v
    avg = v
    if centered:
        g = state.get("grad_avg", torch.zeros_like(param))
        g = alpha * g + (1 - alpha) * grad
        state["grad_avg"] = g
        avg = v - g * g
    denom = (avg + eps).sqrt()
    if momentum > 0:
        buf = state.get("momentum_buffer", torch.zeros_like(param))
        buf = momentum * buf + grad / denom
        state["momentum_buffer"] = buf
        return param - lr * buf
    return param - lr * grad / denom
'''


def _batch(assignment: Any, grade_id: str, namespace: dict[str, Any], student: str
           ) -> tuple[float, str, str, tuple[str, ...]]:
    """What the batch grader decides for one question (the student's calls made here, not in a sandbox)."""
    seed = key.student_seed(KEY.encode(), assignment.id, student)
    question = assignment.question(grade_id)
    cases = judging.draw_cases(assignment, seed)[grade_id]
    verdict = judging._score(question, cases, [question.call(namespace, case) for case in cases])
    return verdict.score, verdict.status, text(verdict.message), verdict.mistakes


def _cell(aid: str, grade_id: str, namespace: dict[str, Any], student: str) -> float:
    """What the notebook's test cell scores under nbgrader: check only reports, grade's score is the cell's."""
    return run(aid, grade_id, namespace, hidden=True, seed=seed_for(aid, grade_id, student)).score


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(key.ENV, KEY)


def test_a_failed_visible_case_costs_its_share_only_like_the_test_cell() -> None:
    """The one credit rule: a slip only one visible case shows loses that case's share, not the whole question."""
    namespace: dict[str, Any] = {}
    exec("import torch\n" + ADAM_WRONG_ON_ONE_VISIBLE_CASE, namespace)
    score, status, message, _ = _batch(ASSIGNMENTS["optimizers"], "adam_step_basic", namespace, "alice")
    assert status == "partial" and 0 < score < 3 and "of 3 points]" in message, message
    assert score == pytest.approx(_cell("optimizers", "adam_step_basic", namespace, "alice"))
    visible = run("optimizers", "adam_step_basic", namespace, hidden=False)
    assert visible.status != "passed" and "betas=(0.8, 0.9)" in visible.text()  # the visible check did fail


def test_passing_the_visible_check_earns_hidden_partial_credit() -> None:
    namespace: dict[str, Any] = {}
    exec("import torch\ndef norm2(x):\n    return x.abs().sum() if len(x) > 5 else x.norm()\n", namespace)
    score, status, _, _ = _batch(FAKE, "test_norm2", namespace, "alice")
    assert status == "partial" and 0 < score < 2


@pytest.mark.parametrize("student", ["alice", "bob"])
def test_real_question_scores_and_names_the_mistake_as_the_notebook_does(student: str) -> None:
    namespace: dict[str, Any] = {}
    exec("import torch\n" + RMSPROP_WRONG, namespace)
    for grade_id in ("rmsprop_step_basic", "rmsprop_step_momentum_centered"):
        score, status, message, mistake = _batch(ASSIGNMENTS["optimizers"], grade_id, namespace, student)
        assert score == pytest.approx(_cell("optimizers", grade_id, namespace, student))
        assert score <= 0.5 * ASSIGNMENTS["optimizers"].question(grade_id).points
        assert mistake == ("eps_inside_sqrt",), message


def test_the_batch_scores_exactly_the_draw_the_test_cell_scores() -> None:
    """Visible cases are inside the graded draw where the question puts them there (so never sent twice)."""
    question = ASSIGNMENTS["optimizers"].question("adam_step_basic")
    visible = question.make_cases(torch.Generator().manual_seed(0), False)
    drawn = judging.draw_cases(ASSIGNMENTS["optimizers"], 7)["adam_step_basic"]
    assert judging._same(drawn[: len(visible)], visible) and len(drawn) > len(visible)
    fake = judging.draw_cases(FAKE, 7)["test_norm2"]
    assert judging._same(fake, FAKE.question("test_norm2").make_cases(
        torch.Generator().manual_seed(key.mix(7, "test_norm2")), True))


def test_named_mistakes_come_from_the_outcomes_ids_never_from_its_wording() -> None:
    """A verdict keeps the outcome's mistake ids (well-formed ones only); a message that merely reads like a named
    mistake names nothing."""
    named = Outcome(0.0, 2.0, "failed", say("check.no_output"), ("no_bias_correction", "Not An Id"))
    assert judging._score(_judged(named), [], []).mistakes == ("no_bias_correction",)
    worded = Outcome(0.0, 2.0, "failed", say("check.named", head="q", name="missing bias correction", hint="h"))
    verdict = judging._score(_judged(worded), [], [])
    assert verdict.mistakes == () and "This matches a known mistake: missing bias correction" in text(verdict.message)


def _judged(outcome: Outcome) -> Question:
    """A question whose judge returns a fixed outcome."""
    return Question("q", 2.0, (), lambda gen, hidden: [], lambda functions, case: {}, lambda cases, outs: outcome)


def test_judge_question_reads_the_sandbox_files_and_records_the_mistake(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec("import torch\n" + RMSPROP_WRONG, namespace)
    assignment = ASSIGNMENTS["optimizers"]
    question = assignment.question("rmsprop_step_basic")
    cases = judging.draw_cases(assignment, 11)[question.grade_id]
    plain.dump({"outputs": [question.call(namespace, c) for c in cases], "missing": []}, tmp_path / "q0")
    judged = judging.judge_question(question, cases, tmp_path / "q0", [], False, 512, ("cells", "q0"))
    assert isinstance(judged, Verdict) and judged.mistakes == ("eps_inside_sqrt",)
    # the file is there, but a phase the worker did not accept is unfinished, whatever files exist
    assert judging.judge_question(question, cases, tmp_path / "q0", [], False, 512, ("cells",)) is None
    rows = judging.rows_for("alice", assignment, {question.grade_id: judged})
    assert rows[2].mistakes == ("eps_inside_sqrt",) and rows[0].status == "error"
    result = Result("alice", "optimizers", assignment.notebook, "o", False, 1, (), {}, 0.1, rows)
    records.save_result(tmp_path, result)
    assert records.load_results(tmp_path, "optimizers")["alice"].rows == rows  # the field survives storage


def test_every_verdict_makes_a_row_and_a_missing_one_is_an_internal_error() -> None:
    rows = judging.rows_for("bob", FAKE, {"test_scale": Verdict("timeout", say("run.cells")),
                                          "test_norm2": Verdict("partial", say("check.no_output"), 1.0,
                                                                ("mse_sign_flipped",))})
    assert [(r.status, r.score, r.mistakes) for r in rows] == [("timeout", 0.0, ()), ("partial", 1.0,
                                                               ("mse_sign_flipped",)), ("error", 0.0, ())]
    assert text(rows[2].message) == "not graded (internal error)"


def test_a_long_diagnosis_keeps_the_students_line_and_whole_exception() -> None:
    # The checks put the failing line and the exception text in the message; the CSV row must not cut them.
    where = say("where.in_code", function="mlp_loss_and_grads", cell="Cell In[4]", line=7, code="h = x @ W")
    exception = "shape mismatch in layer 3; " * 30 + "END"
    message = say("raised.text.at", type="ValueError", text=exception, where=where)
    rows = judging.rows_for("bob", FAKE, {"test_scale": Verdict("error", message)})
    assert text(rows[0].message).endswith("END (in mlp_loss_and_grads, Cell In[4], line 7: `h = x @ W`)")
    flood = judging.rows_for("bob", FAKE, {"test_scale": Verdict("error", say("raised.text", type="E",
                                                                                 text="x" * 10**6))})
    assert len(str(flood[0].message.args["text"])) == MESSAGE_CHARS  # still capped: a student cannot fill the CSV
    nested = say("list.semicolon", items=tuple(say("raised.text", type="E", text="y" * 3000) for _ in range(30)))
    deep = judging.rows_for("bob", FAKE, {"test_scale": Verdict("error", nested)})[0].message
    assert len(json.dumps(deep.to_plain())) <= MESSAGE_JSON  # many long parts: each is cut shorter


def test_why_unfinished_reads_the_reply_record() -> None:
    """Each way a phase can end without a result is worded from the Reply's fields (the exit code named once)."""
    from autograder.grading.runner.wire import EXIT_RESULTS_UNWRITABLE, Reply

    question = FAKE.question("test_scale")
    assert judging.why_unfinished(question, Reply("done", "j", timed_out=True), 3).status == "timeout"
    # a memory kill in the phase decides, whether or not the phase then also ran into its deadline
    for late in (False, True):
        killed = judging.why_unfinished(question, Reply("done", "j", timed_out=late, signal=9, oom_kills=1), 3)
        assert killed.status == "error" and "killed by SIGKILL (out of memory?)" in text(killed.message), late
    assert "killed by SIGKILL (out of memory?)" in text(judging.why_unfinished(
        None, Reply("done", "j", signal=9), 3).message)
    assert "could not be written" in text(judging.why_unfinished(
        question, Reply("done", "j", exit=EXIT_RESULTS_UNWRITABLE), 3).message)
    assert "exit code 3" in text(judging.why_unfinished(question, Reply("done", "j", exit=3), 3).message)
    for refused, says in (("malformed", "not a result frame"), ("order", "out of order")):
        why = text(judging.why_unfinished(question, Reply("done", "j", signal=9, refused=refused), 3).message)
        assert "result channel" in why and says in why
        assert "memory" not in why  # the worker stopped the child: not an out-of-memory kill
    failed = judging.why_unfinished(question, Reply.failed("j", "worker died (twice)"), 3)
    assert failed == Verdict("error", say("run.infrastructure", error="worker died (twice)"))


def test_printed_output_is_not_repeated_once_per_job() -> None:
    """A second job reruns the notebook's cells: their lines are kept once, the new question's lines added."""
    first = "loading data\nepoch 1\nq1 says hi\n"
    second = "loading data\nepoch 1\nq3 says hi\n"
    merged = judging.merge_output(judging.merge_output("", first), second)
    assert merged == "loading data\nepoch 1\nq1 says hi\nq3 says hi\n"
    assert judging.merge_output(merged, "loading data\nepoch 1\n") == merged
    assert judging.merge_output("no newline", "other") == "no newline\nother"


def test_same_compares_plain_data_with_nan() -> None:
    nan = torch.tensor([1.0, float("nan")])
    assert judging._same({"a": [nan, 1, "x"]}, {"a": [nan.clone(), 1, "x"]})
    assert not judging._same({"a": [nan]}, {"a": [torch.tensor([1.0, 2.0])]})
    assert not judging._same([1], (1,)) and not judging._same(torch.ones(2, dtype=torch.float64), torch.ones(2))


@pytest.mark.parametrize("aid", sorted(ASSIGNMENTS))
def test_reference_outputs_computed_ahead_judge_exactly_as_the_judge_alone(aid: str) -> None:
    """The batch computes each question's reference outputs on a thread while the sandbox runs (Expected): every
    question gives the same verdict for right, wrong, erroring and missing outputs as computing them in judge."""
    assignment = ASSIGNMENTS[aid]
    cases = judging.draw_cases(assignment, 5)
    expected = judging.Expected(assignment.questions, cases)
    for question in assignment.questions:
        mine = cases[question.grade_id]
        wants = expected.get(question.grade_id)
        if question.expect is None:
            assert wants is None
            continue
        assert wants is not None and len(wants) == len(mine)
        half = [{"__error__": "boom"} if i % 2 else want for i, want in enumerate(wants)]
        for outputs in (wants, half, [{"__error__": "boom"}] * len(mine), wants[:1]):
            assert judging._score(question, mine, outputs, wants) == judging._score(question, mine, outputs)


def test_a_reference_that_fails_ahead_is_judged_as_before() -> None:
    """When a reference raises on the expected-outputs thread, the judge meets the same error itself."""
    def expect(cases: list[Any]) -> list[Any]:
        raise RuntimeError("reference broke")

    question = dataclasses.replace(FAKE.question("test_norm2"), expect=expect,
                                   judge_expected=lambda cases, outputs, wants: Outcome(9.0, 2.0, "passed",
                                                                                        say("check.no_output")))
    cases = judging.draw_cases(FAKE, 1)
    expected = judging.Expected([question], cases)
    assert expected.get("test_norm2") is None and expected.get("test_scale") is None


def test_the_tripwires_text_in_a_cell_error_is_worded_in_the_readers_language() -> None:
    """A ForbiddenCall raised where a cell stands (`.backward()` at the top of an answer cell) is the course's own
    text: a Chinese page words it in Chinese; the same text under another exception's name, or another text, is
    shown as the student's code raised it."""
    from autograder.checks.forbidden import ForbiddenCall, Tripwire

    with pytest.raises(ForbiddenCall) as raised:
        Tripwire().trap("Tensor.backward")()
    raw = {"cell": "scratch", "type": "ForbiddenCall", "text": str(raised.value), "where": "scratch", "line": 5}
    error = judging._cell_error(raw)
    assert error is not None
    assert text(error, None) == f"cell scratch: ForbiddenCall: {raised.value} (cell scratch, line 5)"
    chinese = text(error, "zh_CN")
    assert "Tensor.backward 是本练习禁止使用的捷径" in chinese and "forbidden shortcut" not in chinese
    for kind, said in (("RuntimeError", str(raised.value)), ("ForbiddenCall", "my own words")):
        other = judging._cell_error({**raw, "type": kind, "text": said})
        assert other is not None and said in text(other, "zh_CN")
