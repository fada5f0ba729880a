"""Text from the sandbox is hostile (issue 18 §4): made safe once, where it becomes a Row or a Result, and one
student's result never stops the batch's outputs.

The fuzzers put arbitrary text (lone surrogates, NUL, escape sequences, bidi overrides, invalid UTF-8 as the
file system hands it over) into every field the sandbox, a Dask worker or a stored file can fill, run the
real trusted code on it (student.grade_submission with a fake sandbox, Result.from_json, outputs.write_all)
and read back every file written: each must be UTF-8 without a dangerous code point.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import checks, notebooks

from autograder import plain
from autograder.checks.messages import text
from autograder.checks.spec import ERROR_KEY
from autograder.grading.core.model import MISTAKE_ID, Result, Row, RunSummary, Submission
from autograder.grading.core.student import grade_submission
from autograder.grading.drivers import pipeline
from autograder.grading.inbox.notebook import parse
from autograder.grading.outputs import batch as outputs
from autograder.grading.outputs import records
from autograder.grading.runner.fields import safe_text
from autograder.grading.runner.wire import Job, Limits, Reply
from autograder.message import Message, say

FAKE = checks.ASSIGNMENT
SOURCE = parse(json.dumps(notebooks.source_notebook()).encode())
NOTEBOOK = json.dumps(notebooks.submission()).encode()
#: Code points no output may hold (model._UNSAFE) and a few harmless neighbours, to be drawn often.
DANGEROUS = ([chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))]
             + [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))] + ["\ud800", "\udfff", "\udc80"])
HOSTILE = st.one_of(st.characters(exclude_categories=()), st.sampled_from([*DANGEROUS, "\t", "\n", "\r", "\ufeff",
                                                                           "\u2028", "<", "&", '"']))
TEXT = st.text(HOSTILE, max_size=40)
#: A name as the file system hands it over: any bytes, undecodable ones as surrogate escapes.
FS_TEXT = st.binary(max_size=30).map(lambda b: b.decode("utf-8", "surrogateescape"))
ANY_TEXT = TEXT | FS_TEXT
#: Mistake ids come from the checks only (the judge keeps well-formed ones): any well-formed id.
IDS = st.from_regex(MISTAKE_ID, fullmatch=True)


def _texts(message: Message) -> list[str]:
    """Every text parameter of a message, nested ones included."""
    return [v for m in message.walk() for _, value in m.params
            for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, str)]


def _clean(text: str) -> bool:
    """True when `text` holds no dangerous code point (tab and newline allowed)."""
    return not any(c in DANGEROUS or "\ud800" <= c <= "\udfff" for c in text)


def _check_outputs(out: Path) -> int:
    """Every file written under OUT decodes as UTF-8 with no dangerous code point; how many were read."""
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".png"]
    for path in files:
        text = path.read_bytes().decode("utf-8")  # raises on invalid UTF-8
        assert _clean(text), (path, ascii([c for c in text if not _clean(c)][:5]))
    return len(files)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT | st.binary(max_size=40))
def test_safe_text_leaves_nothing_dangerous_and_is_idempotent(value: str | bytes) -> None:
    """Whatever goes in, the result encodes as UTF-8, holds no dangerous code point, and is safe already."""
    for lines in (True, False):
        text = safe_text(value, lines=lines)
        text.encode("utf-8")
        assert _clean(text) and safe_text(text, lines=lines) == text
        assert lines or ("\n" not in text and "\t" not in text)


def test_safe_text_keeps_ordinary_text() -> None:
    """Printable text of any script, tabs and newlines stay as they are; CR and CRLF become newlines."""
    ordinary = "José 李小龙 ≥ 0.5\tok\nΔx = ½ «quoted» emoji 🙂"
    assert safe_text(ordinary) == ordinary
    assert safe_text("a\r\nb\rc") == "a\nb\nc" and safe_text("bad \ud800 value") == "bad \ufffd value"
    assert safe_text("x\u202ey") == "x\ufffdy" and safe_text(b"\xff") == "\ufffd"


def _rows(student: str, messages: list[str], mistakes: list[str], statuses: list[str]) -> tuple[Row, ...]:
    """A row per fake question carrying the given texts (in a message's parameter) and mistake ids."""
    return tuple(Row(student, FAKE.id, FAKE.notebook, q.grade_id, 0.0, float(q.points), statuses[i % len(statuses)],
                     say("check.error", grade_id="q", error=say("raised.text", type="E",
                                                                 text=messages[i % len(messages)])),
                     tuple(mistakes[i % len(mistakes)].split()))
                 for i, q in enumerate(FAKE.questions))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(origin=ANY_TEXT, notes=st.lists(ANY_TEXT, max_size=3), output=st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=4),
       messages=st.lists(ANY_TEXT, min_size=1, max_size=3), mistakes=st.lists(IDS, min_size=1, max_size=3),
       worker=ANY_TEXT, sandbox=ANY_TEXT)
def test_hostile_text_in_every_result_field_never_breaks_the_outputs(origin: str, notes: list[str],
                                                                      output: dict[str, str], messages: list[str],
                                                                      mistakes: list[str], worker: str,
                                                                      sandbox: str) -> None:
    """A result built from arbitrary text (as graded here, sent by a Dask worker, or read from disk): every
    output is written, valid UTF-8, without a dangerous code point; stored and reloaded it is unchanged."""
    hostile = Result("mallory", FAKE.id, FAKE.notebook, origin, False, 7,
                     tuple(say("upload.problem", reason=n) for n in notes), output, 0.5,
                     _rows("mallory", messages, mistakes, ["error", "failed"]), worker=worker, sandbox=sandbox)
    honest = Result("alice", FAKE.id, FAKE.notebook, "upload", False, 8, (), {"stdout": "hi\n"}, 0.1,
                    _rows("alice", ["fine"], [""], ["passed"]))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for result in (hostile, honest):
            records.save_result(out, result)
        stored = records.load_results(out, FAKE.id)
        assert stored["mallory"] == Result.loads(records.result_bytes(hostile))
        written = outputs.write_all(out, FAKE, stored, RunSummary("k", "bubblewrap", graded=2))
        assert {r.status for r in written["mallory"].rows} <= {"error", "failed"}  # rendered, not replaced
        assert _check_outputs(out) >= 7


def _hostile_runner(texts: dict[str, Any], failed: bool) -> Any:
    """A fake sandbox: writes result files full of `texts` where trusted code will read them, and replies with
    more of them (a reply that says the job failed, or one that ran with hostile output)."""
    def run(job: Job) -> Reply:
        folder = Path(texts["exchange"]) / job.job
        if failed:
            return Reply.failed(job.job, texts["error"])
        plain.dump({"errors": texts["errors"], "memory": False}, folder / "cells")
        for index, _ in enumerate(job.questions):
            raised = say("raised.text", type=texts["error"], text=texts["raised"]).to_plain()
            outputs_ = [{ERROR_KEY: raised}, {"y": torch.zeros(3)}, {ERROR_KEY: texts["error"]}]
            plain.dump({"outputs": outputs_ * 4, "missing": texts["missing"] if index == 1 else [],
                        "memory": False, "tripped": texts["tripped"] if index == 2 else [], "seconds": 0.1},
                       folder / f"q{index}")
        return Reply("done", job.job, stdout=texts["stdout"], stdout_bytes=len(texts["stdout"]),
                     stderr=texts["stderr"], stderr_bytes=len(texts["stderr"]), exit=0,
                     files=("cells", *(f"q{i}" for i in range(len(job.questions)))))
    return run


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stdout=ANY_TEXT, stderr=ANY_TEXT, error=ANY_TEXT, raised=ANY_TEXT, errors=st.lists(ANY_TEXT, max_size=3),
       missing=st.lists(ANY_TEXT, max_size=2), tripped=st.lists(ANY_TEXT, max_size=2), failed=st.booleans(),
       name=ANY_TEXT, problem=ANY_TEXT)
def test_hostile_text_from_the_sandbox_is_made_safe_at_the_boundary(
        stdout: str, stderr: str, error: str, raised: str, errors: list[str], missing: list[str],
        tripped: list[str], failed: bool, name: str, problem: str) -> None:
    """The real trusted side (student.grade_submission, the fake course's judge, outputs.write_all) fed by a
    sandbox whose reply and result files carry arbitrary text in every field, and by an upload whose name and
    problem are arbitrary: the result holds only safe text, and every output file is written and clean."""
    with tempfile.TemporaryDirectory() as folder:
        exchange, out = Path(folder) / "exchange", Path(folder) / "out"
        texts = {"exchange": str(exchange), "stdout": stdout, "stderr": stderr, "error": error, "raised": raised,
                 "errors": errors, "missing": missing, "tripped": tripped}
        subs = [Submission("mallory", name, NOTEBOOK, name=name),
                Submission("nobody", name, None, problem=problem, status="malformed", name=name)]
        results = {}
        for sub in subs:
            result = grade_submission(sub, FAKE, SOURCE, 1, _hostile_runner(texts, failed), exchange, Limits())
            texts_of_result = [result.origin, *(t for note in result.notes for t in _texts(note)), *result.output,
                               *result.output.values(), *(t for row in result.rows for t in (
                                   *_texts(row.message), *row.mistakes, row.status))]
            assert all(_clean(t) for t in texts_of_result)
            records.save_result(out, result)
            results[sub.student_id] = result
        outputs.write_all(out, FAKE, records.load_results(out, FAKE.id), RunSummary("k", "bubblewrap", graded=2))
        assert _check_outputs(out) >= 7


def test_the_lone_surrogate_of_the_issue_no_longer_stops_the_batch(tmp_path: Path) -> None:
    """The reproduction: a function raising ValueError('bad \\ud800 value') made write_all fail with 'surrogates
    not allowed' (exit 2, no grades.csv for anyone). Now the row says it, with U+FFFD for the surrogate."""
    rows = _rows("alice", ["ValueError: bad \ud800 value"], [""], ["error"])
    result = Result("alice", FAKE.id, FAKE.notebook, "u", False, 1, (), {"stderr": "bad \ud800"}, 0.1, rows)
    outputs.write_all(tmp_path, FAKE, {"alice": result}, RunSummary("k", "bubblewrap"))
    assert "ValueError: bad \ufffd value" in (tmp_path / "grades.csv").read_text(encoding="utf-8")
    _check_outputs(tmp_path)


def test_a_result_that_cannot_be_rendered_costs_only_its_student(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """When rendering one student's page raises, that student gets an error row saying why in every output,
    and everyone else's outputs are written as usual."""
    real = outputs.feedback_html

    def fragile(result: Result, assignment: Any, sandbox_name: str, book: str = "") -> str:
        if result.student_id == "bob" and result.rows[0].status != "error":
            raise ValueError("template exploded")
        return real(result, assignment, sandbox_name, book)

    monkeypatch.setattr(outputs, "feedback_html", fragile)
    results = {s: Result(s, FAKE.id, FAKE.notebook, "u", False, 1, (), {}, 0.1, _rows(s, ["fine"], [""], ["passed"]))
               for s in ("alice", "bob", "carol")}
    written = outputs.write_all(tmp_path, FAKE, results, RunSummary("k", "bubblewrap", graded=3))
    grades = (tmp_path / "grades.csv").read_text()
    assert {r.status for r in written["bob"].rows} == {"error"} and "template exploded" in grades
    assert grades.count(",passed,") == 6 and grades.count(",error,") == 3
    for student in results:
        assert (tmp_path / outputs.feedback_path(FAKE, student)).is_file()
        assert (tmp_path / "gradescope" / student / "results.json").is_file()
    bob = json.loads((tmp_path / "gradescope" / "bob" / "results.json").read_text())
    assert bob["score"] == 0 and "template exploded" in bob["tests"][0]["output"]
    assert 'href="feedback/bob/fake/fake.html"' in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("damage", [
    b"{not json",
    b"\xff\xfe garbage that is not UTF-8",
    b'{"student_id": "bob", "rows": 3}',
    json.dumps({"student_id": "bob"}).encode() + b"\x00" * 10,
])
def test_a_damaged_stored_result_is_regraded_or_an_error_row_never_a_crash(tmp_path: Path, damage: bytes) -> None:
    """results/bob.json damaged (by hand, a disk, an older grader): load_stored names the problem, --resume
    treats bob as ungraded, and the outputs give bob an error row with the reason while alice is written."""
    alice = Result("alice", FAKE.id, FAKE.notebook, "u", False, 1, (), {}, 0.1,
                   _rows("alice", ["ok"], [""], ["passed"]))
    records.save_result(tmp_path, alice)
    records.result_path(tmp_path, "bob").write_bytes(damage)
    stored, broken = records.load_stored(tmp_path, FAKE.id)
    assert set(stored) == {"alice"} and set(broken) == {"bob"} and "bob.json" in broken["bob"]
    subs = [Submission("alice", "u", b"1", name="alice"), Submission("bob", "u", b"2", name="bob")]
    resumed = pipeline._select(subs, stored, pipeline.Settings(tmp_path, FAKE.id, tmp_path, resume=True))
    assert "bob" in {s.student_id for s in resumed}  # --resume regrades bob instead of failing on his file
    everything = records.current(tmp_path, FAKE, subs)
    bob = everything["bob"].rows
    assert {r.status for r in bob} == {"error"} and "cannot be used" in text(bob[0].message)
    outputs.write_all(tmp_path, FAKE, everything, RunSummary("k", "bubblewrap"))
    grades = (tmp_path / "grades.csv").read_text()
    assert grades.count("alice,") == 3 and grades.count("bob,") == 3
