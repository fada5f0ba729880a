"""Per-submission isolation (issue 9, section 1) and the runner the sandbox sees (section 4).

The cgroup tests use this machine's real cgroups (as root: v1 here, v2 where that is what the machine
has); the worker tests run jobs one after another on ONE real sandboxed worker, so that what one
submission leaves behind is certainly looked for by the next.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parent / "corpus"
sys.path.insert(0, str(CORPUS))

from hostile import LEFTOVERS  # noqa: E402

from autograder import plain  # noqa: E402
from autograder.grading import cgroups, isolation, sandbox  # noqa: E402
from autograder.grading.model import Cell, Job, Limits  # noqa: E402

LAYOUT = cgroups.discover()
ROOT = os.geteuid() == 0
needs_cgroups = pytest.mark.skipif(LAYOUT is None and not ROOT, reason="cgroups are managed only as root")
needs_sandbox = pytest.mark.skipif(not sandbox.bwrap_usable() and not ROOT,
                                   reason="bubblewrap (bwrap) is not usable here")
CHECKS = "fakecourse.checks:get_assignment"


def test_root_finds_a_usable_cgroup_layout() -> None:
    """As root on a machine with cgroups (CI, the course machines) the per-submission groups are available."""
    if not ROOT:
        assert LAYOUT is None and sandbox.cgroup_warning() == sandbox.NO_CGROUP_WARNING
        return
    assert LAYOUT is not None, "root, but no usable cgroup v1 (memory, pids, cpu) or v2 layout was found"
    assert sandbox.cgroup_warning() is None
    needed = {cgroups.UNIFIED} if LAYOUT.version == 2 else set(cgroups.V1_NEEDED)
    assert needed <= set(LAYOUT.own)


@pytest.fixture()
def worker_groups() -> Any:
    """This test's own worker-level groups, removed afterwards with anything left in them."""
    assert LAYOUT is not None
    groups = cgroups.create_worker_groups(LAYOUT, f"autograder-test-{os.getpid()}")
    yield groups
    cgroups.remove_groups(groups, LAYOUT.version)
    assert not any(path.exists() for path in groups.values())


def _in_job(job: cgroups.Job, body: Any) -> int:
    """Fork a child that enters the job's groups and runs body(); return its wait status."""
    pid = os.fork()
    if pid == 0:
        try:
            job.enter()
            os._exit(int(body() or 0))
        except BaseException:  # noqa: BLE001 - report through the exit status only
            os._exit(99)
    return os.waitpid(pid, 0)[1]


@needs_cgroups
def test_job_caps_processes_as_a_whole(worker_groups: dict[str, Path]) -> None:
    """pids.max counts every process of the submission: the 9th fork fails, whatever session it is in."""
    assert LAYOUT is not None
    job = cgroups.Job.create(worker_groups, LAYOUT.version, "job-pids")
    job.limit(256 << 20, processes=8)

    def fork_many() -> int:
        made = 0
        for _ in range(20):
            try:
                if os.fork() == 0:
                    os.setsid()
                    time.sleep(30)
                    os._exit(0)
                made += 1
            except OSError:
                break
        return made

    status = _in_job(job, fork_many)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7, status  # 8 including the forking child
    assert cgroups._procs(job.paths[cgroups.UNIFIED if LAYOUT.version == 2 else "pids"]), "the sleepers should live"
    job.destroy()
    assert not any(path.exists() for path in job.paths.values())


@needs_cgroups
def test_job_caps_memory_of_all_processes_together(worker_groups: dict[str, Path]) -> None:
    """Four children of 48 MiB each stay under any per-process cap, but not under 128 MiB together."""
    assert LAYOUT is not None
    job = cgroups.Job.create(worker_groups, LAYOUT.version, "job-memory")
    job.limit(128 << 20, processes=16)

    def hog() -> int:
        read_end, write_end = os.pipe()
        for _ in range(4):
            if os.fork() == 0:
                os.close(read_end)
                block = b"x" * (48 << 20)
                os.write(write_end, b"." if block else b"")
                os.close(write_end)
                time.sleep(60)
                os._exit(0)
        os.close(write_end)
        while os.read(read_end, 1):  # until each child has its memory or was killed for it
            pass
        return 0

    status = _in_job(job, hog)
    assert os.WIFEXITED(status) or os.WIFSIGNALED(status)
    assert job.oom_kills() >= 1, "no process of the submission was killed for memory"
    job.destroy()


@needs_cgroups
def test_job_weighs_as_one_process_and_is_killed_whole(worker_groups: dict[str, Path]) -> None:
    """The CPU weight is that of one process; destroy() kills detached busy children and removes the groups."""
    assert LAYOUT is not None
    job = cgroups.Job.create(worker_groups, LAYOUT.version, "job-cpu")
    job.limit(256 << 20, processes=16)
    if LAYOUT.version == 2:
        assert (job.paths[cgroups.UNIFIED] / "cpu.weight").read_text().strip() == str(cgroups.CPU_WEIGHT_V2)
    else:
        assert (job.paths["cpu"] / "cpu.shares").read_text().strip() == str(cgroups.CPU_SHARES_V1)

    def spin() -> int:
        for _ in range(5):
            if os.fork() == 0:
                os.setsid()
                while True:
                    pass
        return 0

    assert _in_job(job, spin) == 0
    folder = job.paths[cgroups.UNIFIED if LAYOUT.version == 2 else "pids"]
    busy = cgroups._procs(folder)
    assert len(busy) == 5
    job.destroy()
    assert not folder.exists()
    assert not [pid for pid in busy if Path(f"/proc/{pid}").exists()
                and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]


def test_v2_limits_are_written_where_cgroup_v2_reads_them(tmp_path: Path) -> None:
    """The v2 file protocol (this machine may only have v1): a leaf per job, memory/pids/cpu files."""
    job = cgroups.Job.create({cgroups.UNIFIED: tmp_path}, 2, "job-1")
    job.limit(300 << 20, processes=32)
    folder = tmp_path / "job-1"
    assert (folder / "memory.max").read_text() == str(300 << 20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "32"
    assert (folder / "cpu.weight").read_text() == str(cgroups.CPU_WEIGHT_V2)
    assert job.home == {cgroups.UNIFIED: tmp_path / "worker"} and (tmp_path / "worker").is_dir()


def test_uid_pools_are_disjoint_and_rotate() -> None:
    """Each worker's submissions take uids from its own pool, in turn; pools never overlap."""
    a, b = isolation.worker_uid_base(1234, 0), isolation.worker_uid_base(1234, 1)
    assert abs(a - b) >= isolation.UIDS_PER_WORKER
    uids = [isolation.uid_for(a, n) for n in range(1, isolation.UIDS_PER_WORKER + 1)]
    assert len(set(uids)) == isolation.UIDS_PER_WORKER and min(uids) >= isolation.FIRST_UID
    assert max(isolation.worker_uid_base(pid, 15) + isolation.UIDS_PER_WORKER for pid in range(0, 1 << 22, 997)) < 2**31


def test_runner_withholds_the_course(tmp_path: Path) -> None:
    """The runner holds the worker's modules and the checks' calling side, but no reference or known-mistake
    code, no grading key, pipeline or solutions; the facade student code sees has only the task helpers."""
    runner = sandbox.build_runner(tmp_path / "runner", "autograder.checks:get_assignment")
    files = {p.relative_to(runner).as_posix() for p in runner.rglob("*.py")}
    assert {"autograder/grading/worker.py", "autograder/grading/kernel.py", "autograder/checks/forbidden.py",
            "autograder/checks/optimizers.py", "autograder/plain.py"} <= files
    assert not [f for f in files if f.startswith(("autograder/reference/", "autograder/checks/mistakes/"))
                and not f.endswith("__init__.py")]
    for stub in ("autograder/reference/__init__.py", "autograder/checks/mistakes/__init__.py"):
        assert (runner / stub).read_text() == sandbox.STUB
    for absent in ("autograder/key.py", "autograder/grading/pipeline.py", "autograder/grading/judging.py",
                   "autograder/cli.py", "autograder/release.py"):
        assert absent not in files
    assert not list(runner.rglob("*.ipynb"))
    facade = {p.relative_to(runner / isolation.FACADE).as_posix() for p in (runner / isolation.FACADE).rglob("*.py")}
    assert facade == {"autograder/__init__.py", "autograder/device.py", "autograder/checks/__init__.py",
                      "autograder/checks/exploding_task.py"}


def test_runner_imports_the_checks_with_stubs(tmp_path: Path) -> None:
    """In a fresh interpreter that sees only the runner, the assignments load and the stubs compute nothing."""
    runner = sandbox.build_runner(tmp_path / "runner", "autograder.checks:get_assignment")
    code = ("import autograder.checks as c, autograder.reference as r\n"
            "from autograder.checks.mistakes import optimizers as m\n"
            "assert sorted(c.ASSIGNMENTS) == ['backprop', 'clipping', 'exploding', 'optimizers']\n"
            "print(repr(m.adam(1, 2)), repr(r.optimizer_trajectory('adam')), list(m.ADAM_MISTAKES))\n")
    done = subprocess.run([sys.executable, "-s", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(runner), "COURSE_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("> ")[0].startswith("<withheld") and done.stdout.strip().endswith("[]")


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One sandboxed worker for the fake course (bubblewrap as root, else the bare fallback)."""
    tmp = tmp_path_factory.mktemp("isolation")
    started = sandbox.start_worker(0, CHECKS, "fake", tmp / "exchange-0", sandbox.bwrap_usable(), tmp / "worker.log")
    yield started
    groups = dict(started.groups)
    started.stop()
    assert not any(path.exists() for path in groups.values()), "the worker's cgroups outlived it"


def _job(worker: Any, name: str, source: str, timeout: float = 20.0) -> dict[str, Any]:
    """Run one submission of a single cell on the worker; return its reply's fields and the cells' errors."""
    (worker.exchange / name).mkdir()
    plain.dump({}, worker.exchange / name / "cases")
    job = Job(name, (Cell("c", source, True),), (), Limits(timeout, 256, 1 << 16))
    reply = worker.request(job, wait=120)
    cells = worker.exchange / name / "cells.json"
    return {**reply.to_json(), "cell_errors": cells.read_text() if cells.exists() else "(no cells result)"}


REPORT = """
import os
print('FOUND', sorted(set(FOUND)))
print('UID', os.getuid())
shm_count = len(open('/proc/sysvipc/shm').read().splitlines()) - 1
print('MADE', shm_count, _libc.mq_open(b'/course-leak', os.O_RDONLY) >= 0, os.path.exists('/tmp/course-leak'))
"""


def _field(reply: dict[str, Any], key: str) -> str:
    """The rest of the stdout line starting with `key`."""
    lines = [line for line in reply["stdout"].splitlines() if line.startswith(key + " ")]
    assert lines, f"no {key} line in the output: {reply}"
    return lines[-1][len(key) + 1:]


@needs_sandbox
def test_nothing_passes_from_one_submission_to_the_next(worker: Any) -> None:
    """IPC objects, POSIX queues, keys and /tmp, /dev/shm files made by one submission are not there for the
    next one (which looks for all of them), though each was really made; each submission has its own uid."""
    first = _job(worker, "job-first", LEFTOVERS + REPORT)
    assert _field(first, "FOUND") == "[]"
    assert _field(first, "MADE") == "1 True True", "the leftovers were not even made: the test would prove nothing"
    again = _job(worker, "job-again", LEFTOVERS.split("_shm = ")[0] + "print('FOUND', sorted(set(FOUND)))\n")
    assert _field(again, "FOUND") == "[]", "the second submission found what the first one left"
    uids = {int(_field(first, "UID")), int(_field(_job(worker, "job-uid", "import os\nprint('UID', os.getuid())"),
                                                     "UID"))}
    if ROOT:
        assert len(uids) == 2 and min(uids) >= isolation.FIRST_UID


@needs_sandbox
def test_a_detached_daemon_dies_with_its_submission(worker: Any) -> None:
    """A double-forked daemon in a new session does not outlive the submission that started it."""
    source = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        time.sleep(300)\n    os._exit(0)\nprint('UID', os.getuid())\n")
    uid = int(_field(_job(worker, "job-daemon", source), "UID"))
    if not ROOT:
        return
    owners = subprocess.run(["ps", "-eo", "uid=,stat="], capture_output=True, text=True).stdout.split("\n")
    assert not [line for line in owners if line.split() and int(line.split()[0]) == uid
                and not line.split()[1].startswith("Z")]
    if worker.groups:  # only the next submission's groups remain, holding just the (root) worker, waiting
        for folder in worker.groups.values():
            jobs = [d for d in folder.iterdir() if d.is_dir() and d.name.startswith("job-")]
            assert len(jobs) <= 1
            assert all(os.stat(f"/proc/{pid}").st_uid == 0 for d in jobs for pid in cgroups._procs(d))


@needs_sandbox
def test_student_code_cannot_import_the_course(worker: Any) -> None:
    """The checks, the runner's own modules and the fake course are gone; the facade gives only the task helpers."""
    source = ("import importlib\nok, failed = [], []\n"
              "for name in ('autograder.checks.builder', 'autograder.checks.mistakes', 'autograder.reference',\n"
              "             'autograder.grading.kernel', 'autograder.plain', 'fakecourse.checks',\n"
              "             'autograder.device', 'autograder.checks'):\n"
              "    try:\n        importlib.import_module(name)\n        ok.append(name)\n"
              "    except ImportError:\n        failed.append(name)\n"
              "from autograder.checks import check\nprint('OK', sorted(ok))\nprint('CHECK', check('x', 'y', {}))\n")
    reply = _job(worker, "job-imports", source)
    assert _field(reply, "OK") == "['autograder.checks', 'autograder.device']"
    assert _field(reply, "CHECK") == "None"


@needs_sandbox
def test_isolation_overhead_is_reported(worker: Any) -> None:
    """Every reply says how long the isolation took and in which parts (the benchmark prints the median)."""
    reply = _job(worker, "job-cost", "x = 1")
    assert set(reply["isolation_parts"]) == {"limit", "enter", "destroy", "background"}
    assert reply["isolation_seconds"] == pytest.approx(sum(v for k, v in reply["isolation_parts"].items()
                                                           if k != "background"))
    assert reply["cgroups"] is (LAYOUT is not None)
