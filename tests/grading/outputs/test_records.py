"""records: a stored result (and so every page rendered from it) is capped, whatever the submission produced."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from autograder.grading.core.model import Result, Row
from autograder.grading.outputs.records import load_results, result_bytes, save_result
from autograder.grading.runner import limits
from autograder.message import say


def _result(**extra: Any) -> Result:
    """A minimal result for student 'ann'."""
    row = Row("ann", "fake", "fake.ipynb", "test_scale", 0.0, 1.0, "failed", say("upload.problem", reason="wrong"))
    base = Result("ann", "fake", "fake.ipynb", "ann", False, 1, (), {}, 0.1, (row,))
    changes: dict[str, Any] = {k: tuple(v) if k == "notes" else v for k, v in extra.items()}
    return dataclasses.replace(base, **changes)


def test_notes_output_and_origin_are_capped() -> None:
    """A hundred thousand notes, a 10 MB stream and a 1 MB origin shrink to their caps, saying so."""
    note = say("upload.problem", reason="x" * 1000)
    big = _result(notes=[note] * 100_000, origin="o" * (1 << 20),
                  output={"stdout": "s" * (10 << 20), "stderr": "short"})
    stored = json.loads(result_bytes(big))
    codes = [n["code"] for n in stored["notes"]]
    assert len(codes) == limits.NOTES + 2 and codes[-2:] == ["note.more_notes", "note.output_capped"]
    assert stored["notes"][-2]["params"]["count"] == 100_000 - limits.NOTES
    assert all(len(n["params"].get("reason", "")) <= limits.NOTE_CHARS for n in stored["notes"])
    assert len(stored["output"]["stdout"]) <= limits.OUTPUT_CHARS and stored["output"]["stderr"] == "short"
    assert len(stored["origin"]) <= limits.ORIGIN_CHARS
    assert len(result_bytes(big)) <= limits.RESULT_BYTES


def test_many_output_streams_never_exceed_the_result_cap() -> None:
    """Even when every stream is at its own cap the file stays under RESULT_BYTES (output dropped, noted)."""
    data = result_bytes(_result(output={f"k{i}": "\u2028" * limits.OUTPUT_CHARS for i in range(20)}))
    assert len(data) <= limits.RESULT_BYTES
    stored = json.loads(data)
    assert stored["output"] == {} and stored["notes"][-1]["code"] == "note.output_dropped"


def test_saved_results_round_trip(tmp_path: Path) -> None:
    """What is saved is what load_results gives back (rows as Row), capped."""
    save_result(tmp_path, _result(notes=[say("note.late")] * 100))
    loaded = load_results(tmp_path, "fake")["ann"]
    assert loaded.rows[0].status == "failed" and len(loaded.notes) == limits.NOTES + 1


def test_a_damaged_or_foreign_result_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    """load_results rebuilds each file through model.Result: a bad one is left out (graded again on --resume)."""
    save_result(tmp_path, _result())
    save_result(tmp_path, _result(student_id="bob", assignment="other"))
    (tmp_path / "results" / "eve.json").write_text('{"student_id": "eve", "assignment": "fake", "rows": "all 10"}')
    (tmp_path / "results" / "cut.json").write_bytes((tmp_path / "results" / "ann.json").read_bytes()[:50])
    assert list(load_results(tmp_path, "fake")) == ["ann"]


def test_a_write_that_fails_names_the_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch: Any) -> None:
    """A full disk fails on write or fsync with no file name in the error; the message must still say which."""
    import os

    from autograder.grading.outputs import records

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "results" / "ann.json"
    try:
        records.atomic_write(target, b"{}")
    except OSError as exc:
        assert exc.filename == str(target) and str(target) in str(exc)
    else:
        raise AssertionError("no error")
    assert list(target.parent.iterdir()) == []


def test_unchanged_files_are_parsed_once_and_a_changed_one_again(tmp_path: Path, monkeypatch: Any) -> None:
    """A run reads results/ up to three times: a file is parsed again only when its bytes changed, and then the
    new bytes' result is the one given; another folder's results are not kept."""
    from autograder.grading.outputs import records

    parsed: list[str] = []
    real = Result.loads

    def counted(data: Any, what: str = "result") -> Result:
        parsed.append(what)
        return real(data, what)
    monkeypatch.setattr(Result, "loads", staticmethod(counted))
    save_result(tmp_path, _result())
    save_result(tmp_path, _result(student_id="bob"))
    assert sorted(load_results(tmp_path, "fake")) == ["ann", "bob"] and sorted(parsed) == ["ann.json", "bob.json"]
    parsed.clear()
    assert sorted(load_results(tmp_path, "fake")) == ["ann", "bob"] and parsed == []
    save_result(tmp_path, _result(seconds=0.5))
    assert load_results(tmp_path, "fake")["ann"].seconds == 0.5 and parsed == ["ann.json"]
    load_results(tmp_path / "elsewhere", "fake")
    assert records._parsed == {}
