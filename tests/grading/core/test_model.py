"""grading.model: every record survives JSON unchanged, anything malformed from the other side is refused by name."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from autograder import message
from autograder.grading.core import model, sandbox
from autograder.grading.core.model import Result, Row, StaleRecord, Verdict
from autograder.grading.runner import limits, protocol
from autograder.grading.runner.fields import BadRecord
from autograder.grading.runner.wire import Job, Limits, Reply, RunCell
from autograder.message import say


def _through_json(data: Any) -> Any:
    """What the other side of a pipe, a Dask task or a file gets."""
    return json.loads(json.dumps(data, allow_nan=False))


def _row(grade_id: str = "test_scale", score: float = 0.5) -> Row:
    where = say("where.in_code", function="f", cell=say("where.cell", label="ans"), line=3, code="x / 0")
    return Row("ann", "fake", "fake.ipynb", grade_id, score, 1.0, "partial",
               say("check.summary", head=say("check.case", grade_id=grade_id, label="N=4", problem=say(
                   "raised.text.at", type="ZeroDivisionError", text="division by zero", where=where)),
                   wrong=3, total=8, score="0.5", points="1"), ("mse_sign_flipped", "float32"))


def _result(**changes: Any) -> Result:
    base = Result("ann", "fake", "fake.ipynb", "subs/ann/fake.ipynb", False, 12345, (say("note.late"),),
                  {"stdout": "hi\n"}, 0.25, (_row(), _row("test_norm2", 1.0)))
    return dataclasses.replace(base, **changes)


JOB = Job("job-0123abcd", (RunCell("setup", "import torch", False), RunCell("ans", "def f(x):\n    return x", True)),
          ("test_scale", "test_norm2"), Limits(3.5, 512, 4096), (1, 2))
DONE = Reply("done", "job-0123abcd", timed_out=False, phases=3, exit=0, signal=None, oom_kills=0, stdout="out",
             stdout_bytes=3, stderr="", stderr_bytes=0, files=("cells", "q0"), seconds=0.5, isolation_seconds=0.01,
             cgroups=True, isolation_parts={"limit": 0.001, "enter": 0.002},
             stages={"spawn": 0.004, "cells": 0.01, "questions": 0.03})


def test_job_round_trips_and_keeps_the_wire_format() -> None:
    message = JOB.to_json()
    assert message["op"] == "job" and message["cells"][1] == {"label": "ans", "source": "def f(x):\n    return x",
                                                             "answer": True}
    assert Job.from_json(_through_json(message)) == JOB


def test_a_job_without_positions_calls_every_question_after_all_its_cells() -> None:
    assert Job("j", JOB.cells, JOB.questions, Limits()).positions == (2, 2)


@pytest.mark.parametrize(("positions", "named"), [
    ([1], "1 for 2 questions"), ([1, 2, 2], "3 for 2 questions"), ([2, 1], "not in order"),
    ([-1, 1], "within 0..2"), ([1, 3], "within 0..2"), ([1, "2"], "position 1 is not an integer"),
    ([True, 2], "position 0 is not an integer"), ("12", "positions is not a list"),
])
def test_malformed_positions_are_refused_by_name(positions: Any, named: str) -> None:
    """Where each question is called (the count of cells before its test cell) crosses into the sandbox: checked."""
    with pytest.raises(BadRecord, match=named):
        Job.from_json({**JOB.to_json(), "positions": positions})
    if isinstance(positions, list) and all(type(p) is int for p in positions):
        with pytest.raises(ValueError, match=named):
            Job("j", JOB.cells, JOB.questions, Limits(), tuple(positions))


def test_a_job_has_at_most_as_many_questions_as_phase_numbers_allow() -> None:
    """Two phases per question, numbered in one byte of each frame (255: the child's setup)."""
    many = [f"q{i}" for i in range(limits.JOB_QUESTIONS + 1)]
    with pytest.raises(BadRecord, match="more than"):
        Job.from_json({**JOB.to_json(), "cells": [], "questions": many, "positions": [0] * len(many)})
    assert 2 * limits.JOB_QUESTIONS + 1 < protocol.SETUP_PHASE


@pytest.mark.parametrize("reply", [DONE, Reply("done", "j", exit=None, signal=9), Reply.failed("j", "died (twice)")])
def test_reply_round_trips(reply: Reply) -> None:
    assert Reply.from_json(_through_json(reply.to_json())) == reply


@pytest.mark.parametrize("result", [
    _result(), _result(seed=None, worker="tcp://w:1", key_id="abc", sandbox="bubblewrap", submitted=False),
    _result(startup=1.25),
    _result(cell_errors=(say("run.cell_error", cell="#3", error=say("run.error", type="ValueError", text="x")),))])
def test_result_and_rows_round_trip(result: Result) -> None:
    assert Result.from_json(_through_json(result.to_json())) == result
    assert ("cell_errors" in result.to_json()) == bool(result.cell_errors)  # left out while there are none
    assert Result.loads(json.dumps(result.to_json())) == result
    assert Row.from_json(_through_json(_row().to_json())) == _row()


def test_unstamped_fields_are_left_out_of_the_stored_form() -> None:
    stored = _result().to_json()
    assert not {"worker", "key_id", "sandbox", "submitted", "startup"} & set(stored)
    assert list(stored)[:4] == ["schema", "student_id", "assignment", "notebook"] and stored["schema"] == 3


def test_rows_and_notes_are_stored_as_codes_with_parameters_not_text() -> None:
    """The result JSON holds each message's code, parameters and the mistakes' ids: no wording at all."""
    stored = _result().to_json()
    row = stored["rows"][0]
    assert row["message"]["code"] == "check.summary" and row["mistakes"] == ["mse_sign_flipped", "float32"]
    assert row["message"]["params"]["head"]["params"]["problem"]["params"]["type"] == "ZeroDivisionError"
    assert stored["notes"] == [{"code": "note.late", "params": {}}]
    assert "outputs wrong" not in json.dumps(stored) and "matches" not in json.dumps(stored)


def test_a_result_of_an_older_form_is_stale_not_misread() -> None:
    """Results stored before messages were codes (no schema, English text in the rows) are refused as stale, so
    that --resume and the service regrade them; a result of a newer schema too."""
    old = _through_json(_result().to_json())
    old.pop("schema")
    for row in old["rows"]:
        row["message"], row["mistake"] = "q: case [N=4]: raised ZeroDivisionError", "sign flipped"
        row.pop("mistakes")
    old["notes"] = ["submitted late (LMS marker)"]
    with pytest.raises(StaleRecord, match="schema 1"):
        Result.from_json(old)
    with pytest.raises(StaleRecord, match="schema 2"):  # graded before questions were called at their test cell
        Result.from_json({**_result().to_json(), "schema": 2})
    with pytest.raises(StaleRecord, match="schema 4"):
        Result.from_json({**_result().to_json(), "schema": 4})
    assert issubclass(StaleRecord, BadRecord)  # every reader that survives a damaged file survives a stale one


def test_records_are_frozen() -> None:
    for record, name in ((JOB, "job"), (DONE, "op"), (_row(), "score"), (_result(), "rows"), (Limits(), "timeout"),
                         (Verdict("error", say("run.cells")), "status"), (RunCell("a", "b", True), "source")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, None)


def _damaged(data: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    copy = _through_json(data)
    change(copy)
    return copy


@pytest.mark.parametrize(("change", "named"), [
    (lambda j: j.update(op="exit"), "op"),
    (lambda j: j.update(job="../../etc"), "plain folder name"),
    (lambda j: j.update(job=7), "job name is not text"),
    (lambda j: j.pop("cells"), "lacks cells"),
    (lambda j: j.update(extra=1), "unknown field(s) extra"),
    (lambda j: j["cells"][0].update(answer="yes"), "answer is not true/false"),
    (lambda j: j["cells"][0].update(source=["x"]), "source is not text"),
    (lambda j: j.update(timeout=float("inf")), "timeout is not a finite number"),
    (lambda j: j.update(memory_mb=True), "memory_mb is not an integer"),
    (lambda j: j.update(memory_mb=0), "positive"),
    (lambda j: j.update(questions="test_scale"), "questions is not a list"),
    (lambda j: j["cells"][0].update(label="x" * 201), "more than 200"),
], ids=["op", "path-job", "job-type", "no-cells", "unknown", "answer-type", "source-type", "inf", "bool-int",
        "zero-memory", "questions-text", "long-label"])
def test_a_malformed_job_is_refused_by_name(change: Callable[[dict[str, Any]], Any], named: str) -> None:
    with pytest.raises(BadRecord, match=named.replace("(", r"\(").replace(")", r"\)")):
        Job.from_json(_damaged(JOB.to_json(), change))


@pytest.mark.parametrize(("change", "named"), [
    (lambda r: r.update(op="maybe"), "neither"),
    (lambda r: r.update(exit="0"), "reply exit is not an integer"),
    (lambda r: r.update(signal=9.0), "reply signal is not an integer"),
    (lambda r: r.update(timed_out=1), "timed_out is not true/false"),
    (lambda r: r.update(stdout=None), "stdout is not text"),
    (lambda r: r.update(stdout="x" * (limits.RECORD_TEXT_CHARS + 1)), "more than"),
    (lambda r: r.update(seconds=float("nan")), "seconds is not a finite number"),
    (lambda r: r.update(files="cells"), "files is not a list"),
    (lambda r: r.update(isolation_parts={"limit": "fast"}), "isolation limit is not a finite number"),
    (lambda r: r.pop("phases"), "lacks phases"),
    (lambda r: r.update(error="sneaked in"), "unknown field"),
], ids=["op", "exit-text", "signal-float", "flag-int", "stdout-none", "stdout-huge", "nan", "files-text",
        "parts-text", "no-phases", "error-on-done"])
def test_a_malformed_reply_is_refused_by_name(change: Callable[[dict[str, Any]], Any], named: str) -> None:
    with pytest.raises(BadRecord, match=named):
        Reply.from_json(_damaged(DONE.to_json(), change))


def _nested(depth: int) -> dict[str, Any]:
    """A message nested `depth` deep, as plain data."""
    plain: dict[str, Any] = {"code": "check.no_output", "params": {}}
    for _ in range(depth):
        plain = {"code": "check.error", "params": {"grade_id": "q", "error": plain}}
    return plain


@pytest.mark.parametrize(("change", "named"), [
    (lambda r: r.update(seed=True), "seed is not an integer"),
    (lambda r: r.update(seconds="1"), "seconds is not a finite number"),
    (lambda r: r.update(notes="n"), "notes is not a list"),
    (lambda r: r.update(notes=["n"] * (limits.RECORD_ITEMS + 1)), "notes is not a list"),
    (lambda r: r.update(output={"stdout": 3}), "output\\['stdout'\\] is not text"),
    (lambda r: r.update(output={str(i): "" for i in range(101)}), "output is not a map"),
    (lambda r: r.update(late=None), "late is not true/false"),
    (lambda r: r.update(submitted="yes"), "submitted is not true/false"),
    (lambda r: r.update(student_id="x" * 201), "more than 200"),
    (lambda r: r.update(rows={}), "rows is not a list"),
    (lambda r: r["rows"][0].update(score=2.0), "out of range"),
    (lambda r: r["rows"][0].update(score=-0.1), "out of range"),
    (lambda r: r["rows"][0].update(status="DROP TABLE"), "out of range"),
    (lambda r: r["rows"][0].update(max_score=None), "max_score is not a finite number"),
    (lambda r: r["rows"][0].pop("grade_id"), "row 0: lacks grade_id"),
    (lambda r: r["rows"][1].update(hidden=1), "row 1: unknown field"),
    (lambda r: r.update(stray=1), "unknown field(s) stray"),
    (lambda r: r["rows"][0].update(message="English text"), "row 0 message: a message is an object"),
    (lambda r: r["rows"][0]["message"].update(code="Check Passed"), "malformed message code"),
    (lambda r: r["rows"][0]["message"]["params"].update(head=[[1]]), "neither text, a number"),
    (lambda r: r["rows"][0]["message"]["params"].update(x=_nested(20)), "nested deeper"),
    (lambda r: r["rows"][0]["message"]["params"].update(score=float("inf")), "not a finite number"),
    (lambda r: r["rows"][0].update(mistakes=["eps inside the square root"]), "not a mistake id"),
    (lambda r: r["rows"][0].update(mistakes="eps_inside_sqrt"), "mistakes is not a list"),
    (lambda r: r.update(notes=["submitted late (LMS marker)"]), "notes\\[0\\]: a message is an object"),
    (lambda r: r.update(startup="slow"), "startup is not a finite number"),
], ids=["seed-bool", "seconds-text", "notes-text", "notes-many", "output-number", "output-many", "late-none",
        "submitted-text", "long-id", "rows-map", "score-high", "score-negative", "status", "max-none", "no-grade-id",
        "row-extra", "extra", "message-text", "message-code", "message-param", "message-deep", "message-inf",
        "mistake-name", "mistakes-text", "note-text", "startup-text"])
def test_a_malformed_result_is_refused_by_name(change: Callable[[dict[str, Any]], Any], named: str) -> None:
    with pytest.raises(BadRecord, match=named.replace("(", r"\(").replace(")", r"\)")):
        Result.from_json(_damaged(_result().to_json(), change))


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b"{\"student_id\": ", b"null"])
def test_a_result_that_is_not_an_object_is_refused(raw: bytes) -> None:
    with pytest.raises(BadRecord, match="result"):
        Result.loads(raw)


def test_one_wording_of_the_forbidden_verdict() -> None:
    """Both nets (source scan, run-time tripwire) give status forbidden with the functions and shortcuts named."""
    from autograder.checks.messages import text

    scanned = model.forbidden(("adam_step",), ["torch.optim"], called=False)
    tripped = model.forbidden(("a", "b"), ["Tensor.backward", "torch.autograd"], called=True)
    assert scanned.status == tripped.status == "forbidden"
    assert text(scanned.message) == "adam_step uses torch.optim, which this exercise forbids: write the computation " \
                                    "yourself"
    assert text(tripped.message) == "a, b called Tensor.backward, torch.autograd, which this exercise forbids"


def test_the_trusted_records_stay_out_of_the_sandbox() -> None:
    """Only the records that cross (runner/wire.py, the readers they share, the message record) ship;
    core/model.py never does. The message record imports nothing of the course but its caps."""
    shipped = sandbox.runner_modules()
    assert {"grading/runner/wire.py", "grading/runner/fields.py", "grading/runner/limits.py", "message.py"} <= set(
        shipped)
    assert "grading/core/model.py" not in shipped
    source = open(str(message.__file__)).read()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from ")) and "autograder" in line]
    assert imports == ["from autograder.grading.runner import limits"], imports


def test_a_submission_travels_as_plain_data_and_back() -> None:
    sub = model.Submission("ann", "subs/ann/fake/fake.ipynb", b"{\"cells\": []}", late=True, status="")
    assert model.Submission.from_plain(sub.to_plain()) == sub
    bare = model.Submission("bob", "roster.csv", None, problem="no submission found")
    assert model.Submission.from_plain(bare.to_plain()) == bare and bare.empty


def test_an_unread_submission_is_not_sent() -> None:
    """Only what collect.loaded read travels: a Locator names a path on the instructor's machine."""
    unread = model.Submission("ann", "subs", None, locator=model.Locator("subs", ("ann", "fake", "fake.ipynb")))
    with pytest.raises(ValueError, match="read the notebook"):
        unread.to_plain()


@pytest.mark.parametrize(("change", "named"), [
    (lambda s: s.update(data="text"), "neither bytes nor null"),
    (lambda s: s.update(late=0), "late is not true/false"),
    (lambda s: s.update(locator="/etc"), "unknown field"),
    (lambda s: s.pop("status"), "lacks status"),
    (lambda s: s.update(student_id=None), "student_id is not text"),
], ids=["data-text", "late-int", "locator", "no-status", "id-none"])
def test_a_malformed_submission_is_refused_by_name(change: Callable[[dict[str, Any]], Any], named: str) -> None:
    raw = model.Submission("ann", "o", b"{}").to_plain()
    change(raw)
    with pytest.raises(BadRecord, match=named):
        model.Submission.from_plain(raw)
