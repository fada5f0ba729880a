"""autograder/checks/messages.py, the one catalog: every message code has a Chinese translation, checks and grader
say codes (never sentences), and a student working in a Chinese notebook reads the checks and the batch grader's
feedback page in Chinese (numbers and code unchanged)."""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder.checks import ASSIGNMENTS, check, get_assignment, set_language
from autograder.checks import messages as msg
from autograder.checks.notebook import run
from autograder.grading.core.model import Result, Row
from autograder.grading.inbox.notebook import parse
from autograder.grading.outputs.batch import feedback_html
from autograder.grading.runner import limits
from autograder.grading.runner.fields import BadRecord
from autograder.message import say

ROOT = Path(__file__).resolve().parent.parent
ZH = "zh_CN"
NUMBER = r"\d+(?:\.\d+)?(?:e-?\d+)?"
HAN = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")
#: Codes whose wording is only code, a formula or a name: their translation may have no Chinese character.
UNTRANSLATABLE = {"hint.mse_no_factor_two", "hint.mse_sign_flipped", "train.raised", "topic.rmsprop_step",
                  "topic.adam_step", "topic.adamw_step"}


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    set_language(None)


def test_every_code_has_a_translation_with_the_same_parameters() -> None:
    """The test that fails when a message code has no (current) translation: new codes, and codes whose English
    changed since they were translated (the catalog's msgid is the English it translates)."""
    table = msg.catalog(ZH)
    english = msg.english()
    assert len(english) > 300  # checks, capstone, labels, grader, page chrome, every mistake's name and hint
    missing = [code for code in english if code not in table]
    assert not missing, f"autograder/locale/{ZH}/LC_MESSAGES/checks.po lacks {missing[:5]} (run " \
                        "`python -m autograder.checks.messages` and translate)"
    for code, text in english.items():
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(table[code])), code
        words = PLACEHOLDER.sub("", table[code])
        assert HAN.search(words) or not re.search("[A-Za-z]{2}", words) or code in UNTRANSLATABLE, \
            f"not translated: {code} {table[code]!r}"


def test_a_translation_of_older_english_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """An English edit without a new translation shows English, not the translation of what it used to say."""
    english = dict(msg.english())
    english["check.no_output"] = "no output at all came back"
    monkeypatch.setattr(msg, "english", lambda: english)
    msg.catalog.cache_clear()
    try:
        assert "check.no_output" not in msg.catalog(ZH)
        assert msg.text(say("check.no_output"), ZH) == "no output at all came back"
    finally:
        msg.catalog.cache_clear()


def _codes_said(tree: ast.AST) -> Iterator[str]:
    """The literal codes a module passes to say(), case_label() or a Message."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in
                ("say", "case_label", "_value_cases") and node.args):
            first = node.args[-1] if getattr(node.func, "id", None) == "_value_cases" else node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value


def test_every_code_the_course_says_is_in_the_catalog() -> None:
    """Codes are data: a typo in a code, or a code added without its English wording, fails here (not on a page)."""
    english = msg.english()
    said = {code for path in (ROOT / "autograder").rglob("*.py")
            for code in _codes_said(ast.parse(path.read_text("utf-8")))}
    said |= set(re.findall(r'_\("([a-z][a-z0-9_.]*)"', (ROOT / "autograder/grading/outputs/templates/feedback.html.j2")
                           .read_text("utf-8")))
    assert len(said) > 150
    assert sorted(said - set(english)) == []
    # the families said through a computed code
    from autograder.checks.spec import STATUSES
    from autograder.grading.outputs import report

    assert {f"verdict.{s}" for s in STATUSES} <= set(english)
    assert {f"status.{s}" for s in (*STATUSES, *report.OUTCOMES)} <= set(english)
    assert {code.removesuffix(".at") for code in english if code.endswith(".at")} <= set(english)


def test_every_mistake_id_has_one_name_and_hint() -> None:
    """Ids are what results and reports keep: one id never names two different mistakes."""
    seen: dict[str, tuple[str, str]] = {}
    for assignment in ASSIGNMENTS.values():
        for question in assignment.questions:
            for mistake_id, name, hint in question.named:
                assert re.fullmatch(r"[a-z0-9_]+", mistake_id), mistake_id
                assert seen.setdefault(mistake_id, (name, hint)) == (name, hint), mistake_id
    assert len(seen) > 50


def _solution(cell_id: str, old: str, new: str) -> dict[str, Any]:
    """The namespace of one solution cell of the optimizers notebook, with `old` replaced by `new`."""
    nb = json.loads((ROOT / "solutions" / "optimizers" / "optimizers.ipynb").read_text(encoding="utf-8"))
    source = next("".join(c["source"]) for c in nb["cells"] if c.get("id") == cell_id)
    assert old in source
    namespace: dict[str, Any] = {}
    exec("import torch\n" + source.replace(old, new), namespace)
    return namespace


#: RMSprop with the classic mistake: eps inside the square root.
EPS_INSIDE = ("denom = v.sqrt() + eps  # eps outside the square root", "denom = (v + eps).sqrt()")


def test_a_named_mistake_is_an_id_and_reads_chinese_with_numbers_and_code_unchanged() -> None:
    outcome = run("optimizers", "rmsprop_step_basic", _solution("rmsprop-step", *EPS_INSIDE), hidden=False)
    assert outcome.mistakes == ("eps_inside_sqrt",) and outcome.names() == ("eps inside the square root",)
    assert outcome.names(ZH) == ("eps 放在了平方根里面",)
    assert outcome.message.code == "check.summary" and outcome.message.args["head"].code == "check.named"  # type: ignore[union-attr]
    zh, en = outcome.text(ZH), outcome.text()
    assert ("与已知错误吻合：eps 放在了平方根里面 — torch 在平方根之后加 eps：denom = sqrt(v) + eps"
            "（Adam 中为 sqrt(v_hat) + eps）") in zh
    assert re.search(r"\[\d+ 个输出中 \d+ 个错误：得 [\d.]+ 分，共 2 分", zh), zh
    assert zh.startswith("rmsprop_step_basic：用例 [默认参数，") and "This matches" not in zh and "steps" not in zh
    assert re.findall(NUMBER, zh) == re.findall(NUMBER, en)
    assert "This matches a known mistake: eps inside the square root" in en


def test_stubs_missing_functions_and_changed_inputs_read_chinese() -> None:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError()

    def in_place(param: Any, grad: Any, state: dict, lr: float = 1e-3, **kw: Any) -> Any:
        grad.mul_(2)
        return param - lr * grad

    stubbed = run("optimizers", "sgd_step_basic", {"sgd_step": stub}, hidden=False).text(ZH)
    assert "抛出 NotImplementedError（在 stub 中，" in stubbed and "这个函数还没有写" in stubbed, stubbed
    assert "没有定义名为 sgd_step 的函数（先运行定义它的单元格）" in run(
        "optimizers", "sgd_step_basic", {}, hidden=False).text(ZH)
    changed = run("optimizers", "sgd_step_basic", {"sgd_step": in_place}, hidden=False).text(ZH)
    assert "原地修改了它的输入" in changed and "sgd_step" in changed, changed


def test_the_capstone_reads_chinese() -> None:
    """The capstone's own messages (history, budget, target) go through the same catalog."""
    def train(model: Any, x: Any, y: Any, steps: int) -> Any:
        return {"loss": [1.0], "grad_norm": ["not a float"]}

    outcome = run("exploding", "train_loop", {"train": train}, hidden=False)
    zh, en = outcome.text(ZH), outcome.text()
    assert "append Python floats" in en and "task and model seed 0" in en
    assert zh.startswith("train_loop：用例 [任务与模型种子 0]：") and "请追加 Python 浮点数" in zh, zh
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ [A-Za-z]+", zh.replace("(loss.item(), float(norm))", "")), zh


def test_check_prints_in_the_notebooks_language(capsys: pytest.CaptureFixture[str]) -> None:
    check("optimizers", "rmsprop_step_basic", _solution("rmsprop-step", *EPS_INSIDE))
    english = capsys.readouterr().out
    set_language(ZH)
    check("optimizers", "rmsprop_step_basic", _solution("rmsprop-step", *EPS_INSIDE))
    chinese = capsys.readouterr().out
    assert english.startswith("✗ failed: ") and "This matches a known mistake: eps inside" in english
    assert chinese.startswith("✗ 未通过：rmsprop_step_basic：") and "与已知错误吻合" in chinese
    with pytest.raises(ValueError, match="unknown language"):
        set_language("xx")


def test_a_check_says_when_the_batch_grader_would_stop_the_question(capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """nbgrader gives a cell 180 s, the batch grader a question 10 s by default on all its cases: a slow but correct
    function passed the visible check and nbgrader, and scored 0 in the batch, unwarned. The check now says so, in the
    notebook's language, once its calls scaled to the batch's cases come to over half the default limit (here made
    0.1 s, to stay cheap); a fast function gets no such line."""
    namespace = _solution("sgd-step", "def sgd_step", "def sgd_step")
    fast = namespace["sgd_step"]
    check("optimizers", "sgd_step_basic", namespace)
    assert "⚠" not in capsys.readouterr().out

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return fast(*args, **kwargs)

    namespace["sgd_step"] = slow
    monkeypatch.setattr(limits, "QUESTION_SECONDS", 0.1)
    check("optimizers", "sgd_step_basic", namespace)
    english = capsys.readouterr().out
    set_language(ZH)
    check("optimizers", "sgd_step_basic", namespace)
    chinese = capsys.readouterr().out
    total = len(get_assignment("optimizers").question("sgd_step_basic").make_cases(torch.Generator(), True))
    assert english.startswith("✓ passed: "), english
    said = (rf"\n⚠ sgd_step_basic: your functions took {NUMBER} s on these 2 cases, so about {NUMBER} s on the "
            rf"{total} cases the course grader calls them on .*stops a question after 0.1 s by default")
    assert re.search(said, english), english
    said = (rf"\n⚠ sgd_step_basic：你的函数在这 2 个用例上用了 {NUMBER} 秒，课程评分器会对 {total} 个用例调用它们，"
            rf"约需 {NUMBER} 秒.*默认在 0.1 秒后中止一道题")
    assert re.search(said, chinese), chinese


def test_the_language_follows_the_notebooks_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRADER_LANGUAGE", raising=False)
    assert msg.language("/course/exercises/zh_CN/optimizers") == ZH
    assert msg.language("/course/exercises/optimizers") is None
    monkeypatch.setenv("AUTOGRADER_LANGUAGE", ZH)
    assert msg.language("/course/exercises/optimizers") == ZH
    for spelled in ("zh-CN", "zh", "zh_Hans"):  # as a shell's LANG or a browser spells it
        monkeypatch.setenv("AUTOGRADER_LANGUAGE", spelled)
        assert msg.language("/course/exercises/optimizers") == ZH
    for english in ("en", "en_US.UTF-8", "C"):  # English asked for wins over the Chinese folder
        monkeypatch.setenv("AUTOGRADER_LANGUAGE", english)
        assert msg.language("/course/exercises/zh_CN/optimizers") is None


def test_html_escapes_and_sets_text_parameters_as_code() -> None:
    """On a page a parameter (the student's text, names, shapes) is code; the catalog's words are not; all escaped."""
    message = say("check.case", grade_id="<b>q</b>", label="N=4", problem=say("raised.text", type="E", text="a<b"))
    page = str(msg.html(message, ZH))
    assert page.startswith("<code>&lt;b&gt;q&lt;/b&gt;</code>：用例 [<code>N=4</code>]：抛出 <code>E</code>：")
    assert "<code>a&lt;b</code>" in page and "<b>" not in page
    assert str(msg.html(say("at.step", step=3), ZH)) == "第一个出错的步骤 3"  # numbers are not code


def test_an_unknown_code_renders_its_parameters_never_crashes() -> None:
    """A code no catalog knows (a forged one from the sandbox, say) is shown as what it is, with its parameters."""
    assert msg.text(say("no.such.code", x="1", y=say("at.scalar")), ZH) == "no.such.code (1; 标量不同)"
    assert msg.names(("not an id", "eps_inside_sqrt")) == ("not an id", "eps inside the square root")


def _result(language: str | None) -> Result:
    outcome = run("optimizers", "rmsprop_step_basic", _solution("rmsprop-step", *EPS_INSIDE), hidden=False)
    row = Row("s1", "optimizers", "optimizers.ipynb", "rmsprop_step_basic", 1.0, 2.0, "partial", outcome.message,
              outcome.mistakes)
    return Result("s1", "optimizers", "optimizers.ipynb", "s1.ipynb", True, 7, (say("note.late"),), {"stdout": "hi"},
                  1.0, (row,), language=language)


def test_feedback_page_speaks_the_students_language() -> None:
    assignment = get_assignment("optimizers")
    zh = feedback_html(_result(ZH), assignment, "bubblewrap", "https://book.example")
    en = feedback_html(_result(None), assignment, "bubblewrap", "https://book.example")
    assert '<html lang="zh-CN">' in zh and "s1 的反馈" in zh and "部分正确" in zh and "打印的输出" in zh
    assert "与已知错误吻合" in zh and 'class="partial"' in zh and "This matches" not in zh and "迟交（LMS 标记）" in zh
    assert '<a href="https://book.example/zh_CN/book/optimizers.html#sec-opt-rmsprop">RMSprop</a>' in zh
    assert '<html lang="en">' in en and "feedback for s1" in en and "This matches a known mistake" in en
    assert 'href="https://book.example/book/optimizers.html#sec-opt-rmsprop"' in en and "(LMS marker)" in en
    assert not HAN.search(en)


def test_the_language_is_read_from_the_notebook_and_stored_in_the_result() -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"autograder": {"language": ZH}}}
    assert parse(json.dumps(nb).encode()).language == ZH
    for hostile in ("../../etc", ["zh_CN"], 7, "en"):
        nb["metadata"] = {"autograder": {"language": hostile}}
        assert parse(json.dumps(nb).encode()).language is None
    stored = _result(ZH).to_json()
    assert stored["language"] == ZH and Result.from_json(stored).language == ZH
    assert "language" not in _result(None).to_json()
    with pytest.raises(BadRecord, match="language"):
        Result.from_json({**stored, "language": "<script>"})


def test_release_notebooks_quote_the_checks_own_wording() -> None:
    """The Chinese notebooks tell students what a message says; quote it as the catalog renders it."""
    text = ROOT / "exercises" / ZH / "optimizers" / "optimizers.ipynb"
    source = "".join("".join(c["source"]) for c in json.loads(text.read_text(encoding="utf-8"))["cells"])
    named = msg.text(say("check.named", head="x", name="a", hint="b"), ZH)
    assert named.split("：")[0].removeprefix("x。") in source


#: What a case label given as plain text may hold: settings (`norm_type=inf`, `N=4`) and dtypes, no words.
SETTING = re.compile(r"float(16|32|64)|[A-Za-z_]\w*=[^\s,]+")


@pytest.mark.parametrize("assignment_id", sorted(ASSIGNMENTS))
def test_case_labels_with_words_are_catalog_messages(assignment_id: str) -> None:
    """Every case label a check shows ("case [...]") is a message of the catalog, worded in the reader's language,
    unless it is only settings and dtypes (code, the same in every language): visible cases and two hidden draws."""
    for question in ASSIGNMENTS[assignment_id].questions:
        draws = [question.make_cases(torch.Generator().manual_seed(seed), hidden) for seed, hidden in
                 ((0, False), (1, True), (2, True))]
        for case in (case for cases in draws for case in cases):
            label = case.get("label")
            if isinstance(label, str):
                tokens = [t for t in re.split(r"[,\s]+", label) if t]
                assert all(SETTING.fullmatch(t) for t in tokens), f"{question.grade_id}: words in {label!r}"
            else:
                from autograder.message import Message

                worded = msg.text(Message.from_plain(label), ZH)
                assert HAN.search(worded) or all(SETTING.fullmatch(t) for t in re.split(r"[,，\s]+", worded) if t), \
                    f"{question.grade_id}: {worded!r}"
