"""Ctrl-C (SIGINT) and SIGTERM stop `python -m autograder grade` cleanly, with a real subprocess and sandbox.

Workers are killed, the temporary folder with the hidden inputs is gone, finished results stay, one line
says how many were graded and to rerun with --resume, and the resumed run finishes the batch.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import CORPUS, REPO
from tests.processes import mentioning

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

pytestmark = pytest.mark.slow
STUDENTS = [f"s{i}" for i in range(8)]
SLOW = {"ans_scale": "import time\ndef scale(x, a):\n    time.sleep(0.25)\n    return a * x\n"}


def _start(args: list[str], tmp: Path) -> subprocess.Popen:
    """The CLI in a subprocess whose temporary files go to `tmp` (so leftovers can be seen)."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{CORPUS}", "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", *args,
                             "--checks", "fakecourse.checks:get_assignment"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_and_resume_finishes(tmp_path: Path, signum: int, code: int) -> None:
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for student in STUDENTS:
        notebooks.write(notebooks.submission(SLOW), tmp_path / "subs" / student / "fake" / "fake.ipynb")
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    args = [str(tmp_path / "subs"), "--assignment", "fake", "--out", str(out), "--source", str(source),
            "--workers", "2"]
    proc = _start(args, tmp)
    deadline = time.time() + 180
    while time.time() < deadline and not list((out / "results").glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)

    assert proc.returncode == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(rf"stopped by {signal.Signals(signum).name}: (\d+) of 8 submission\(s\) graded and saved "
                         r"in this run; rerun the same command with --resume to grade the other (\d+)", last)
    assert match, err
    graded = int(match.group(1))
    assert 1 <= graded < len(STUDENTS) and int(match.group(2)) == len(STUDENTS) - graded
    assert list(tmp.iterdir()) == []  # no folder with hidden inputs (or anything else) left behind
    assert not mentioning(str(tmp_path)), "a worker survived the stop"
    kept = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert len(kept) == graded
    assert all(json.loads(data)["rows"][0]["status"] == "passed" for data in kept.values())  # complete results

    resumed = _start([*args, "--resume"], tmp)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"graded {len(STUDENTS) - graded} submission(s)" in err
    assert all((out / "results" / name).read_bytes() == data for name, data in kept.items())
    assert len(list((out / "results").glob("*.json"))) == len(STUDENTS)
    assert list(tmp.iterdir()) == []


def test_progress_is_a_line_per_student_at_most_every_second_when_piped(tmp_path: Path) -> None:
    """No bar or carriage returns in a log: 'graded n/N (rate, ETA)' lines instead, the first student's and the
    last one's always, those between at most one a second."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for student in STUDENTS[:6]:
        notebooks.write(notebooks.submission(), tmp_path / "subs" / student / "fake" / "fake.ipynb")
    proc = _start([str(tmp_path / "subs"), "--assignment", "fake", "--out", str(tmp_path / "out"),
                   "--source", str(source), "--workers", "1"], tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if line.startswith("graded ") and "ETA" in line]
    counts = [int(line.split(" (")[0].split()[1].split("/")[0]) for line in lines]
    assert counts[0] == 1 and counts[-1] == 6 and counts == sorted(set(counts)), lines
    assert re.search(r"\(\d+\.\d\d students/s, ETA ", lines[0]) and "\r" not in err
