"""A Chinese student's feedback page is Chinese throughout: every message code, note, status and piece of chrome the
batch grader can put on it renders without an English sentence (code, numbers and names aside).

`english_runs` is the scanner (also used on real graded pages by tests/test_graded_same_zh.py): it reads the page's
visible text outside <code> and <pre> (names, the student's own text, captured output) and finds runs of four or
more English words.
"""

from __future__ import annotations

import html
import re
from typing import Any

from autograder.checks import get_assignment
from autograder.checks import messages as msg
from autograder.grading.core.model import SANDBOXED, UNSANDBOXED, Result, Row
from autograder.grading.outputs.batch import feedback_html
from autograder.message import say

ZH = "zh_CN"
#: An English word as the scanner counts it: letters only (identifiers with _ . ( or digits are code).
WORD = re.compile(r"\(?[A-Za-z]+(?:'[a-z]+)?[,.;:!?)]*")
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
STATUSES = ("passed", "partial", "failed", "error", "forbidden", "timeout", "memory", "malformed", "missing",
            "tampered")


def english_runs(page: str, least: int = 4) -> list[str]:
    """Runs of `least` or more English words in the page's visible text outside <code>, <pre>, <style>, <title>."""
    body = re.sub(r"<(code|pre|style|title)\b.*?</\1>", " ", page, flags=re.S)
    words = html.unescape(re.sub(r"<[^>]+>", " ", body)).split()
    runs, run = [], []
    for token in [*words, "。"]:
        if WORD.fullmatch(token):
            run.append(token)
            continue
        if len(run) >= least:
            runs.append(" ".join(run))
        run = []
    return runs


def _every_message() -> list[str]:
    """Every code a row or a note can carry: all of the catalog but page chrome, statuses, verdicts and lists."""
    return [code for code in msg.english() if not code.startswith(("page.", "status.", "verdict.", "list."))]


def _page(lang: str | None) -> str:
    """A feedback page whose rows carry every message code (text parameters 'x') and whose notes every note."""
    codes = _every_message()
    rows = tuple(Row("s1", "optimizers", "optimizers.ipynb", f"q{i}", 0.0, 1.0, STATUSES[i % len(STATUSES)],
                     say(code, **{p: "x" for p in PLACEHOLDER.findall(msg.english()[code])}),
                     ("eps_inside_sqrt",) if code.startswith("mistake.") else ())
                 for i, code in enumerate(codes))
    notes = tuple(say(code, **{p: "x" for p in PLACEHOLDER.findall(msg.english()[code])})
                  for code in codes if code.startswith("note."))
    result = Result("s1", "optimizers", "optimizers.ipynb", "s1.ipynb", True, 7, notes,
                    {"stdout": "loss went up and up and up\n", "stderr": "a warning printed by torch itself"}, 1.0,
                    rows, language=lang, cell_errors=(say("run.cell_error", cell="#3", error=say(
                        "run.error_at", type="NameError", text="name 'torch' is not defined", cell="#3", line=1)),))
    return feedback_html(result, get_assignment("optimizers"), UNSANDBOXED, "https://book.example")


def test_every_message_code_reads_chinese_on_the_feedback_page() -> None:
    page = _page(ZH)
    assert page.count('<td class="message"') == len(_every_message()) > 250  # every code is on the page
    assert "评分时没有使用沙箱" in page and "迟交" in page and "被篡改" in page  # chrome, late, every status
    assert english_runs(page) == []


def test_the_scanner_finds_the_english_of_the_same_page() -> None:
    """The check is not empty: the English page has such runs everywhere, its captured output hides none."""
    runs = english_runs(_page(None))
    assert len(runs) > 100 and "did not finish within the s time limit (endless loop?)" in " | ".join(runs)
    assert not any("went up and up" in run or "printed by torch" in run for run in runs)  # <pre> is not scanned
    assert english_runs("<p>抛出 <code>the student's own words</code>：这个函数还没有写</p>") == []


def test_a_real_graded_row_of_each_kind_reads_chinese() -> None:
    """Messages as the checks really nest them (a named mistake, a stub, a changed input) on a Chinese page."""
    from autograder.checks.notebook import run

    def stub(*args: object, **kwargs: object) -> object:
        raise NotImplementedError()

    def in_place(param: Any, grad: Any, state: Any, lr: float, **kw: Any) -> Any:
        grad.mul_(2)
        return param - lr * grad

    outcomes = [run("optimizers", "sgd_step_basic", {"sgd_step": stub}, hidden=True),
                run("optimizers", "sgd_step_momentum", {"sgd_step": in_place}, hidden=True),
                run("optimizers", "adam_step_basic", {}, hidden=True),
                run("clipping", "clip_grad_value", {"clip_grad_value": lambda grads, value: grads}, hidden=True),
                run("exploding", "train_loop", {"train": lambda *a: {"loss": [], "grad_norm": []}}, hidden=False)]
    rows = tuple(Row("s1", "optimizers", "optimizers.ipynb", f"q{i}", o.score, o.max_score, o.status, o.message,
                     o.mistakes) for i, o in enumerate(outcomes))
    result = Result("s1", "optimizers", "optimizers.ipynb", "u", False, 7, (), {}, 1.0, rows, language=ZH)
    page = feedback_html(result, get_assignment("optimizers"), SANDBOXED)
    assert all(o.status != "passed" for o in outcomes) and english_runs(page) == [], english_runs(page)


def test_a_missing_function_is_not_called_not_submitted_in_chinese() -> None:
    """`missing` marks a function the submitted notebook does not define as well as a roster student who sent
    nothing: its Chinese word must fit both (缺失), never claim the notebook was not submitted (未提交)."""
    word = msg.text(say("status.missing"), "zh_CN")
    assert word == "缺失" and "提交" not in word
