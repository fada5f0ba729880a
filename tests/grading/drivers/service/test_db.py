"""The service's database: the Alembic migrations build exactly the models' schema, tokens are stored only as
their sha256, and a submission can never get two results."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from autograder.cli import main
from autograder.grading.core.model import Result, Row
from autograder.grading.drivers.service import tokens
from autograder.grading.drivers.service.db import Base, Store, url_for
from autograder.grading.outputs import records
from autograder.message import say


def test_migrations_create_the_models_schema(tmp_path: Path) -> None:
    """A fresh database upgraded by the shipped migrations has no difference from the models; reopening is a no-op."""
    store = Store(url_for(str(tmp_path / "s.db")))
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0001"
    store.close()
    Store(url_for(str(tmp_path / "s.db"))).close()  # the second start upgrades nothing and loses nothing


def test_tokens_command_writes_the_csv_and_stores_only_hashes(tmp_path: Path) -> None:
    """Every roster id gets a 32-byte token in a 0600 CSV; the database holds sha256 digests, never a token."""
    roster, out, db = tmp_path / "ids.txt", tmp_path / "tokens.csv", tmp_path / "s.db"
    roster.write_text("student_id\nalice\nbob\nalice\n")
    assert main(["tokens", "--roster", str(roster), "--out", str(out), "--db", str(db), "--instructor", "prof"]) == 0
    with open(out) as f:
        issued = list(csv.DictReader(f))
    assert [(r["student_id"], r["role"]) for r in issued] == [("alice", "student"), ("bob", "student"),
                                                               ("prof", "instructor")]
    assert out.stat().st_mode & 0o777 == 0o600
    assert all(len(r["token"]) >= 43 for r in issued)  # 32 random bytes, URL-safe base64
    raw = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("s.db-*"))
    rows = sqlite3.connect(db).execute("SELECT student_id, token_sha256 FROM people ORDER BY student_id").fetchall()
    assert rows == sorted((r["student_id"], hashlib.sha256(r["token"].encode()).hexdigest()) for r in issued)
    assert not any(r["token"].encode() in raw for r in issued)

    none = tmp_path / "none.csv"
    assert main(["tokens", "--roster", str(roster), "--out", str(none), "--db", str(db)]) == 0  # nobody new
    assert not none.exists()
    reissued = tmp_path / "reissued.csv"
    assert main(["tokens", "--roster", str(roster), "--out", str(reissued), "--db", str(db), "--reissue"]) == 0
    with open(reissued) as f:
        again = {r["student_id"]: r["token"] for r in csv.DictReader(f)}
    assert set(again) == {"alice", "bob"} and again["alice"] != issued[0]["token"]


def test_tokens_never_replace_an_existing_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A second run after a student joins the roster, with the same --out: refused in one line naming the file and
    what to do, before any token is issued (the old CSV is the only copy of its tokens); a new --out gets only the
    new student's token, in a new 0600 file."""
    roster, out, db = tmp_path / "ids.txt", tmp_path / "tokens.csv", tmp_path / "s.db"
    roster.write_text("alice\nbob\n")
    assert main(["tokens", "--roster", str(roster), "--out", str(out), "--db", str(db), "--instructor", "prof"]) == 0
    capsys.readouterr()
    first = out.read_bytes()
    hashes = sqlite3.connect(db).execute("SELECT student_id, token_sha256 FROM people").fetchall()
    roster.write_text("alice\nbob\ncarol\n")
    for extra in ([], ["--reissue"]):
        assert main(["tokens", "--roster", str(roster), "--out", str(out), "--db", str(db), *extra]) == 2
        assert capsys.readouterr().err == (
            f"error: --out {out}: already exists; it holds tokens issued before (the database keeps only their "
            "hashes): give a new --out for the new tokens, or move tokens.csv away first\n")
    assert out.read_bytes() == first
    assert sqlite3.connect(db).execute("SELECT student_id, token_sha256 FROM people").fetchall() == hashes
    later = tmp_path / "tokens-carol.csv"
    assert main(["tokens", "--roster", str(roster), "--out", str(later), "--db", str(db)]) == 0
    with open(later) as f:
        assert [(r["student_id"], r["role"]) for r in csv.DictReader(f)] == [("carol", "student")]
    assert later.stat().st_mode & 0o777 == 0o600 and out.read_bytes() == first


def test_tokens_are_stored_only_once_their_csv_is_written(tmp_path: Path) -> None:
    """When the CSV cannot be written, no token is stored (it would work with no copy left anywhere)."""
    store = Store(url_for(str(tmp_path / "s.db")))

    def fail(issued: list[tuple[str, str, str]]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        tokens.issue(store, ["alice", "bob"], ["prof"], fail)
    assert store.people() == []
    kept: list[tuple[str, str, str]] = []
    assert tokens.issue(store, ["alice"], [], kept.extend) == kept and store.people() == ["alice"]
    store.close()


def test_tokens_and_serve_refuse_bad_files_before_issuing_anything(tmp_path: Path, capsys: pytest.CaptureFixture
                                                                   ) -> None:
    """A CSV path that is a folder, a roster that is not there, or a database of another program (an nbgrader
    gradebook): one line, exit 2, and no token issued (the CSV is their only copy) nor any database touched."""
    roster, db = tmp_path / "ids.txt", tmp_path / "s.db"
    roster.write_text("alice\n")
    assert main(["tokens", "--roster", str(roster), "--out", str(tmp_path), "--db", str(db)]) == 2
    assert capsys.readouterr().err == f"error: --out {tmp_path}: a folder, not a file\n"
    missing = tmp_path / "mail" / "t.csv"  # a typo or a drive not mounted: the tokens would land on this disk
    assert main(["tokens", "--roster", str(roster), "--out", str(missing), "--db", str(db)]) == 2
    assert capsys.readouterr().err == f"error: --out {missing}: its folder {missing.parent} does not exist\n"
    assert not missing.parent.exists()
    assert main(["tokens", "--roster", str(tmp_path / "nope"), "--out", str(tmp_path / "t.csv"), "--db", str(db)]) == 2
    assert capsys.readouterr().err == f"error: --roster {tmp_path / 'nope'}: no such file\n"
    assert not db.exists()
    gradebook = tmp_path / "gradebook.db"
    with sqlite3.connect(gradebook) as connection:
        connection.execute("CREATE TABLE submitted_assignment (id INTEGER)")
    connection.close()
    before = gradebook.read_bytes()
    for command in (["tokens", "--roster", str(roster), "--out", str(tmp_path / "t.csv")], ["serve"]):
        assert main([*command, "--db", str(gradebook)]) == 2
        assert "not the service's database (its tables: submitted_assignment)" in capsys.readouterr().err
    assert gradebook.read_bytes() == before and not (tmp_path / "t.csv").exists()


def test_a_submission_gets_at_most_one_result(tmp_path: Path) -> None:
    """The second save of a result for the same submission is refused by the database and changes nothing."""
    store = Store(url_for(str(tmp_path / "s.db")))
    sid = store.add("alice", "fake", b"{}", "0" * 64, False, 1.0)
    assert store.ungraded() == [sid]
    row = Row("alice", "fake", "fake.ipynb", "q", 1.0, 1.0, "passed", say("upload.problem", reason="ok"))
    first = Result("alice", "fake", "fake.ipynb", "x", False, 1, (), {}, 0.1, (row,))
    assert store.save(sid, first, records.result_bytes(first), refused=False)
    assert not store.save(sid, first, records.result_bytes(first), refused=False)
    assert store.counts() == {"submissions": 1, "results": 1} and store.ungraded() == []
    store.close()


def test_a_result_of_an_older_form_is_regraded_at_start_not_crashed_on(tmp_path: Path) -> None:
    """A result stored before messages were codes (English text, no schema) reads as not graded yet, and the
    next start drops it so that the submission is graded again; current results are kept."""
    store = Store(url_for(str(tmp_path / "s.db")))
    old, new = (store.add(s, "fake", b"{}", "0" * 64, False, 1.0) for s in ("alice", "bob"))
    row = Row("bob", "fake", "fake.ipynb", "q", 1.0, 1.0, "passed", say("upload.problem", reason="ok"))
    current = Result("bob", "fake", "fake.ipynb", "x", False, 1, (), {}, 0.1, (row,))
    stale = json.loads(records.result_bytes(dataclasses.replace(current, student_id="alice")))
    stale.pop("schema")
    stale["rows"][0].update(message="q: all 4 cases match the reference", mistake="")
    stale["rows"][0].pop("mistakes")
    assert store.save(new, current, records.result_bytes(current), refused=False)
    assert store.save(old, current, json.dumps(stale).encode(), refused=False)
    assert store.stored(old).result is None and store.stored(new).result == current  # type: ignore[union-attr]
    assert store.forget_stale() == [old] and store.ungraded() == [old]
    assert store.forget_stale() == [] and store.counts() == {"submissions": 2, "results": 1}
    store.close()


def _infrastructure(student: str) -> Result:
    """A result recording a failure of the grader (a sandbox that broke mid-job), not a grade."""
    row = Row(student, "fake", "fake.ipynb", "q", 0.0, 1.0, "error",
              say("run.infrastructure", error="FileNotFoundError: /srv/cgroup/cpu/job-1"))
    return Result(student, "fake", "fake.ipynb", "x", False, 1, (), {}, 0.1, (row,))


def test_a_result_recording_a_grader_failure_is_graded_again_at_start(tmp_path: Path) -> None:
    """As `grade --resume` does: a grader's failure stored as a student's 0 was kept for good."""
    store = Store(url_for(str(tmp_path / "s.db")))
    broken, good = (store.add(s, "fake", b"{}", "0" * 64, False, 1.0) for s in ("alice", "bob"))
    failed = _infrastructure("alice")
    assert failed.grader_failed
    assert store.save(broken, failed, records.result_bytes(failed), refused=False)
    row = Row("bob", "fake", "fake.ipynb", "q", 1.0, 1.0, "passed", say("upload.problem", reason="ok"))
    current = Result("bob", "fake", "fake.ipynb", "x", False, 1, (), {}, 0.1, (row,))
    assert store.save(good, current, records.result_bytes(current), refused=False)
    assert store.forget_stale() == [broken] and store.ungraded() == [broken]
    assert store.stored(good).result == current  # type: ignore[union-attr]
    store.close()


def test_a_grader_failure_is_graded_once_more_before_the_student_sees_it(tmp_path: Path) -> None:
    from autograder.grading.drivers.service.grading import Grading

    store = Store(url_for(str(tmp_path / "s.db")))
    sid = store.add("alice", "fake", b"{}", "0" * 64, False, 1.0)
    row = Row("alice", "fake", "fake.ipynb", "q", 1.0, 1.0, "passed", say("upload.problem", reason="ok"))
    good = Result("alice", "fake", "fake.ipynb", "x", False, 1, (), {}, 0.1, (row,))
    replies = [_infrastructure("alice"), good]

    class Pool:
        def grade(self, sub: object) -> Result:
            return replies.pop(0)
    done: list[int] = []
    Grading(store, {"fake": Pool()}, 1, done.append)._grade(sid)  # type: ignore[dict-item]
    assert done == [sid] and store.stored(sid).result == good and not replies  # type: ignore[union-attr]
    store.close()
