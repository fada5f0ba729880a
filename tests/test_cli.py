"""`python -m autograder grade`: usage errors, an LMS zip end to end, and SIGKILL followed by --resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.cli import main

CORPUS = Path(__file__).parent / "corpus"
REPO = Path(__file__).parents[1]
sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks  # noqa: E402

CHECKS = ["--checks", "fakecourse.checks:get_assignment"]


def _cli(args: list[str], temporary: Path | None = None, **kwargs) -> subprocess.Popen:
    """Start the CLI in a subprocess that can import the fake course (its temporary folders in `temporary`)."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{CORPUS}"}
    if temporary is not None:
        env["TMPDIR"] = str(temporary)
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", *args, *CHECKS], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_usage_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Unknown assignment, missing folder, bad numbers: exit 2 and one line naming the problem."""
    (tmp_path / "subs").mkdir()
    assert main(["grade", str(tmp_path / "nope"), "--assignment", "fake", "--out", str(tmp_path / "o"), *CHECKS]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "subs"), "--assignment", "nosuch", "--out", str(tmp_path / "o"),
                 *CHECKS]) == 2
    assert "nosuch" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "subs"), "--assignment", "fake", "--out", str(tmp_path / "o"),
                 "--workers", "0", *CHECKS]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2



@pytest.mark.parametrize(("option", "make", "says"), [
    ("--out", lambda t: _file(t / "afile", b"x"), "a file, not a folder"),
    ("--out", lambda t: _file(t / "afile", b"x") / "graded", "is a file, not a folder"),
    ("--roster", lambda t: t / "nope.csv", "no such file"),
    ("--roster", lambda t: t / "subs", "a folder, not a file"),
    ("--roster", lambda t: _file(t / "r.csv", b"bj\xf6rn\n"), "not UTF-8 text (byte 0xf6"),
    ("--gradebook", lambda t: t / "nowhere" / "gb.db", "does not exist"),
    ("--gradebook", lambda t: _file(t / "gb.db", b"notes"), "not an SQLite database"),
    ("--book-url", lambda t: Path("course.example.org/book"), "not a web address; give it with http"),
    ("--out", lambda t: _made(t / "subs" / "ann" / "fake").parents[1] / "graded", "lies inside SUBMISSIONS"),
    ("--out", lambda t: _file(_made(t / "o" / "results") / "ann.json", b'{"assignment": "optimizers"}').parents[1],
     "holds the results of optimizers"),  # another assignment's OUT: its results/ann.json would be replaced
])
def test_a_bad_file_option_is_one_line_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture, option: str,
                                                       make: Callable[[Path], Path], says: str) -> None:
    """A file option that cannot work: exit 2 and one line naming the option, the path and the problem, before
    anything is made (no OUT folder, no worker started)."""
    (tmp_path / "subs").mkdir()
    path = make(tmp_path)
    out = tmp_path / "graded" if option != "--out" else path
    args = ["grade", str(tmp_path / "subs"), "--assignment", "fake", "--out", str(out), *CHECKS]
    assert main(args + ([option, str(path)] if option != "--out" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option} {path}: ") and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "graded").exists() and not (out / "logs").exists()


@pytest.mark.slow
def test_a_wrong_source_or_checks_is_one_line_and_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture
                                                                  ) -> None:
    """--checks that cannot be imported, --source that is a folder or another assignment's source notebook: exit 2,
    one line saying which, and no OUT folder (the worker started ahead of them is stopped, its folders removed)."""
    notebooks.write(notebooks.submission(), tmp_path / "subs" / "ann" / "fake" / "fake.ipynb")
    other = REPO / "solutions" / "optimizers" / "optimizers.ipynb"
    base = ["grade", str(tmp_path / "subs"), "--assignment", "fake", "--out", str(tmp_path / "out")]
    cases = [(["--checks", "nosuchmod:get_assignment", "--source", str(other)], "module 'nosuchmod' is not importable"),
             ([*CHECKS, "--source", str(tmp_path / "subs")], "a folder, not a notebook"),
             ([*CHECKS, "--source", str(other)], "no test cell for 3 question(s) of assignment 'fake' (test_scale, "
                                                 "test_norm2, test_square_grad): is it another assignment's source?")]
    for extra, says in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and says in err and err.count("\n") == 1, err
        assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    """Two TAs grading into one OUT at once would grade everyone twice and write the outputs over each other: while
    another process holds OUT (as a run does from reading the stored results to writing the outputs), a run is one
    line naming that process and changes nothing; once it has let go (or died), the run goes ahead."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    notebooks.write(notebooks.submission(), tmp_path / "subs" / "ann" / "fake" / "fake.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from autograder.grading.outputs import records\n"
                               f"with records.claimed(Path({str(out)!r})):\n    print('held', flush=True)\n"
                               "    time.sleep(120)\n"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    args = ["grade", str(tmp_path / "subs"), "--assignment", "fake", "--out", str(out), "--source", str(source),
            *CHECKS]
    try:
        assert main(args) == 2
        assert capsys.readouterr().err == (f"error: --out {out} is being written by another grading run (pid "
                                           f"{holder.pid}): let it finish, or give another --out\n")
        assert not (out / "results").exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(args) == 0 and (out / "results" / "ann.json").exists()


def _made(folder: Path) -> Path:
    """`folder`, made with its parents."""
    folder.mkdir(parents=True)
    return folder


def _file(path: Path, data: bytes) -> Path:
    """`path`, written with `data`."""
    path.write_bytes(data)
    return path


@pytest.mark.slow
def test_a_gradebook_that_cannot_be_written_keeps_the_grades_and_says_how_to_export(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The grades are saved before the gradebook is written: its failure is one line saying to rerun with --resume,
    which then grades nothing again and writes them."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    notebooks.write(notebooks.submission(), tmp_path / "subs" / "ann" / "fake" / "fake.ipynb")
    out, gradebook = tmp_path / "out", tmp_path / "gb" / "gradebook.db"
    args = ["grade", str(tmp_path / "subs"), "--assignment", "fake", "--out", str(out), "--source", str(source),
            *CHECKS, "--gradebook", f"sqlite:///{gradebook}"]
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"error: --gradebook sqlite:///{gradebook}: cannot be written (") and "--resume" in err, err
    graded = (out / "results" / "ann.json").read_bytes()
    gradebook.parent.mkdir()
    assert main([*args, "--resume"]) == 0
    assert (out / "results" / "ann.json").read_bytes() == graded  # kept, not graded again
    assert sqlite3.connect(gradebook).execute("SELECT count(*) FROM submitted_assignment").fetchone() == (1,)


def test_help_names_every_command(capsys: pytest.CaptureFixture) -> None:
    """`--help` says what each command is for (`grade --help` names what it writes: test_lms_zip_end_to_end)."""
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split("positional arguments")[0].split())
    assert all(command in top for command in ("grade", "serve", "tokens", "release", "key")), top
    assert not top.rstrip().endswith(","), top


def test_a_misspelled_option_is_one_line_with_a_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`--assignement` (also before the options it leaves missing): one line, 'did you mean --assignment?', exit 2."""
    for args in (["grade", "x", "--assignement", "fake", "--out", "o"], ["grade", "x", "--out=o", "--assignement=f"],
                 ["key", "export", "--fiel", "k"]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1, err
        assert "did you mean --assignment?" in err or "did you mean --file?" in err
    with pytest.raises(SystemExit):
        main(["grade", "x", "--out", "o", "--frobnicate", "red"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized option --frobnicate" in err and "did you mean" not in err
    with pytest.raises(SystemExit):  # a missing option: one line too (argparse prints the whole usage)
        main(["grade", "x", "--out", "o"])
    assert capsys.readouterr().err.count("\n") == 1
    assert not Path("o").exists() and not (tmp_path / "o").exists()

def test_seed_option_is_gone_and_the_key_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """--seed no longer exists (inputs come from the course key); a guessable key or unknown --student exit 2."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    notebooks.write(notebooks.submission(), tmp_path / "subs" / "alice" / "fake" / "fake.ipynb")
    args = ["grade", str(tmp_path / "subs"), "--assignment", "fake", "--out", str(tmp_path / "o"),
            "--source", str(source), *CHECKS]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--seed", "3"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    assert main([*args, "--student", "bob"]) == 2
    assert capsys.readouterr().err.strip() == f"error: --student bob: no such student in {tmp_path / 'subs'}"
    monkeypatch.setenv("COURSE_GRADING_KEY", "short")
    assert main(args) == 2
    assert "COURSE_GRADING_KEY" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results").exists()


@pytest.mark.slow
def test_lms_zip_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A Canvas + Moodle zip: every student gets rows, the LATE marker is kept, unknown names get a row."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    honest = json.dumps(notebooks.submission()).encode()
    wrong = json.dumps(notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"})).encode()
    with zipfile.ZipFile(tmp_path / "canvas.zip", "w") as archive:
        archive.writestr("doejohn_LATE_123_456_fake-1.ipynb", honest)
        archive.writestr("Mary Major_789_assignsubmission_file_/fake.ipynb", wrong)
        archive.writestr("whoever.ipynb", honest)
    out = tmp_path / "out"
    proc = _cli([str(tmp_path / "canvas.zip"), "--assignment", "fake", "--out", str(out), "--source", str(source),
                 "--workers", "1", "--gradebook", str(tmp_path / "gradebook.db")])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_student: dict[str, list[str]] = {}
    for row in rows:
        by_student.setdefault(row["student_id"], []).append(row["status"])
    assert by_student == {"doejohn_123": ["passed"] * 3, "mary-major_789": ["failed", "passed", "passed"],
                          "unmatched-whoever": ["malformed"] * 3}
    assert json.loads((out / "results" / "doejohn_123.json").read_text())["late"] is True
    assert "graded 3 submission(s)" in err and "wrote 3 students into the gradebook" in err
    assert "\r[" not in err  # no progress bar when stderr is not a terminal
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    helped = capsys.readouterr().out
    written = {entry.name + ("/" if entry.is_dir() else "") for entry in out.iterdir()} - {"logs/"}
    assert {name for name in written if f"OUT/{name}" not in " ".join(helped.split())} == set()  # help names them all


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing(tmp_path: Path) -> None:
    """Kill the grader mid-batch with SIGKILL: its hidden inputs do not outlive it; --resume grades only the rest and
    keeps finished results."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    slow = {"ans_scale": "import time\ndef scale(x, a):\n    time.sleep(0.15)\n    return a * x\n"}
    students = [f"s{i}" for i in range(6)]
    for student in students:
        notebooks.write(notebooks.submission(slow), tmp_path / "subs" / student / "fake" / "fake.ipynb")
    out = tmp_path / "out"
    args = [str(tmp_path / "subs"), "--assignment", "fake", "--out", str(out), "--source", str(source),
            "--workers", "1"]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    proc = _cli(args, temporary)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.1)
    assert list(temporary.glob("grading-*/exchange-0"))  # where the hidden inputs are written
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    while list(temporary.iterdir()) and time.time() < deadline:
        time.sleep(0.05)
    assert not list(temporary.iterdir())
    first = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert 2 <= len(first) < len(students), "the kill should land mid-batch"
    resumed = _cli([*args, "--resume"])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"graded {len(students) - len(first)} submission(s)" in err
    for name, data in first.items():
        assert (out / "results" / name).read_bytes() == data  # kept, not regraded
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted({r["student_id"] for r in rows}) == students and all(r["status"] == "passed" for r in rows)


def test_the_first_worker_starts_before_the_grader_imports_torch(tmp_path: Path) -> None:
    """`grade` starts its first sandboxed worker before its own process imports torch (1-2 s that the worker's start
    then overlaps), also when OUT already holds results: checking which assignment they are of imported torch first,
    and every run and every regrade waited that long for its first result."""
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    (out / "results" / "alice.json").write_text(json.dumps({"assignment": "optimizers"}))
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    probe = ("import sys\nfrom autograder.grading.core import starting\n"
             "def begin(*args, **kwargs):\n    print('TORCH', 'torch' in sys.modules)\n    raise SystemExit(0)\n"
             "starting.begin = begin\nfrom autograder import cli\n"
             f"cli.main(['grade', {str(tmp_path / 'subs')!r}, '--assignment', 'optimizers', '--out', {str(out)!r}])\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "TORCH False" in done.stdout, done.stdout + done.stderr[-2000:]
