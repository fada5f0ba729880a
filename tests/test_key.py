"""autograder.key: where the course key comes from, and one seed derivation for the grader and nbgrader."""

from __future__ import annotations

import argparse
import stat
import threading
from pathlib import Path

import pytest
import torch

from autograder import key, keytool
from autograder.checks import ASSIGNMENTS
from autograder.checks.notebook import FIXED_SEED, seed_for
from autograder.cli import main
from autograder.grading.core import judging
from autograder.grading.inbox.collect import collect

KEY = "a-course-key-of-reasonable-length"


@pytest.fixture
def keyless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No COURSE_GRADING_KEY; the key file goes under a temporary XDG_CONFIG_HOME. Returns its path."""
    monkeypatch.delenv(key.ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "taming-exploding-gradients" / "grading.key"


def test_environment_variable_wins(keyless: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(key.ENV, f"  {KEY}\n")
    assert key.load_key() == KEY.encode()
    assert not keyless.exists()  # nothing written when the key comes from the environment


def test_key_file_is_created_once_private_and_reused(keyless: Path) -> None:
    first = key.load_key()
    assert key.key_path() == keyless and keyless.is_file()
    assert stat.S_IMODE(keyless.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert key.load_key() == first  # the same key on every later run
    assert [p.name for p in keyless.parent.iterdir()] == ["grading.key"]  # no temporary file left


def test_concurrent_first_use_agrees_on_one_key(keyless: Path) -> None:
    """Two nbgrader kernels starting at once must not end up with two keys."""
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(key.load_key())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and found[0] == keyless.read_bytes().strip()


@pytest.mark.parametrize("value", ["", "short", " " * 40])
def test_a_guessable_key_is_refused_naming_where_it_came_from(keyless: Path, monkeypatch: pytest.MonkeyPatch,
                                                              value: str) -> None:
    monkeypatch.setenv(key.ENV, value)
    with pytest.raises(ValueError, match=key.ENV):
        key.load_key()
    monkeypatch.delenv(key.ENV)
    keyless.parent.mkdir(parents=True)
    keyless.write_text(value)
    with pytest.raises(ValueError, match="grading.key"):
        key.load_key()


def test_seeds_depend_on_key_assignment_student_and_question() -> None:
    base = key.question_seed(b"k" * 20, "optimizers", "alice", "adam_step_basic")
    assert base == key.question_seed(b"k" * 20, "optimizers", "alice", "adam_step_basic")  # stable
    others = {key.question_seed(b"K" * 20, "optimizers", "alice", "adam_step_basic"),
              key.question_seed(b"k" * 20, "clipping", "alice", "adam_step_basic"),
              key.question_seed(b"k" * 20, "optimizers", "bob", "adam_step_basic"),
              key.question_seed(b"k" * 20, "optimizers", "alice", "adamw_step")}
    assert base not in others and len(others) == 4
    assert 0 <= base < 2**63
    assert key.key_id(b"k" * 20) != key.key_id(b"K" * 20) and len(key.key_id(b"k" * 20)) == 12


def test_notebook_and_batch_grader_draw_the_same_hidden_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """seed_for (nbgrader's test cells) and judging.draw_cases (the batch grader) agree for every question."""
    monkeypatch.setenv(key.ENV, KEY)
    for aid, assignment in ASSIGNMENTS.items():
        seed = key.assignment_seed(KEY.encode(), aid)  # what the pipeline hands to grade_submission
        drawn = judging.draw_cases(assignment, key.mix(seed, "alice"))
        for q in assignment.questions:
            in_notebook = q.make_cases(torch.Generator().manual_seed(seed_for(aid, q.grade_id, "alice")), True)
            assert judging._same(drawn[q.grade_id], in_notebook), (aid, q.grade_id)
            assert seed_for(aid, q.grade_id, "alice") == key.question_seed(KEY.encode(), aid, "alice", q.grade_id)


@pytest.mark.parametrize("folder", ["Ann Lee", "Alice", "carol@uni.edu", "d" * 70])
def test_nbgrader_and_batch_grader_seed_any_student_folder_alike(folder: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An nbgrader student folder whose name is no safe id as it is: the batch grader seeds with the id collect
    makes of it, and so must the test cells (or a draw-dependent score differs between the two graders)."""
    monkeypatch.setenv(key.ENV, KEY)
    notebook = tmp_path / "subs" / folder / "optimizers" / "optimizers.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}", encoding="utf-8")
    (sub,) = collect(tmp_path / "subs", "optimizers", "optimizers.ipynb")
    seed = key.mix(key.assignment_seed(KEY.encode(), "optimizers"), sub.student_id)  # as grade_submission seeds
    assert sub.student_id != folder
    assert seed_for("optimizers", "adam_step_basic", folder) == key.mix(seed, "adam_step_basic")


def test_outside_autograde_the_fixed_seed_needs_no_key(keyless: Path) -> None:
    assert seed_for("optimizers", "adam_step_basic", None) == FIXED_SEED
    assert not keyless.exists()


def _machine(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """Act as another machine: its own HOME and XDG_CONFIG_HOME, no COURSE_GRADING_KEY. Returns its key file."""
    monkeypatch.delenv(key.ENV, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home / ".config" / "taming-exploding-gradients" / "grading.key"


def test_creating_a_key_prints_where_and_its_fingerprint(keyless: Path, capsys: pytest.CaptureFixture) -> None:
    made = key.load_key()
    err = capsys.readouterr().err
    assert err == key.created_line(keyless, made) + "\n"
    assert str(keyless) in err and key.key_id(made) in err and "key export" in err
    key.load_key()
    assert capsys.readouterr().err == ""  # said once, when the file is made, not on every use


def test_key_lifecycle_on_two_machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    """Machine A creates and exports; machine B imports (file or environment line): same fingerprint, same seeds."""
    first = _machine(monkeypatch, tmp_path / "a")
    assert main(["key", "show"]) == 2 and "no grading key yet" in capsys.readouterr().err
    assert main(["key", "create"]) == 0
    assert f"created a new grading key in {first}" in capsys.readouterr().err
    fingerprint = key.key_id(first.read_bytes().strip())
    assert main(["key", "show"]) == 0 and capsys.readouterr().out == (
        f"grading key from {first}, fingerprint {fingerprint}\n")
    assert main(["key", "create"]) == 2 and "not replaced" in capsys.readouterr().err  # never overwritten
    seed_a = key.student_seed(key.load_key(), "optimizers", "alice")
    assert main(["key", "export"]) == 0
    exported = capsys.readouterr()
    assert exported.out.startswith(f"export {key.ENV}=") and fingerprint in exported.err
    copy = tmp_path / "usb" / "grading.key"
    copy.parent.mkdir()
    assert main(["key", "export", "--file", str(copy)]) == 0
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    capsys.readouterr()

    second = _machine(monkeypatch, tmp_path / "b")
    assert main(["key", "create", "--from", str(copy)]) == 0
    assert stat.S_IMODE(second.stat().st_mode) == 0o600 and second.read_bytes() == first.read_bytes()
    assert fingerprint in capsys.readouterr().err
    assert key.student_seed(key.load_key(), "optimizers", "alice") == seed_a

    third = _machine(monkeypatch, tmp_path / "c")  # the printed line, pasted into a file or set in the shell
    (tmp_path / "line.sh").write_text(exported.out)
    assert main(["key", "create", "--from", str(tmp_path / "line.sh")]) == 0
    assert key.key_id(third.read_bytes().strip()) == fingerprint
    _machine(monkeypatch, tmp_path / "d")
    monkeypatch.setenv(key.ENV, exported.out.split("=", 1)[1].strip().strip("'"))
    assert key.student_seed(key.load_key(), "optimizers", "alice") == seed_a
    assert main(["key", "show"]) == 0 and f"from the environment variable {key.ENV}" in capsys.readouterr().out
    assert main(["key", "create"]) == 2 and key.ENV in capsys.readouterr().err
    assert not (tmp_path / "d" / ".config").exists()  # nothing written while the environment holds the key


def test_key_files_that_cannot_work_are_one_line(keyless: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`--from` missing or a folder, `--file` a folder, under a file or in a missing folder (a typo, a drive not
    mounted: the key would land on this disk): exit 2, one line naming the option, the path and the problem; no key
    file or folder is made or written."""
    (tmp_path / "afile").write_text("x")
    for args, says in ((["create", "--from", str(tmp_path / "nope")], "no such file"),
                       (["create", "--from", str(tmp_path)], "a folder, not a file")):
        assert main(["key", *args]) == 2
        assert capsys.readouterr().err == f"error: {args[1]} {args[2]}: {says}\n"
        assert not keyless.exists()
    assert main(["key", "create"]) == 0
    capsys.readouterr()
    for target, says in ((tmp_path, "a folder, not a file"),
                         (tmp_path / "afile" / "k", f"{tmp_path / 'afile'} is a file, not a folder"),
                         (tmp_path / "usb" / "k.key", f"its folder {tmp_path / 'usb'} does not exist")):
        assert main(["key", "export", "--file", str(target)]) == 2
        assert capsys.readouterr().err == f"error: --file {target}: {says}\n"
    assert (tmp_path / "afile").read_text() == "x" and not (tmp_path / "usb").exists()


def test_short_key_messages_name_their_source_and_fix(keyless: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv(key.ENV, "short")
    with pytest.raises(ValueError, match=f"from the environment variable {key.ENV} .* set {key.ENV}") as env:
        key.load_key()
    assert "delete the file" not in str(env.value)
    monkeypatch.delenv(key.ENV)
    keyless.parent.mkdir(parents=True)
    keyless.write_text("short")
    with pytest.raises(ValueError, match=f"from {keyless} .* delete the file"):
        key.load_key()
    (tmp_path / "bad").write_text("tiny")
    _machine(monkeypatch, tmp_path / "z")
    with pytest.raises(ValueError) as imported:
        keytool.run(argparse.Namespace(action="create", origin=tmp_path / "bad", replace=False))
    assert str(imported.value).startswith(f"--from {tmp_path / 'bad'}: the key is 4 characters long; at least 16")
    assert "key export --file" in str(imported.value)  # the fix for a --from file: copy it again from the exporter
    assert "delete the file" not in str(imported.value) and key.ENV + " to" not in str(imported.value)


def test_the_seed_derivation_is_frozen() -> None:
    """Exact values: changing the derivation would silently change every student's hidden inputs mid-course (and
    disagree with results and nbgrader grades already given). Mutation testing found no other test pinning them."""
    assert key.key_id(b"k" * 20) == "89d540dc6ac9"
    assert key.mix(12345, "alice") == 7242383917606196341
    assert key.mix(12345, "alice", "q1") == 9153272712807211404
    assert key.assignment_seed(b"k" * 20, "optimizers") == 1565785709506647140
    assert key.question_seed(b"k" * 20, "optimizers", "alice", "adam_step_basic") == 9196987779152896496


def test_key_file_defaults_and_boundaries(keyless: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert key.key_path() == tmp_path / "home" / ".config" / "taming-exploding-gradients" / "grading.key"
    made = key.load_key()
    assert len(made) == 64 and int(made, 16) >= 0  # 256 random bits, hex
    assert stat.S_IMODE(key.key_path().parent.stat().st_mode) == 0o700  # the folder is private too
    monkeypatch.setenv(key.ENV, "x" * key.MIN_LENGTH)  # exactly the minimum is enough
    assert key.load_key() == b"x" * key.MIN_LENGTH
    monkeypatch.setenv(key.ENV, "x" * (key.MIN_LENGTH - 1))
    with pytest.raises(ValueError) as short:
        key.load_key()
    assert str(short.value) == (
        f"grading key from the environment variable {key.ENV} is 15 characters long; at least 16 are needed: set "
        f"{key.ENV} to the line `python -m autograder key export` prints on the machine that graded first, or "
        "unset it to use the key file")
    monkeypatch.delenv(key.ENV)
    keyless.parent.mkdir(parents=True)
    keyless.write_text("y" * 15)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(keyless.parents[1]))
    with pytest.raises(ValueError) as from_file:
        key.load_key()
    assert str(from_file.value).endswith(
        "copy the course's key there with `python -m autograder key create --from FILE --replace`, or delete the file "
        "to have a new one made (every hidden input then changes)")
    keyless.unlink()
    keyless.mkdir()  # something that is not a readable file where the key should be
    with pytest.raises(ValueError, match=f"grading key file {keyless} cannot be read: Is a directory"):
        key.load_key()


def _exported(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, value: str) -> tuple[str, str]:
    """What `key export` prints for the key `value` (held in the environment): (stdout, stderr)."""
    monkeypatch.setenv(key.ENV, value)
    assert main(["key", "export"]) == 0
    out = capsys.readouterr()
    monkeypatch.delenv(key.ENV)
    return out.out, out.err


@pytest.mark.parametrize("value", [KEY, "correct horse battery staple", "it's a key with quotes\"$`!",
                                   "clé-du-cours-été", "#starts-with-a-hash", "x" * key.MAX_LENGTH])
def test_from_reads_a_terminal_copy_of_key_export_with_the_same_fingerprint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, value: str) -> None:
    """`key export > k.txt 2>&1` (the comment line and the export line) and `key export --file` both import as the
    very key the grader uses on the exporting machine: any printable key of the minimum length the environment takes."""
    _machine(monkeypatch, tmp_path / "a")
    out, err = _exported(monkeypatch, capsys, value)
    fingerprint = key.key_id(value.encode())
    copied = tmp_path / "k.txt"
    for n, text in enumerate((err + out, out, (err + out).replace("\n", "\r\n"))):
        copied.write_text(text)
        second = _machine(monkeypatch, tmp_path / f"b{n}")
        assert main(["key", "create", "--from", str(copied)]) == 0, capsys.readouterr().err
        assert f"imported the grading key in {second} (fingerprint {fingerprint})" in capsys.readouterr().err
        assert key.key_id(key.load_key()) == fingerprint
    _machine(monkeypatch, tmp_path / "a")
    monkeypatch.setenv(key.ENV, value)
    assert main(["key", "export", "--file", str(tmp_path / "k.key")]) == 0
    monkeypatch.delenv(key.ENV)
    _machine(monkeypatch, tmp_path / "c")
    assert main(["key", "create", "--from", str(tmp_path / "k.key")]) == 0, capsys.readouterr().err
    assert key.key_id(key.load_key()) == fingerprint


HEX = "1495c9539bb4398c11952f50cc0351292398bf9828fcdfcff12887a388fff807"


@pytest.mark.parametrize(("text", "says"), [
    ("student_id,total\nann,9.5\nbob,7\n" + "x,1\n" * 2000, "2003 lines could be the key (lines 1 and 2, ...)"),
    (f"export {key.ENV}={HEX}\nexport {key.ENV}={HEX}x\n", "2 lines could be the key (lines 1 and 2)"),
    (f"$ python -m autograder key export\nexport {key.ENV}={HEX}\n", "2 lines could be the key (lines 1 and 2)"),
    (f"# grading key from somewhere, fingerprint {key.key_id(HEX.encode())}: keep this line secret\n",
     "only comment lines, no key"),
    ("\n \n", "empty"),
    (f"{HEX[:32]} {HEX[32:]}\n", "whitespace inside the key"),
    (f"{HEX[:32]}\t{HEX[32:]}\n", "a non-printable character (\\t)"),
    (f"{HEX}\x00\n", "a non-printable character (\\x00)"),
    (f"export {key.ENV}='{HEX}\x1b[0m'\n", "a non-printable character (\\x1b)"),
    ("short-key\n", "the key is 9 characters long; at least 16 are needed"),
    (f"export {key.ENV}=\n", "no key after = in the export line"),
    ("k" * (key.MAX_LENGTH + 1), f"the key is {key.MAX_LENGTH + 1} characters long; at most {key.MAX_LENGTH}"),
    (f"{key.ENV}={HEX}\n", f"line 1 is not the line `export {key.ENV}=...`"),
    (f"export OTHER={HEX}\n", f"line 1 is not the line `export {key.ENV}=...`"),
    (f"export {key.ENV}=correct horse battery staple\n", "whitespace inside the key outside quotes"),
    (f"export {key.ENV}={HEX}  # the course key\n", "whitespace inside the key outside quotes (or text after it)"),
    (f"export {key.ENV}='{HEX}\n", "an unclosed quote"),
    (f'export {key.ENV}="$HOME-{HEX}"\n', "not quoted as `key export` writes it"),
])
def test_from_refuses_anything_but_a_key_file_or_what_export_prints(keyless: Path, tmp_path: Path, text: str,
                                                                    says: str, capsys: pytest.CaptureFixture) -> None:
    """One line naming the --from file, the problem and what was expected; nothing is written."""
    given = tmp_path / "grades.csv"
    given.write_text(text)
    assert main(["key", "create", "--from", str(given)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --from {given}: ") and says in err and err.count("\n") == 1
    assert err.endswith(f"; {keytool.EXPECTED}, copied from the machine that graded first\n")
    assert not keyless.exists()


def test_from_onto_a_machine_with_its_own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    """Same key: said, exit 0. Another key: one line with both fingerprints and `--replace`, which keeps the old
    key beside the file and says where."""
    own = _machine(monkeypatch, tmp_path / "b")
    assert main(["key", "create"]) == 0
    mine = own.read_bytes().strip()
    capsys.readouterr()
    course = tmp_path / "k.key"
    course.write_text(KEY + "\n")
    new, old = key.key_id(KEY.encode()), key.key_id(mine)
    backup = own.with_name(f"grading.key.old-{old}")
    assert main(["key", "create", "--from", str(course)]) == 2
    assert capsys.readouterr().err == (
        f"error: this machine already has another grading key in {own} (fingerprint {old}, not {new} as in {course}); "
        f"to grade with the course's key run `python -m autograder key create --from {course} --replace` (the old key "
        f"is kept as {backup}; hidden inputs graded here then change)\n")
    assert own.read_bytes().strip() == mine and not backup.exists()
    assert main(["key", "create", "--replace"]) == 2 and "--replace goes with --from" in capsys.readouterr().err
    assert main(["key", "create", "--from", str(course), "--replace"]) == 0
    assert capsys.readouterr().err == (f"replaced the grading key in {own} (fingerprint {old} -> {new}); the old key "
                                       f"is kept in {backup}\n")
    assert own.read_bytes() == KEY.encode() + b"\n" and backup.read_bytes().strip() == mine
    assert stat.S_IMODE(own.stat().st_mode) == 0o600 and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert sorted(p.name for p in own.parent.iterdir()) == ["grading.key", backup.name]  # no temporary file left
    for extra in ([], ["--replace"]):
        assert main(["key", "create", "--from", str(course), *extra]) == 0
        assert capsys.readouterr().err == f"{own} already holds this grading key (fingerprint {new}); nothing to do\n"
    assert sorted(p.name for p in own.parent.iterdir()) == ["grading.key", backup.name]
    own.write_text("short")  # a broken key file of its own is replaced the same way
    assert main(["key", "create", "--from", str(course)]) == 2 and "--replace" in capsys.readouterr().err
    assert main(["key", "create", "--from", str(course), "--replace"]) == 0
    assert own.with_name(f"grading.key.old-{key.key_id(b'short')}").read_text() == "short"


def test_export_says_when_from_cannot_carry_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    """The environment takes a key over several lines or longer than `--from` reads: the line still works in a shell,
    and export says so instead of writing a file that `--from` refuses."""
    _machine(monkeypatch, tmp_path / "a")
    for value, says in (("first-line-of-it\nsecond-line", "non-printable character (\\n)"),
                        ("k" * (key.MAX_LENGTH + 1), "at most")):
        out, err = _exported(monkeypatch, capsys, value)
        assert out.startswith(f"export {key.ENV}=") and says in err and "paste it into the shell" in err
        monkeypatch.setenv(key.ENV, value)
        assert main(["key", "export", "--file", str(tmp_path / "k.key")]) == 2
        assert says in capsys.readouterr().err and not (tmp_path / "k.key").exists()
