"""autograder.grading.core.sandbox/worker: mount order (a venv under /tmp stays visible), wiping, the runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autograder.grading.core.sandbox import worker_argv
from autograder.grading.runner.worker import _wipe


def test_private_tmp_is_mounted_before_the_read_only_binds(tmp_path: Path) -> None:
    """bwrap mounts in order: the tmpfs on /tmp must come first or it hides a venv that lives under /tmp."""
    argv = worker_argv("autograder.checks:get_assignment", "optimizers", tmp_path, 0, sandboxed=True)
    tmpfs = argv.index("/tmp", argv.index("--tmpfs"))
    binds = [i for i, arg in enumerate(argv) if arg == "--ro-bind"]
    prefix = [i for i in binds if argv[i + 1] == str(Path(sys.prefix).resolve())]
    assert binds and tmpfs < min(binds), "the tmpfs on /tmp is mounted after (over) the read-only binds"
    assert prefix, f"{sys.prefix} (the Python environment) is not bound into the sandbox"


def test_wipe_spares_mounts_and_their_parents(tmp_path: Path) -> None:
    """Scratch wiping removes the student's files but never walks into a read-only mount."""
    (tmp_path / "student.txt").write_text("x")
    (tmp_path / "junk" / "deep").mkdir(parents=True)
    venv = tmp_path / "ci" / ".venv"
    venv.mkdir(parents=True)
    (venv / "python").write_text("keep me")
    _wipe(tmp_path, frozenset({venv, venv.parent}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci"]
    assert (venv / "python").read_text() == "keep me"


def test_sandbox_caps_shared_memory_and_hides_gpus(tmp_path: Path) -> None:
    """/dev/shm is a size-capped tmpfs, and student code sees no CUDA device and COURSE_DEVICE=cpu."""
    argv = worker_argv("autograder.checks:get_assignment", "optimizers", tmp_path, 0, sandboxed=True)
    shm = argv.index("/dev/shm")
    assert argv[shm - 1] == "--tmpfs" and argv[shm - 3] == "--size" and int(argv[shm - 2]) <= 64 << 20
    assert argv.index("--dev") < shm, "the capped /dev/shm must be mounted over bwrap's own /dev"
    env = {argv[i + 1]: argv[i + 2] for i, arg in enumerate(argv) if arg == "--setenv"}
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["COURSE_DEVICE"] == "cpu"


def test_sandbox_binds_the_runner_never_the_checkout(tmp_path: Path) -> None:
    """The course package reaches the sandbox only as the runner folder; the checkout itself is not bound."""
    from autograder.grading.core import sandbox
    from autograder.grading.runner.assignments import import_root

    runner = tmp_path / "runner-0"
    groups = {"memory": tmp_path / "cg-memory", "pids": tmp_path / "cg-pids"}
    argv = worker_argv("autograder.checks:get_assignment", "optimizers", tmp_path / "exchange-0", 0, sandboxed=True,
                       runner=runner, groups=groups, cgroup_version=1)
    package = str(import_root("autograder.grading.runner.worker:main")[1])
    sources = [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind")]
    assert not [s for s in sources if s == package or s.startswith(package + "/") or package.startswith(s + "/")
                and not s.startswith(sys.prefix)], "the checkout (or a folder above it) is bound into the sandbox"
    assert argv[argv.index(str(runner)) + 1] == sandbox.RUNNER
    for key, path in groups.items():
        assert argv[argv.index(str(path)) - 1] == "--bind" and argv[argv.index(str(path)) + 1].endswith("/" + key)
    env = {argv[i + 1]: argv[i + 2] for i, arg in enumerate(argv) if arg == "--setenv"}
    assert env["PYTHONPATH"] == sandbox.RUNNER
    assert argv[argv.index("--hide") + 1] == sandbox.RUNNER
    if os.geteuid() == 0:  # to enter each submission's IPC and mount namespaces before dropping root
        assert argv[argv.index("CAP_SYS_ADMIN") - 1] == "--cap-add"


def test_the_runner_imports_nothing_trusted() -> None:
    """Every module that ships into the sandbox (sandbox.runner_modules()) imports, anywhere in its code, only
    other runner modules and the checks' calling side: never judging, the grading key, the pipeline, the
    reference kernels or the known mistakes (the trusted side stays out of reach of student code)."""
    import ast

    from autograder.grading.core import sandbox
    from autograder.grading.runner.assignments import import_root

    package = import_root("autograder.grading.runner.worker:main")[1]
    shipped = {f"autograder.{name.removesuffix('.py').removesuffix('/__init__').replace('/', '.')}"
               for name in sandbox.runner_modules()}
    withheld = tuple(f"autograder.{w.replace('/', '.')}" for w in sandbox.WITHHELD)
    trusted = []
    for name in sandbox.runner_modules():
        tree = ast.parse((package / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder"):
                targets = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("autograder")]
            else:
                continue
            for target in targets:  # `from a.b import c`: c is a module when a file or folder says so
                path = package.parent / target.replace(".", "/")
                module = target if path.with_suffix(".py").exists() or path.is_dir() else target.rsplit(".", 1)[0]
                checks = module.startswith("autograder.checks") and not module.startswith(withheld)
                if module not in shipped and not checks:
                    trusted.append(f"{name} imports {target}")
    assert not trusted, trusted
    assert {"autograder.grading.runner.template", "autograder.grading.runner.phases"} <= shipped
    # the runner folder ships whole: every module in it, and nothing of the trusted folders beside it
    folder = {p.relative_to(package).as_posix() for p in (package / "grading" / "runner").rglob("*.py")}
    assert folder <= set(sandbox.runner_modules())
    assert not [m for m in shipped if m.startswith(tuple(f"autograder.grading.{t}" for t in
                                                         ("core", "inbox", "drivers", "outputs")))]


def test_a_waiting_child_whose_cgroups_were_taken_is_never_handed_a_job(tmp_path: Path) -> None:
    """The child forked ahead of a job lives in that job's cgroups. If the job failed after taking them but before
    the hand-over, the next job must not get that child: the worker stops instead (the grader starts a new one)."""
    import socket

    import pytest

    from autograder.grading.runner.template import Template, TemplateError
    from autograder.grading.runner.worker import State, prepare_next

    ours, theirs = socket.socketpair()
    try:
        template = Template(pid=os.getpid(), channel=ours, waiting=(12345, -1))
        state = State(tmp_path, tmp_path, -1, None, [], frozenset(), {"memory": tmp_path}, 1, template)
        with pytest.raises(TemplateError, match="without cgroups"):
            prepare_next(state)
        state.groups = {}
        prepare_next(state)  # without cgroups a waiting child is simply the next job's
        assert template.waiting == (12345, -1)
        with pytest.raises(BlockingIOError):  # nothing was asked of the template: no fork, no job
            theirs.recv(1 << 10, socket.MSG_DONTWAIT)
    finally:
        ours.close()
        theirs.close()


def test_a_child_gone_while_a_daemon_holds_its_results_pipe_never_stalls_the_worker() -> None:
    """The child sends its last frame and exits while a process it left holds the results pipe open: the pipe and the
    child's pidfd are ready in the same round. The worker takes the frame and the exit, and never waits on the pipe
    again (it did, for good: every later submission of that worker then waited for the grader's 120 s)."""
    import threading

    from autograder.grading.runner.phases import Phases, phase_names
    from autograder.grading.runner.protocol import frame
    from autograder.grading.runner.worker import _watch

    read_end, write_end = os.pipe()  # the test keeps write_end open, as the daemon would
    pid = os.fork()
    if pid == 0:
        os.write(write_end, frame(0, b'{"d": {"errors": {"l": []}, "memory": false}}', b""))
        os._exit(0)
    pidfd = os.pidfd_open(pid)
    while open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z":  # exited, not yet reaped: both are ready
        pass
    phases = Phases(phase_names(0), [], lambda: 0, 1 << 20)
    seen: dict[str, object] = {}
    watcher = threading.Thread(target=lambda: seen.update(_watch(
        pidfd, lambda: os.waitpid(pid, 0)[1], {read_end: "results"}, 30.0, phases, -1, 1 << 10)), daemon=True)
    watcher.start()
    watcher.join(5.0)
    stalled = watcher.is_alive()
    os.close(write_end)  # frees a stalled watcher
    watcher.join(5.0)
    os.close(read_end)
    assert not stalled, "the worker waited on a results pipe it had already emptied"
    assert seen["status"] == 0 and [name for name, _, _ in phases.accepted] == ["cells"]


def test_imports_run_without_collections_and_leave_them_on() -> None:
    """Inside `without_collections` nothing is collected automatically; after it collection is on again (or stays off
    where it was off), what was made inside sits in the oldest generation, and nothing is hidden from the collector
    (frozen), which the tripwire's walk over every object relies on."""
    code = """import gc
from autograder.grading.runner.assignments import without_collections
with without_collections():
    inside = gc.isenabled()
    made = [[i] for i in range(5000)]
print(inside, gc.isenabled(), gc.get_count()[0] < 700, gc.get_freeze_count(), any(o is made for o in gc.get_objects(2)))
gc.disable()
with without_collections():
    pass
print(gc.isenabled())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "True", "True", "0", "True", "False"]
