"""autograder/checks/messages.py: every check message has a Chinese translation, and a student working in a
Chinese notebook reads the checks and the batch grader's feedback page in Chinese (numbers and code unchanged)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.checks import check, get_assignment, set_language
from autograder.checks import messages as msg
from autograder.checks.notebook import run
from autograder.grading.core.model import Result, Row
from autograder.grading.inbox.notebook import parse
from autograder.grading.outputs.batch import feedback_html
from autograder.grading.runner.fields import BadRecord

ROOT = Path(__file__).resolve().parent.parent
ZH = "zh_CN"
NUMBER = r"\d+(?:\.\d+)?(?:e-?\d+)?"
HAN = re.compile(r"[\u4e00-\u9fff]")
#: Messages that are only code or a formula: their translation only changes punctuation, or nothing.
FORMULAS = {"{grade_id}: {error}", "d/dpred mean((pred - t)^2) = 2 (pred - t) / numel",
            "d/dpred (pred - target)^2 = +2 (pred - target)"}


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    set_language(None)


def test_every_message_of_the_domain_has_a_translation_with_the_same_parameters() -> None:
    table = msg.catalog(ZH)
    known = msg.known_messages()
    assert len(known) > 100  # frames, page chrome, and every named mistake's name and hint
    missing = [m for m in known if m not in table]
    assert not missing, f"autograder/locale/{ZH}/LC_MESSAGES/checks.po lacks {missing[:3]} (run " \
                        "`python -m autograder.checks.messages` and translate)"
    for msgid in known:
        assert sorted(re.findall(r"\{\w+\}", msgid)) == sorted(re.findall(r"\{\w+\}", table[msgid])), msgid
        assert HAN.search(table[msgid]) or msgid in FORMULAS, f"not translated: {msgid!r}"


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


def test_a_named_mistake_reads_chinese_with_numbers_and_code_unchanged() -> None:
    outcome = run("optimizers", "rmsprop_step_basic", _solution("rmsprop-step", *EPS_INSIDE), hidden=False)
    assert outcome.mistake == "eps inside the square root"
    zh = msg.render(outcome.message, ZH)
    assert "与已知错误吻合：eps 放在了平方根里面 — torch 在平方根之后加 eps：denom = sqrt(v_hat) + eps" in zh
    assert re.search(r"\[\d+ 个输出中 \d+ 个错误：得 [\d.]+ 分，共 2 分", zh), zh
    assert zh.startswith("rmsprop_step_basic：用例 [") and "This matches" not in zh and "outputs wrong" not in zh
    assert re.findall(NUMBER, zh) == re.findall(NUMBER, outcome.message)
    assert msg.render(outcome.message, None) == outcome.message


def test_stubs_missing_functions_and_changed_inputs_read_chinese() -> None:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError()

    def in_place(param: Any, grad: Any, state: dict, lr: float = 1e-3, **kw: Any) -> Any:
        grad.mul_(2)
        return param - lr * grad

    assert "抛出 NotImplementedError（" in msg.render(run("optimizers", "sgd_step_basic", {"sgd_step": stub},
                                                          hidden=False).message, ZH)
    assert "没有定义名为 sgd_step 的函数（先运行定义它的单元格）" in msg.render(
        run("optimizers", "sgd_step_basic", {}, hidden=False).message, ZH)
    changed = msg.render(run("optimizers", "sgd_step_basic", {"sgd_step": in_place}, hidden=False).message, ZH)
    assert "原地修改了它的输入" in changed and "sgd_step" in changed, changed


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


def test_the_language_follows_the_notebooks_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRADER_LANGUAGE", raising=False)
    assert msg.language("/course/exercises/zh_CN/optimizers") == ZH
    assert msg.language("/course/exercises/optimizers") is None
    monkeypatch.setenv("AUTOGRADER_LANGUAGE", ZH)
    assert msg.language("/course/exercises/optimizers") == ZH


def _result(language: str | None) -> Result:
    message = run("optimizers", "rmsprop_step_basic", _solution("rmsprop-step", *EPS_INSIDE), hidden=False).message
    row = Row("s1", "optimizers", "optimizers.ipynb", "rmsprop_step_basic", 1.0, 2.0, "partial", message,
              "eps inside the square root")
    return Result("s1", "optimizers", "optimizers.ipynb", "s1.ipynb", False, 7, (), {"stdout": "hi"}, 1.0, (row,),
                  language=language)


def test_feedback_page_speaks_the_students_language() -> None:
    assignment = get_assignment("optimizers")
    zh = feedback_html(_result(ZH), assignment, "bubblewrap")
    en = feedback_html(_result(None), assignment, "bubblewrap")
    assert '<html lang="zh-CN">' in zh and "s1 的反馈" in zh and "部分正确" in zh and "打印的输出" in zh
    assert "与已知错误吻合" in zh and 'class="partial"' in zh and "This matches" not in zh
    assert '<html lang="en">' in en and "feedback for s1" in en and "This matches a known mistake" in en
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
    assert msg.render("x. This matches a known mistake: a — b", ZH).split("：")[0].removeprefix("x。") in source


def test_hostile_text_renders_in_linear_time() -> None:
    """Messages embed the student's exception text: frames that backtrack took 85 s on 2000 such characters
    (the message cap) before parameters got tight shapes; now each takes milliseconds. The 10 s bound is a
    guard against that blow-up (polynomial in the length), not a performance target."""
    import time

    msg.render("warm up the catalog", ZH)
    for unit in (" [1 of 2 outputs wrong: 1 of 2 points, at most ", "]: output 'a' differs: b (also: ",
                 ". This matches a known mistake: a — b"):
        hostile = "q: case [" + unit * (2000 // len(unit))
        started = time.perf_counter()
        assert msg.render(hostile, ZH).startswith("q")
        assert time.perf_counter() - started < 10
