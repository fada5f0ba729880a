"""Per-submission isolation (issue 9, section 1) and the runner the sandbox sees (section 4).

The cgroup tests use this machine's real cgroups (as root: v1 here, v2 where that is what the machine
has); the worker tests run jobs one after another on ONE real sandboxed worker, so that what one
submission leaves behind is certainly looked for by the next.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.paths import CORPUS
from tests.processes import children, dead_pid

sys.path.insert(0, str(CORPUS))

from hostile import LEFTOVERS

from autograder import plain
from autograder.grading.core import sandbox
from autograder.grading.runner import cgroups, isolation
from autograder.grading.runner.wire import Job, Limits, RunCell

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


def _in_job(job: cgroups.SubmissionGroups, body: Any) -> int:
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
    job = cgroups.SubmissionGroups.create(worker_groups, LAYOUT.version, "job-pids")
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
    job = cgroups.SubmissionGroups.create(worker_groups, LAYOUT.version, "job-memory")
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
    job = cgroups.SubmissionGroups.create(worker_groups, LAYOUT.version, "job-cpu")
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
    job = cgroups.SubmissionGroups.create({cgroups.UNIFIED: tmp_path}, 2, "job-1")
    job.limit(300 << 20, processes=32)
    folder = tmp_path / "job-1"
    assert (folder / "memory.max").read_text() == str(300 << 20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "32"
    assert (folder / "cpu.weight").read_text() == str(cgroups.CPU_WEIGHT_V2)
    assert job.home == {cgroups.UNIFIED: tmp_path / "worker"} and (tmp_path / "worker").is_dir()


def test_uid_pools_rotate_and_stay_below_2_31() -> None:
    """Each worker's submissions take uids from its own pool, in turn; the last pool ends below 2**31."""
    base = isolation.slot_base(7)
    uids = [isolation.uid_for(base, n) for n in range(1, isolation.UIDS_PER_WORKER + 1)]
    assert len(set(uids)) == isolation.UIDS_PER_WORKER and min(uids) >= isolation.FIRST_UID
    assert isolation.slot_base(isolation.SLOTS - 1) + isolation.UIDS_PER_WORKER <= 2**31
    assert all(0 <= isolation.preferred_slot(pid, i) < isolation.SLOTS for pid in (1, 4_194_303) for i in (0, 99))


def test_a_bare_child_keeps_what_it_needs_from_the_shared_scratch_folders() -> None:
    """What private_scratch binds back: the paths a child needs inside /tmp (a Python, its home; a link as written
    and where it leads), outermost only; nothing outside the scratch folders, nothing that does not exist."""
    scratch = Path("/tmp") / f"keeps-{os.getpid()}"
    (scratch / "venv" / "lib").mkdir(parents=True)
    (scratch / "home").mkdir()
    (scratch / "python").symlink_to(scratch / "venv")
    try:
        keeps = isolation.scratch_keeps([scratch / "venv" / "lib", scratch / "venv", scratch / "home",
                                         scratch / "python" / "lib",
                                         Path("/usr/lib"), scratch / "gone"])
        assert keeps == (scratch / "home", scratch / "python" / "lib", scratch / "venv")
    finally:
        (scratch / "python").unlink()
        for folder in ("venv/lib", "venv", "home", ""):
            (scratch / folder).rmdir()


CLAIM = """
import sys, time
from pathlib import Path
from autograder.grading.runner import isolation
claim = isolation.claim_slot(int(sys.argv[1]), Path(sys.argv[2]))
print(claim.slot, flush=True)
time.sleep(60)
"""


def test_no_two_live_workers_share_a_uid_pool(tmp_path: Path) -> None:
    """However many workers (40 here, more than the 16 slots a grader once had) and graders (another
    process here) ask for the same pool, each live one holds a different one; a released pool is reused."""
    claims = [isolation.claim_slot(5, tmp_path) for _ in range(40)]
    other = subprocess.Popen([sys.executable, "-c", CLAIM, "5", str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert other.stdout is not None
        theirs = int(other.stdout.readline())
        slots = [c.slot for c in claims]
        assert len(set(slots)) == 40 and theirs not in slots, (slots, theirs)
        ranges = sorted((c.uid_base, c.uid_base + isolation.UIDS_PER_WORKER) for c in claims)
        assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:], strict=False)), "two pools overlap"
    finally:
        other.kill()
        other.wait()
    claims[3].release()
    again = [isolation.claim_slot(5, tmp_path) for _ in range(2)]
    assert [c.slot for c in again] == [claims[3].slot, theirs]  # freed by release, and by the holder's death
    for claim in claims + again:
        claim.release()


def test_runner_withholds_the_course(tmp_path: Path) -> None:
    """The runner holds the worker's modules and the checks' calling side, but no reference or known-mistake
    code, no grading key, pipeline or solutions; the facade student code sees has only the task helpers."""
    runner = sandbox.build_runner(tmp_path / "runner", "autograder.checks:get_assignment")
    files = {p.relative_to(runner).as_posix() for p in runner.rglob("*.py")}
    assert {"autograder/grading/runner/worker.py", "autograder/grading/runner/child.py",
            "autograder/checks/forbidden.py",
            "autograder/checks/optimizers.py", "autograder/plain.py"} <= files
    assert not [f for f in files if f.startswith(("autograder/reference/", "autograder/checks/mistakes/"))
                and not f.endswith("__init__.py")]
    for stub in ("autograder/reference/__init__.py", "autograder/checks/mistakes/__init__.py"):
        assert (runner / stub).read_text() == sandbox.STUB
    for absent in ("autograder/key.py", "autograder/grading/drivers/pipeline.py", "autograder/grading/core/judging.py",
                   "autograder/cli.py", "autograder/release.py"):
        assert absent not in files
    assert not list(runner.rglob("*.ipynb"))
    facade = {p.relative_to(runner / isolation.FACADE).as_posix() for p in (runner / isolation.FACADE).rglob("*.py")}
    assert facade == {"autograder/__init__.py", "autograder/device.py", "autograder/checks/__init__.py",
                      "autograder/checks/exploding_task.py"}


def test_runner_ships_bytecode_its_interpreter_accepts(tmp_path: Path) -> None:
    """Each module the runner copies comes with bytecode matching the copy (the sandbox's Python writes none, so
    without it every worker would compile the runner again), and nothing is shipped for a withheld module."""
    runner = sandbox.build_runner(tmp_path / "runner", "autograder.checks:get_assignment")
    shipped = sorted(runner.rglob("*.pyc"))
    sources = {p for p in runner.rglob("*.py")}
    for name in ("autograder/grading/runner/worker.py", "autograder/checks/optimizers.py",
                 isolation.FACADE + "/autograder/device.py"):
        assert Path(importlib.util.cache_from_source(str(runner / name))) in shipped, name
    for pyc in shipped:
        source = Path(importlib.util.source_from_cache(str(pyc)))
        assert source in sources, f"{pyc} has no source in the runner"
        assert "reference" not in source.parts and "mistakes" not in source.parts
        header, stat = pyc.read_bytes()[:16], source.stat()
        assert header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[4:8], "little") == 0
        assert int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF, source
        assert int.from_bytes(header[12:16], "little") == stat.st_size, source


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


def _job(worker: Any, name: str, source: str, timeout: float = 20.0, scale_cases: list[Any] | None = None
         ) -> dict[str, Any]:
    """Run one submission of a single cell on the worker (and `scale` on `scale_cases`, when given); return
    its reply's fields, the cells' errors and the scale question's result (None if not accepted)."""
    (worker.exchange / name).mkdir()
    questions: tuple[str, ...] = ()
    if scale_cases is not None:
        plain.dump(scale_cases, worker.exchange / name / "cases-0")
        questions = ("test_scale",)
    job = Job(name, (RunCell("c", source, True),), questions, Limits(timeout, 256, 1 << 16))
    reply = worker.request(job, wait=120)
    cells = worker.exchange / name / "cells.json"
    result = plain.load(worker.exchange / name / "q0") if "q0" in reply.files else None
    return {**reply.to_json(), "cell_errors": cells.read_text() if cells.exists() else "(no cells result)",
            "result": result}


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



def _key_users() -> dict[int, str]:
    """/proc/key-users: uid -> its line (a uid has one while the kernel holds any key of it)."""
    return {int(line.split(":")[0]): line.strip() for line in Path("/proc/key-users").read_text().splitlines()}


def _keys_gone(uid: int, within: float = 5.0) -> bool:
    """Whether the kernel holds no key of `uid` within `within` seconds (its key collector runs in the background)."""
    deadline = time.monotonic() + within
    while uid in _key_users() and time.monotonic() < deadline:
        time.sleep(0.05)
    return uid not in _key_users()


@pytest.mark.skipif(not ROOT or not Path("/proc/key-users").exists(), reason="uids are switched only as root")
def test_a_uid_takes_over_no_keys_and_leaves_none_in_the_kernel(tmp_path: Path) -> None:
    """What the uid's last holder left in its user keyrings and in its persistent keyring (which the kernel keeps for
    days) is gone for the next one, and once that one exits the kernel holds no key of the uid: clearing the user
    keyrings instead kept both of them for good, two keys for every uid ever used, which the kernel's key collector
    walks after every submission, and left the persistent one as it was."""
    claim = isolation.claim_slot(isolation.SLOTS - 3, tmp_path)  # a pool no live worker of this machine holds
    uid = claim.uid_base + 11
    add_key = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
    # every keyring a student can reach and the next holder of the uid could find: session, user, user session, and
    # the uid's persistent keyring (KEYCTL_GET_PERSISTENT, linked into the session keyring; absent from some kernels)
    rings = ("rings = [-3, -4, -5] + [r for r in [isolation._keyctl(22, -1, -3)] if r > 0]\n"
             "kind, name = ctypes.create_string_buffer(b'user'), ctypes.create_string_buffer(b'course-leak')\n"
             "def found():\n"
             "    where = (ctypes.addressof(kind), ctypes.addressof(name))\n"
             "    return [isolation._keyctl(10, ring, *where, 0) > 0 for ring in rings]\n")
    # a session keyring of its own first, which the persistent keyring is linked into: so the student holds it, and
    # may write there; every key must really be made, or the test proves nothing
    leave = ("isolation._keyctl(1, 0)\n" + rings + "made = [isolation._libc.syscall(ctypes.c_long(ADD_KEY), b'user', "
             "b'course-leak', b'x', ctypes.c_long(1), ctypes.c_long(ring)) for ring in rings]\n"
             "sys.exit(0 if min(made) > 0 and len(made) == 4 and all(found()) else 2)")  # and the search finds them
    look = rings + "sys.exit(1 if any(found()) else 0)"
    try:
        # the last holder leaves a key; the next finds none (and, searching, has the kernel make its keyrings again, as
        # any student may); the one after that only starts, as an honest submission does
        for who, step in (("last", leave), ("next", f"isolation.fresh_keyrings()\n{look}"),
                          ("one after", "isolation.fresh_keyrings()")):
            code = (f"import ctypes, os, sys\nfrom autograder.grading.runner import isolation\nADD_KEY = {add_key}\n"
                    f"os.setgroups([])\nos.setresgid({uid}, {uid}, {uid})\nos.setresuid({uid}, {uid}, {uid})\n{step}\n")
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            # exit 1: the next holder found a key the last one left; 2: the last one could not even make them
            assert done.returncode == 0, f"the {who} holder of the uid: exit {done.returncode} {done.stderr}"
        assert _keys_gone(uid), f"the kernel still holds keys of uid {uid}: {_key_users().get(uid)}"
    finally:
        claim.release()


@needs_sandbox
def test_a_child_collects_its_own_garbage_and_hides_nothing_from_it(worker: Any) -> None:
    """Student code runs with the collector on, as in a notebook's kernel; the worker imported torch without
    collections, but left its objects in the oldest generation (a child's young generation starts nearly empty) and
    froze none: gc.get_objects() sees them all, as the tripwire's walk over every object did."""
    code = ("import gc\nyoung = len(gc.get_objects(0)) + len(gc.get_objects(1))\n"
            "print('GC', gc.isenabled(), gc.get_freeze_count(), young < 50_000, len(gc.get_objects(2)) > 50_000)")
    assert _field(_job(worker, "job-gc", code), "GC") == "True 0 True True"


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
              "             'autograder.grading.runner.child', 'autograder.plain', 'fakecourse.checks',\n"
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
    assert set(reply["isolation_parts"]) == {"limit", "enter", "destroy", "background", "spawn"}
    assert reply["isolation_seconds"] == pytest.approx(sum(v for k, v in reply["isolation_parts"].items()
                                                           if k not in ("background", "spawn")))
    assert 0 < reply["isolation_parts"]["spawn"] < reply["seconds"]  # the job handed to the waiting child
    assert reply["cgroups"] is (LAYOUT is not None)


def _huge_pages_on_request() -> bool:
    """The kernel gives a process transparent huge pages when it asks (policy 'always' or 'madvise')."""
    policy = Path(sandbox.THP_SETTINGS, "enabled")
    return policy.is_file() and "[never]" not in policy.read_text()


@needs_sandbox
@pytest.mark.skipif(not _huge_pages_on_request(), reason="this kernel gives no transparent huge pages")
def test_the_child_inherits_a_heap_of_huge_pages_and_gets_small_ones(worker: Any) -> None:
    """The worker's torch heap sits in huge pages (sandbox.HUGE_HEAP), so forking each child and its exit stay
    cheap: glibc asks for them only when it can read the kernel's policy, which the sandbox shows read-only. What
    the submission allocates itself comes in 4 KiB pages (isolation.small_pages): near its memory limit it must not
    stall compacting memory for huge ones."""
    source = ("def huge():\n    return [int(line.split()[1]) for line in open('/proc/self/smaps_rollup')\n"
              "            if line.startswith('AnonHugePages:')][0] >> 10\n"
              "print('HUGE', huge())\nblock = bytearray(64 << 20)\nblock[::4096] = b'x' * (16 << 10)\n"
              "print('AFTER', huge())\n")
    reply = _job(worker, "job-huge", source)
    inherited, after = int(_field(reply, "HUGE")), int(_field(reply, "AFTER"))
    assert inherited >= 16, reply["stdout"]
    assert after <= inherited, f"the child's own 64 MB came in huge pages: {inherited} MB -> {after} MB"


# --- A child starts from a state that never held another student's data (issue 18, section 1) -------------
#: The next submission looks for the token the previous one printed: in every frame above its function, in
#: every object the garbage collector knows, and in all of its own readable memory. It knows the token only as
#: hex (so its own source does not hold it) and skips the one place its needle lives and its read buffer.
REMANENCE = """
def scale(x, a):
    import ctypes, gc, os, sys
    needle = bytes.fromhex(HEX)
    found, stack = [], []
    def holds(value):
        if type(value) is str:
            value = value.encode('utf-8', 'replace')
        return type(value) in (bytes, bytearray) and value is not needle and needle in value
    frame = sys._getframe()
    while frame is not None:
        stack.append(os.path.basename(frame.f_code.co_filename) + ':' + frame.f_code.co_name)
        found += ['frame ' + stack[-1] for v in list(frame.f_locals.values()) if holds(v)]
        frame = frame.f_back
    for obj in gc.get_objects():
        found += ['gc ' + type(obj).__name__ for v in gc.get_referents(obj) if holds(v)]
    buffer = bytearray(1 << 20)
    start = ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
    own = id(needle) + bytes.__basicsize__ - 1
    class iovec(ctypes.Structure):
        _fields_ = [('base', ctypes.c_void_p), ('size', ctypes.c_size_t)]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    def read(address, size):  # own memory, without faulting (/proc/self/mem is root's in a non-dumpable child)
        local, remote = iovec(start, size), iovec(address, size)
        got = libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        if got < 0:
            raise OSError(ctypes.get_errno(), 'process_vm_readv')
        return got
    scanned = 0
    for line in open('/proc/self/maps').read().splitlines():
        fields = line.split()
        if fields[1][0] != 'r' or fields[-1] in ('[vvar]', '[vsyscall]', '[vvar_vclock]'):
            continue
        low, high = (int(v, 16) for v in fields[0].split('-'))
        address = low
        while address < high:
            try:
                size = read(address, min(len(buffer), high - address))
            except OSError:
                break
            scanned += size
            at = buffer.find(needle, 0, size)
            while at >= 0:
                hit = address + at
                if hit != own and not start <= hit < start + len(buffer):
                    found.append('memory ' + (fields[5] if len(fields) > 5 else 'anonymous'))
                at = buffer.find(needle, at + 1, size)
            if size < len(buffer):
                break
            address += size - len(needle)  # overlap: a token across two reads is still seen
    return {'found': sorted(set(found)), 'stack': stack, 'scanned': scanned}
"""


@needs_sandbox
def test_the_next_child_finds_nothing_of_the_previous_submission(worker: Any) -> None:
    """A submission prints a secret; the next one on the same worker searches its stack, the garbage collector
    and all its readable memory for it, and finds nothing; no frame above it belongs to the worker or the
    template (only the kernel, the checks' caller, the worker module's top level and runpy)."""
    import secrets

    import torch

    token = f"remanence-{secrets.token_hex(12)}"
    first = _job(worker, "job-secret", f"print({token!r})\nsecret = {token!r} * 3\n")
    assert token in first["stdout"], "the secret was not even printed: the test would prove nothing"
    case = [{"x": torch.ones(2, dtype=torch.float64), "a": 1.0}]
    reply = _job(worker, "job-search", f"HEX = {token.encode().hex()!r}\n" + REMANENCE, scale_cases=case)
    assert reply["result"] is not None, reply
    output = reply["result"]["outputs"][0]
    assert "y" in output, output
    seen = output["y"]
    assert seen["scanned"] > 50 << 20, "the memory scan read too little to mean anything"
    assert seen["found"] == [], seen["found"]
    grader_frames = [f for f in seen["stack"] if f.split(":")[0] in ("worker.py", "template.py")
                     and not f.endswith(":<module>")]
    assert not grader_frames, seen["stack"]


BARE = """def scale(x, a):
    import os, sys
    try:
        open(sys.modules['torch.optim.sgd'].__file__).read()
        covered = False
    except OSError:
        covered = True
    return {'covered': covered, 'uid': os.getuid(), 'y': a * x}
"""


def test_the_bare_fallback_grades_through_the_template_too() -> None:
    """Without bubblewrap the worker is no PID 1: its template still forks each child, the child decodes its
    inputs after dropping root and answers; as root it has a uid of its own and torch's sources are covered."""
    import tempfile

    import torch

    from autograder.grading.core import tmpdir

    # where the grader's own folder goes (/dev/shm, which each bare child covers with one of its own, where that is a
    # roomy tmpfs); not under pytest's tmp_path: its 0700 parents would keep the child's uid out of its home
    with tempfile.TemporaryDirectory(dir=tmpdir.default_parent()) as tmp:
        worker = sandbox.start_worker(0, CHECKS, "fake", Path(tmp) / "exchange-0", False, Path(tmp) / "worker.log")
        try:
            replies = [_job(worker, f"job-bare-{i}", BARE, scale_cases=[{"x": torch.ones(2, dtype=torch.float64),
                                                                          "a": 2.0}]) for i in range(2)]
        finally:
            worker.stop()
    seen = [r["result"]["outputs"][0]["y"] if r["result"] else r for r in replies]
    assert all(isinstance(s, dict) and "covered" in s for s in seen), seen
    assert [s["y"].tolist() for s in seen] == [[2.0, 2.0]] * 2
    if ROOT:
        assert all(s["covered"] for s in seen) and len({s["uid"] for s in seen}) == 2


PID = """def scale(x, a):
    import os
    return {'pid': os.getpid(), 'y': a * x}
"""


def test_the_next_child_is_forked_while_the_worker_waits_inside_its_own_cgroups() -> None:
    """After a job, the template has already forked the next submission's child (the fork is off the
    submission's time): it waits, holding nothing, in the next submission's cgroups, and it is the process that
    then runs that submission."""
    import tempfile

    import torch

    with tempfile.TemporaryDirectory() as tmp:  # bare, so the test sees the worker's processes
        worker = sandbox.start_worker(0, CHECKS, "fake", Path(tmp) / "exchange-0", False, Path(tmp) / "worker.log")
        try:
            case = [{"x": torch.ones(2, dtype=torch.float64), "a": 2.0}]
            _job(worker, "job-pid-1", PID, scale_cases=case)
            templates = children(worker.process.pid)
            assert len(templates) == 1, templates
            template_groups = Path(f"/proc/{templates[0]}/cgroup")
            for _ in range(200):  # made right after the reply went out: the fork, then the template moved back out
                waiting = children(templates[0])
                if waiting and not (worker.groups and "/job-2" in template_groups.read_text()):
                    break
                time.sleep(0.01)
            assert len(waiting) == 1, waiting
            if worker.groups:  # the next submission's cgroups (job-2), not the template's
                assert "/job-2" in Path(f"/proc/{waiting[0]}/cgroup").read_text()
                assert "/job-2" not in template_groups.read_text()
            second = _job(worker, "job-pid-2", PID, scale_cases=case)
        finally:
            worker.stop()
    assert second["result"] is not None and second["result"]["outputs"][0]["y"]["pid"] == waiting[0]
    assert not children(templates[0]) or not Path(f"/proc/{templates[0]}").exists()


@needs_cgroups
def test_a_stale_group_left_frozen_is_thawed_killed_and_removed() -> None:
    """A grader killed while it froze a submission's group (to kill it race-free) leaves a frozen process; the next
    grader's clean-up of stale groups thaws it, so it dies and the groups go, instead of waiting on it for ever."""
    assert LAYOUT is not None
    name = cgroups.worker_group_name(dead_pid(), 0)  # a grader that is gone
    groups = cgroups.create_worker_groups(LAYOUT, name)
    job = cgroups.SubmissionGroups.create(groups, LAYOUT.version, "job-2")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        job.enter(sleeper.pid)
        job.inside = None
        frozen = job.paths.get("freezer")
        if frozen is not None:
            (frozen / "freezer.state").write_text("FROZEN")
        # in a process of its own: a clean-up that waits on the frozen process for ever fails here, not hangs
        subprocess.run([sys.executable, "-c", "from autograder.grading.runner import cgroups\n"
                        "cgroups.remove_stale(cgroups.discover())"], check=True, timeout=30)
        assert sleeper.wait(5) == -9
        assert not any(path.exists() for path in groups.values())
    finally:
        if "freezer" in job.paths and job.paths["freezer"].exists():
            (job.paths["freezer"] / "freezer.state").write_text("THAWED")
        sleeper.kill()
        cgroups.remove_groups(groups, LAYOUT.version)
