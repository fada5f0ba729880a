"""Grading on a Dask cluster (`--scheduler`): a real local cluster (a scheduler and two worker processes on
127.0.0.1) grades like the local workers, survives a worker killed mid-batch, and refuses unusable clusters.

The replies a worker sends back are also checked on their own (`replies.accept`): a result that is about
another student, has a score out of range or rows in the wrong order never reaches OUT.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.cli import main
from autograder.grading.core.model import Result, Submission
from autograder.grading.drivers import pipeline
from autograder.grading.drivers.cluster import batch as cluster
from autograder.grading.drivers.cluster import replies  # see below
from autograder.grading.outputs import records
from autograder.grading.runner import limits
from autograder.grading.runner.assignments import load_assignment
from autograder.grading.runner.wire import Limits
from autograder.message import say
from tests.paths import CORPUS, REPO

# pipeline is imported here, at collection, because grade() binds sys.stderr as a default argument when
# first imported: imported inside a capsys test it would keep that test's stream, closed afterwards.
distributed = pytest.importorskip("distributed")  # the `cluster` extra; pinned in requirements.txt

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks  # noqa: E402

CHECKS = ["--checks", "fakecourse.checks:get_assignment"]
KEY = "cluster-test-key-0123456789abcdef"
SLOW_SCALE = {"ans_scale": "import time\ndef scale(x, a):\n    time.sleep(0.1)\n    return a * x\n"}

pytestmark = pytest.mark.slow


def _empty_cluster() -> Any:
    """A scheduler on loopback with no workers (and its dashboard on a free loopback port)."""
    import distributed

    return distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")

def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fixed course key, the fake course importable in every worker process, and the workers' own TMPDIR."""
    saved = {name: os.environ.get(name) for name in ("COURSE_GRADING_KEY", "PYTHONPATH", "TMPDIR")}
    node_tmp = tmp_path_factory.mktemp("node-tmp")  # where the Dask workers keep their sandboxes' files
    os.environ.update(COURSE_GRADING_KEY=KEY, PYTHONPATH=os.pathsep.join([str(REPO), str(CORPUS)]),
                      TMPDIR=str(node_tmp))
    yield node_tmp
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def local_cluster(env: Path) -> Iterator[Any]:
    """A scheduler and two single-threaded worker processes on the loopback interface."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", memory_limit=0) as running:
        yield running


@pytest.fixture(scope="module")
def client(local_cluster: Any) -> Iterator[Any]:
    """The test's own client (to look at the workers and kill one), not the grader's."""
    with distributed.Client(local_cluster.scheduler_address, set_as_default=False) as own:
        yield own


def _write_cohort(root: Path) -> Path:
    """Honest, wrong, partly wrong, forbidden, crashing and malformed submissions, plus the source notebook."""
    cohort: dict[str, Any] = {
        "honest": notebooks.submission(),
        "wrong": notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"}),
        "partial": notebooks.submission({"ans_norm2": "def norm2(x):\n    return x.abs().sum() if len(x) > 4 "
                                                      "else torch.sqrt((x * x).sum())\n"}),
        "autograd": notebooks.submission({"ans_square_grad": "def square_grad(x):\n    x = x.clone()."
                                                             "requires_grad_()\n    (x * x).sum().backward()\n"
                                                             "    return x.grad\n"}),
        "exits": notebooks.submission({"ans_norm2": "import os\nos._exit(3)\n"}),
        "truncated": json.dumps(notebooks.submission()).encode()[:200],
    }
    for student, nb in cohort.items():
        notebooks.write(nb, root / "subs" / student / "fake" / "fake.ipynb")
    return notebooks.write(notebooks.source_notebook(), root / "fake.ipynb")


def _grade(subs: Path, out: Path, source: Path, *extra: str) -> int:
    """The CLI, in this process."""
    return main(["grade", str(subs), "--assignment", "fake", "--out", str(out), "--source", str(source),
                 "--timeout", "5", *CHECKS, *extra])


def _rows(out: Path) -> list[dict[str, str]]:
    """grades.csv as dicts."""
    with open(out / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, local_cluster: Any) -> Path:
    """The cohort graded twice with the same key: OUT local/ by local workers, OUT dask/ on the cluster."""
    root = tmp_path_factory.mktemp("cohort")
    source = _write_cohort(root)
    assert _grade(root / "subs", root / "local", source, "--workers", "2") == 0
    assert _grade(root / "subs", root / "dask", source, "--scheduler", local_cluster.scheduler_address) == 0
    return root


def _files_left(node_tmp: Path) -> list[Path]:
    """Files (not empty folders) left in the workers' grading folders, wherever in their scratch space."""
    return [p for folder in node_tmp.rglob("grading-node-*") for p in folder.rglob("*") if p.is_file()]


def test_cluster_grades_equal_local_grades(graded: Path, client: Any, env: Path) -> None:
    """Same key, same notebooks: identical grades.csv, seeds and messages; each result names its worker."""
    assert (graded / "dask" / "grades.csv").read_bytes() == (graded / "local" / "grades.csv").read_bytes()
    statuses = {(r["student_id"], r["grade_id"]): r["status"] for r in _rows(graded / "dask")}
    assert statuses[("honest", "test_norm2")] == "passed" and statuses[("wrong", "test_scale")] == "failed"
    assert statuses[("autograd", "test_square_grad")] == "forbidden"
    assert statuses[("truncated", "test_scale")] == "malformed" and "partial" in statuses.values()
    local = records.load_results(graded / "local", "fake")
    remote = records.load_results(graded / "dask", "fake")
    assert sorted(local) == sorted(remote) == ["autograd", "exits", "honest", "partial", "truncated", "wrong"]
    workers = set(client.scheduler_info()["workers"])
    for student, result in remote.items():
        assert result.rows == local[student].rows and result.seed == local[student].seed
        assert result.notes == local[student].notes and result.key_id == local[student].key_id
        assert result.worker in workers and result.seconds >= 0.0
        assert result.sandbox == local[student].sandbox
    report = (graded / "dask" / "report.html").read_text()
    assert "<th>worker</th>" in report and all(str(r.worker) in report for r in remote.values())
    assert "<th>worker</th>" not in (graded / "local" / "report.html").read_text()
    assert (graded / "dask" / "feedback" / "honest").is_dir()
    assert not any(f.name.startswith("grading-node-") for f in (graded / "dask").rglob("*"))
    assert _files_left(env) == []  # the plugin's teardown wiped the workers' exchange folders and logs


def test_resume_on_the_cluster(graded: Path, tmp_path: Path, local_cluster: Any) -> None:
    """--resume grades only the student without a result (to the same grade); the others' files are untouched."""
    out, address = tmp_path / "out", local_cluster.scheduler_address
    shutil.copytree(graded / "dask", out)
    (out / "results" / "wrong.json").unlink()
    kept = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert _grade(graded / "subs", out, graded / "fake.ipynb", "--scheduler", address, "--resume") == 0
    assert {p.name: p.read_bytes() for p in (out / "results").glob("*.json") if p.name in kept} == kept
    before = records.load_results(graded / "dask", "fake")["wrong"]
    assert records.load_results(out, "fake")["wrong"].rows == before.rows  # regraded, same grade


def test_a_worker_killed_mid_batch_loses_and_duplicates_nobody(tmp_path: Path, client: Any, local_cluster: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL the worker busy with a student once the first result is saved: everyone is saved exactly once."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    students = [f"s{i}" for i in range(8)]
    for student in students:
        notebooks.write(notebooks.submission(SLOW_SCALE), tmp_path / "subs" / student / "fake" / "fake.ipynb")
    out = tmp_path / "out"
    saves: Counter[str] = Counter()
    original = records.save_result

    def counting(where: Path, result: Result) -> None:
        saves[result.student_id] += 1
        original(where, result)

    monkeypatch.setattr(records, "save_result", counting)
    killed: dict[str, Any] = {}

    def killer() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys] if saves else []
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                killed.update(address=busy[0], saved=sum(saves.values()))
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    assert _grade(tmp_path / "subs", out, source, "--scheduler", local_cluster.scheduler_address) == 0
    thread.join(5)
    assert killed and killed["saved"] < len(students), "the kill should land mid-batch"
    assert saves == Counter({student: 1 for student in students})
    results = records.load_results(out, "fake")
    assert sorted(results) == students
    assert all(row.status == "passed" for r in results.values() for row in r.rows)
    assert {r.worker for r in results.values()} - {killed["address"]}, "someone else took over"
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next test


def test_ctrl_c_keeps_what_was_graded_and_leaves_nothing_on_the_workers(tmp_path: Path, client: Any,
                                                                       local_cluster: Any, env: Path) -> None:
    """SIGINT mid-batch: exit 130, every saved result complete, and no file (hidden inputs) left on the nodes."""
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for i in range(8):
        notebooks.write(notebooks.submission(SLOW_SCALE), tmp_path / "subs" / f"s{i}" / "fake" / "fake.ipynb")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(tmp_path / "subs"), "--assignment",
                             "fake", "--out", str(out), "--source", str(source), "--scheduler",
                             local_cluster.scheduler_address, *CHECKS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "results").glob("*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    saved = records.load_results(out, "fake")
    assert 1 <= len(saved) < 8 and len(saved) == len(list((out / "results").glob("*.json")))
    assert all(row.status == "passed" for r in saved.values() for row in r.rows)
    while time.time() < deadline and any(client.processing().values()):  # a task already running ends
        time.sleep(0.1)
    assert _files_left(env) == []


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The last stderr line, after checking it is an error line."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), lines
    return lines[-1]


def test_unreachable_scheduler_exits_2_with_one_line(tmp_path: Path, env: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A closed port: exit 2 and one line naming the address (the refusal comes at once, no hang)."""
    source = _write_cohort(tmp_path)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    assert _grade(tmp_path / "subs", tmp_path / "out", source, "--scheduler", address) == 2
    line = _one_line_error(capsys)
    assert f"cannot reach the Dask scheduler at {address}" in line
    assert not list((tmp_path / "out").glob("results/*.json"))
    assert _grade(tmp_path / "subs", tmp_path / "out", source, "--scheduler", "tcp://127.0.0.1") == 2
    assert "expected tcp://HOST:PORT" in _one_line_error(capsys)


def test_scheduler_without_workers_exits_2(tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A scheduler with no worker at all: exit 2 after the (shortened) wait, saying to start workers."""
    monkeypatch.setattr(cluster, "WORKER_WAIT", 1.0)
    source = _write_cohort(tmp_path)
    with _empty_cluster() as empty:
        assert _grade(tmp_path / "subs", tmp_path / "out", source, "--scheduler", empty.scheduler_address) == 2
    assert "has no workers" in _one_line_error(capsys)


def test_worker_without_the_course_exits_2(tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real `dask worker` that cannot import the course's checks: exit 2 naming that worker and why."""
    source = _write_cohort(tmp_path)
    with _empty_cluster() as empty:
        bare = {**os.environ, "PYTHONPATH": str(REPO)}  # autograder yes, the fake course's checks no
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", empty.scheduler_address,
                                   "--nthreads", "1", "--no-nanny", "--no-dashboard"], env=bare,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            code = _grade(tmp_path / "subs", tmp_path / "out", source, "--scheduler", empty.scheduler_address)
        finally:
            worker.kill()
            worker.wait()
    assert code == 2
    line = _one_line_error(capsys)
    assert "1 of 1 Dask worker(s) cannot grade" in line and "fakecourse" in line


def test_a_cluster_that_loses_every_worker_ends_the_run(tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The only worker (no nanny to restart it) is killed mid-batch: exit 2 after the grace, results so far kept."""
    monkeypatch.setattr(cluster, "NO_WORKERS_GRACE", 2.0)
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for i in range(6):
        notebooks.write(notebooks.submission(SLOW_SCALE), tmp_path / "subs" / f"s{i}" / "fake" / "fake.ipynb")
    out = tmp_path / "out"
    with _empty_cluster() as empty:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", empty.scheduler_address,
                                   "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def kill_after_first_result() -> None:
            deadline = time.time() + 120
            while time.time() < deadline and not list((out / "results").glob("*.json")):
                time.sleep(0.05)
            worker.kill()

        killer = threading.Thread(target=kill_after_first_result, daemon=True)
        killer.start()
        try:
            code = _grade(tmp_path / "subs", out, source, "--scheduler", empty.scheduler_address)
        finally:
            worker.kill()
            worker.wait()
    assert code == 2
    assert "has had no workers for 2 s" in _one_line_error(capsys)
    assert 1 <= len(records.load_results(out, "fake")) < 6


def test_environment_mismatch_is_named(env: Path) -> None:
    """Another torch, another course source or no bubblewrap (unless --sandbox none) each say what differs."""
    local = {"python": "3.11", "torch": "2.13.0", "autograder source": "aaa", "checks source": "bbb"}
    ok = {"environment": dict(local), "bwrap": True}
    assert cluster._problem("tcp://w:1", ok, local, "bwrap") == ""
    assert "torch 2.12.0, this machine 2.13.0" in cluster._problem(
        "tcp://w:1", {**ok, "environment": {**local, "torch": "2.12.0"}}, local, "auto")
    assert "autograder source" in cluster._problem(
        "tcp://w:1", {**ok, "environment": {**local, "autograder source": "zzz"}}, local, "auto")
    assert "bubblewrap" in cluster._problem("tcp://w:1", {**ok, "bwrap": False}, local, "bwrap")
    # on a cluster the default falls back to no sandbox only when told: its student code could reach the scheduler
    assert "--sandbox none" in cluster._problem("tcp://w:1", {**ok, "bwrap": False}, local, "auto")
    assert cluster._problem("tcp://w:1", {**ok, "bwrap": False}, local, "none") == ""
    assert "ModuleNotFoundError" in cluster._problem("tcp://w:1", ModuleNotFoundError("autograder"), local, "auto")


def _good_reply() -> tuple[dict[str, Any], Submission, Any]:
    """A well-formed reply for student 'ann', her submission, and the assignment."""
    assignment = load_assignment("fakecourse.checks:get_assignment", "fake")
    sub = Submission("ann", "subs/ann/fake/fake.ipynb", b"{}")
    failed = pipeline.internal_error(sub, assignment, "whatever")
    reply = {**failed.to_json(), "seed": 7, "seconds": 1.5, "worker": "tcp://w:1", "sandbox": "bubblewrap"}
    return reply, sub, assignment


@pytest.mark.parametrize("damage", [
    lambda r: r.update(student_id="bob"),
    lambda r: r.update(rows=r["rows"][:2]),
    lambda r: r["rows"].reverse(),
    lambda r: r["rows"][0].update(score=5.0),
    lambda r: r["rows"][0].update(score=float("nan")),
    lambda r: r["rows"][0].update(student_id="bob"),
    lambda r: r["rows"][0].update(status="passed; DROP"),
    lambda r: r["rows"][0].update(extra="x"),
    lambda r: r.update(seconds="1"),
    lambda r: r.update(seed=True),
    lambda r: r.update(output={"stdout": b"bytes"}),
    lambda r: r.update(notes="not a list"),
    lambda r: r.update(flag=True),
    lambda r: r.pop("origin"),
    lambda r: r.update(late="no"),
    lambda r: r["rows"][0].update(max_score=9.0),
    lambda r: r["rows"][0].update(message="English text instead of a message"),
    lambda r: r["rows"][0].update(mistakes=["Not An Id"]),
    lambda r: r.pop("schema"),
], ids=["other-student", "rows-missing", "rows-reordered", "score-above-max", "score-nan", "row-other-student",
        "odd-status", "unknown-row-field", "seconds-text", "seed-bool", "output-bytes", "notes-text", "unknown-field",
        "origin-missing", "late-text", "max-score-changed", "message-text", "mistake-not-an-id", "older-schema"])
def test_a_malformed_reply_is_refused(damage: Any) -> None:
    """Every kind of damaged reply raises BadResult (the student then gets error rows, never bad data)."""
    reply, sub, assignment = _good_reply()
    assert replies.accept(reply, sub, assignment, Limits()).rows[0].status == "error"
    damage(reply)
    with pytest.raises(replies.BadResult):
        replies.accept(reply, sub, assignment, Limits())


def test_a_reply_is_capped_and_takes_late_and_notebook_from_the_instructor() -> None:
    """Output beyond the limit and long notes are cut; what the instructor's side knows is not taken from the reply."""
    reply, sub, assignment = _good_reply()
    note = say("upload.problem", reason="n" * 3000).to_plain()
    reply.update(output={"stdout": "x" * 5000}, notes=[note] * 200, late=True, notebook="other.ipynb")
    result = replies.accept(reply, sub, assignment, Limits(output_bytes=100))
    assert len(result.output["stdout"]) == 100 and len(result.notes) == limits.NOTES + 1
    assert len(str(result.notes[0].args["reason"])) == limits.NOTE_CHARS and result.notes[-1].code == "note.more_notes"
    assert result.late is sub.late and result.notebook == assignment.notebook and result.worker == "tcp://w:1"
