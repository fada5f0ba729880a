"""The forked child that runs ONE submission inside a sandboxed worker: the only place student code runs.

The clean template (autograder.grading.runner.template) forks it; `child_main` reads the job's code from its
folder, then confines (session, fresh IPC and mount namespaces with the runner's code and the forbidden
torch sources covered, rlimits, a uid of its own with fresh keyrings, fresh cwd, captured output, and
the course's modules dropped from sys.modules), then `run` runs the restored setup cells and the student's
answer cells, calling each question where its test cell stands (as nbgrader does), with the forbidden-shortcut
tripwire armed. Each phase's result goes
up the result pipe as one frame of plain JSON + .npz, and each question's inputs come down another pipe
only once the worker accepted the phase before (autograder.grading.runner.phases): the worker and the grader
treat every frame as untrusted. Neither function returns: they end with os._exit.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import linecache
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import plain
from autograder.checks.spec import ERROR_KEY
from autograder.checks.where import STR_FAILED, exception_text
from autograder.grading.runner import limits, protocol
from autograder.grading.runner.cells import Kernel
from autograder.grading.runner.wire import EXIT_RESULTS_UNWRITABLE, RunCell, error_message
from autograder.message import say

#: The child's fds for its result frames (up to the worker) and its questions' inputs (down from it).
RESULT_FD, INPUT_FD = 3, 4
#: The file in the job's folder holding the cells to run (written by the worker, read by the child as root).
CODE = "code.json"


@dataclass(frozen=True)
class Confinement:
    """Per-submission limits applied in the child before any student code runs."""

    memory_mb: int
    cpu_seconds: int
    file_bytes: int = 64 << 20
    processes: int = 64
    uid: int = -1  # >= 0: switch to this unprivileged uid/gid (possible when the worker holds CAP_SETUID)
    #: Folders to cover in the child's own mount namespace (the runner: the checks the student is graded by).
    hide: tuple[Path, ...] = ()
    #: Enter fresh IPC and mount namespaces (needs CAP_SYS_ADMIN: root, or the sandbox's user namespace).
    namespaces: bool = False
    #: With `namespaces`, a fresh network namespace too (only a loopback of its own, down): the bare fallback as
    #: root, where no sandbox took the network away (in bubblewrap the worker's own namespace has none to reach).
    network: bool = False
    #: With `namespaces`, fresh private /tmp, /var/tmp and /dev/shm with these paths bound back in them
    #: (isolation.private_scratch): the bare fallback as root, where no sandbox gave the child scratch folders of
    #: its own. None: the folders as they are (bubblewrap's are the worker's own already).
    keep: tuple[Path, ...] | None = None
    #: With `namespaces`, folders the uid cannot cross, each with the paths under it the child needs (Python, its home):
    #: a read-only tmpfs on each, those paths bound back (isolation.private_reach), as bubblewrap binds Python.
    reach: tuple[tuple[Path, tuple[Path, ...]], ...] = ()


@dataclass(frozen=True)
class Settings:
    """What every child of one worker shares, fixed at start-up before any job (so: no student data)."""

    exchange: Path
    home: Path
    assignment: Any  # autograder.checks.spec.Assignment
    tripwire: Callable[[], Any] | None
    #: Folders each child covers (the runner; the forbidden torch sources when the assignment has a tripwire).
    hide: tuple[Path, ...]
    namespaces: bool
    #: Each child enters a network namespace of its own (Confinement.network).
    network: bool = False
    #: Each child gets private scratch folders, these paths bound back (Confinement.keep).
    keep: tuple[Path, ...] | None = None
    #: Each child reaches these paths behind folders its uid cannot cross (Confinement.reach).
    reach: tuple[tuple[Path, tuple[Path, ...]], ...] = ()


def _vm_bytes() -> int:
    """Current virtual memory size of this process (RLIMIT_AS counts from here)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def confine(limits: Confinement, stdout_fd: int, stderr_fd: int, result_fd: int, input_fd: int, cwd: Path) -> None:
    """New session, cgroups and namespaces, capped resources, output into the worker's pipes, own uid, fresh cwd.

    Afterwards the only open fds are 0 (/dev/null), 1 and 2 (captured output), RESULT_FD and INPUT_FD.
    """
    from autograder.grading.runner import isolation

    os.setsid()
    isolation.small_pages()
    if limits.namespaces:
        flags = isolation.CLONE_NEWIPC | isolation.CLONE_NEWNS | (isolation.CLONE_NEWNET if limits.network else 0)
        isolation.new_namespaces(list(limits.hide), flags, limits.keep, limits.reach)
        if limits.keep is not None and limits.uid >= 0:  # bare as root: its working folder in RAM, not on the disk
            isolation.private_work(cwd, limits.uid)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (stdout_fd, stderr_fd, result_fd, input_fd)]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd, target in zip(high, (1, 2, RESULT_FD, INPUT_FD), strict=True):
        os.dup2(fd, target)
    os.closerange(INPUT_FD + 1, 65536)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    # over-size writes fail with EFBIG (an exception the student sees) instead of killing the process
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    memory = _vm_bytes() + limits.memory_mb * (1 << 20)
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, limits.cpu_seconds),
                         (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_CORE, 0),
                         (resource.RLIMIT_NOFILE, 256), (resource.RLIMIT_NPROC, limits.processes)):
        resource.setrlimit(which, (value, value))
    if limits.uid >= 0:
        os.setgroups([])
        os.setresgid(limits.uid, limits.uid, limits.uid)
        os.setresuid(limits.uid, limits.uid, limits.uid)  # drops every capability with root
        isolation.fresh_keyrings()
    os.chdir(cwd)
    os.umask(0o077)
    sys.argv = [""]
    _forget_grader_modules(limits.hide)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


#: Top-level packages of the grader and of the checks (set by the worker): gone from sys.modules in the child.
COURSE_PACKAGES = ["autograder"]


def _forget_grader_modules(hidden: tuple[Path, ...] = ()) -> None:
    """Drop the course's modules from sys.modules: with the runner covered, `import autograder` then fails.

    What runs (the checks' calling side, the tripwire) keeps its own references to what it needs. The
    import system's cached listings of the covered folders go too (cheaper than invalidate_caches()).
    """
    prefixes = tuple(p for name in COURSE_PACKAGES for p in (name, name + "."))
    for name in [m for m in sys.modules if m in COURSE_PACKAGES or m.startswith(prefixes)]:
        del sys.modules[name]
    roots = tuple(str(h) for h in hidden)
    for entry in [e for e in sys.path_importer_cache if e.startswith(roots)] if roots else []:
        del sys.path_importer_cache[entry]


def _exception(exc: BaseException) -> dict[str, Any]:
    """What went wrong as plain data (the grader words it): the exception's type, its text on one line, and the
    student's cell and line where it was raised (None when no cell of the notebook was on its stack). Never raises:
    a student's exception (its class, its attributes) may make anything raise, and this runs where the cells do."""
    try:
        return _exception_fields(exc)
    except Exception:
        return {"type": "Exception", "text": STR_FAILED, "where": None, "line": None}


def _exception_fields(exc: BaseException) -> dict[str, Any]:
    """_exception, which may raise on a hostile exception."""
    cell, line, text = None, None, exception_text(exc)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<cell ") and frame.filename.endswith(">"):
            cell, line = frame.filename[6:-1], frame.lineno
    if isinstance(exc, SyntaxError) and isinstance(exc.filename, str) and isinstance(exc.msg, str) \
            and exc.filename.startswith("<cell ") and exc.filename.endswith(">"):
        # Python's str() appends "(<cell x>, line 2)" in English: the cell and line go as data, worded at the edge
        cell, line, text = exc.filename[6:-1], exc.lineno if isinstance(exc.lineno, int) else None, exc.msg
    return {"type": str(type(exc).__name__), "text": text.replace("\n", " ")[:300], "where": cell, "line": line}


def _is_memory(exc: BaseException) -> bool:
    """True for Python's MemoryError and torch's failed allocations under RLIMIT_AS."""
    text = exception_text(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text


class _MemoryWatch:
    """Wraps the student's functions so that memory exhaustion is noticed even if `call` swallows it."""

    def __init__(self) -> None:
        """Nothing seen yet."""
        self.memory = False

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` with a memory-error flag."""
        def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                self.memory = self.memory or _is_memory(exc)
                raise
        return watched


def _send(fd: int, phase: int, value: Any) -> None:
    """Send one phase's result up the result pipe; a non-plain output becomes an error output instead."""
    clean = []
    for output in value.get("outputs", []):
        try:
            plain.encode(output)
            clean.append(output)
        except Exception as exc:  # anything the student returned
            clean.append({ERROR_KEY: say("check.not_plain", error=str(exc)[:300]).to_plain()})
    if "outputs" in value:
        value = {**value, "outputs": clean}
    protocol.write_all(fd, protocol.frame(phase, *plain.dumps(value)))


def _inputs(fd: int, phase: int) -> list[Any]:
    """The cases of the question of `phase`, once the worker sends them (after accepting the phase before)."""
    got, json_bytes, npz_bytes = protocol.read_frame(fd, limits.INPUT_BYTES)
    cases = plain.loads(json_bytes, npz_bytes)
    if got != phase or not isinstance(cases, list):
        raise protocol.ProtocolError(f"inputs for phase {got}, expected {phase}")
    return cases


def child_main(job: Any) -> None:
    """The child's whole life (job: a template.ChildJob): read the code, confine, run; never returns."""
    settings, descriptor = job.settings, job.descriptor
    try:
        out_w, err_w, result_w, input_r = job.fds
        job_dir = settings.exchange / descriptor["job"]
        cells = [RunCell(str(c["label"]), str(c["source"]), c["answer"] is True)
                 for c in json.loads((job_dir / CODE).read_bytes())]
        questions = [settings.assignment.question(g) for g in descriptor["questions"]]
        positions = [int(p) for p in descriptor["positions"]]
        limits = Confinement(memory_mb=int(descriptor["memory_mb"]), uid=int(descriptor["uid"]),
                             cpu_seconds=int(descriptor["cpu_seconds"]), hide=tuple(settings.hide),
                             namespaces=settings.namespaces, network=settings.network, keep=settings.keep,
                             reach=settings.reach)
        del job, descriptor
        entered = time.perf_counter()
        confine(limits, out_w, err_w, result_w, input_r, settings.home / "work")
        protocol.write_all(RESULT_FD, protocol.frame(protocol.SETUP_PHASE,
                                                     f"{time.perf_counter() - entered:.6f}".encode(), b""))
        run(cells, questions, RESULT_FD, INPUT_FD, settings.tripwire, positions)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(EXIT_RESULTS_UNWRITABLE)


def _exec_cells(cells: list[RunCell], kernel: Kernel, arm: Callable[[], None]) -> dict[str, Any]:
    """Run `cells` as the kernel runs them (`arm()` before the first the student wrote); their result frame's value."""
    errors: list[dict[str, Any]] = []
    memory = False
    for cell in cells:
        if cell.answer:
            arm()
        try:
            filename = f"<cell {cell.label}>"
            # Tracebacks and the checks' "line N: `...`" read source through linecache, as in Jupyter.
            linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
            kernel.run(kernel.compile(cell.source, filename))
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            errors.append({"cell": cell.label, **_exception(exc)})
            memory = memory or _is_memory(exc)
    return {"errors": errors, "memory": memory}


def run(cells: list[RunCell], questions: list[Any], result_fd: int, input_fd: int,
        tripwire: Callable[[], Any] | None, positions: list[int] | None = None) -> None:
    """Exec the cells, calling each question where its test cell stands, send results; never returns.

    As `nbgrader autograde` runs a notebook, each question sees the functions (and the state) in effect at its
    test cell: phase 2i runs the cells before question i (`positions[i]` of them in all, counted from the first;
    default: every cell), phase 2i + 1 calls question i on its cases, which arrive on `input_fd`; cells after
    the last question's test cell cannot change a grade and do not run. With no question, phase 0 runs every
    cell. `tripwire()` returns the (already armed) process-wide record of forbidden calls, or is None; it is
    armed before the student's first cell runs, and before any question is called.
    """
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    kernel = Kernel(namespace)
    wires: list[Any] = []

    def arm() -> None:
        if not wires and tripwire is not None:
            wires.append(tripwire())

    ends = list(positions) if positions is not None else [len(cells)] * len(questions)
    try:
        done = 0
        for index, end in enumerate(ends or [len(cells)]):
            chunk = _exec_cells(cells[done:end], kernel, arm)
            done = max(done, end)
            arm()
            _send(result_fd, 2 * index, chunk)
            if index >= len(questions):
                break
            question = questions[index]
            cases = _inputs(input_fd, 2 * index + 1)
            wire = wires[0] if wires else None
            watch = _MemoryWatch()
            seen = len(wire.tripped) if wire is not None else 0
            started = time.perf_counter()
            found = {name: namespace.get(name) for name in question.functions}
            missing = [name for name, fn in found.items() if not callable(fn)]
            outputs: list[Any] = []
            if not missing:
                functions = {name: watch.wrap(fn) for name, fn in found.items() if fn is not None}
                for case in cases:
                    try:
                        outputs.append(question.call(functions, case))
                    except BaseException as exc:  # what call lets through (KeyboardInterrupt) raises out of the
                        # test cell under nbgrader, which scores it 0: every case of the question fails here too
                        found_at = _exception(exc)
                        error = error_message(found_at["type"], found_at["text"], found_at["where"], found_at["line"])
                        outputs = [{ERROR_KEY: say("check.call_failed", error=error).to_plain()}] * len(cases)
                        break
            tripped = sorted(set(wire.tripped[seen:])) if wire is not None else []
            del cases
            _send(result_fd, 2 * index + 1, {"outputs": outputs, "missing": missing, "memory": watch.memory,
                                             "tripped": tripped, "seconds": time.perf_counter() - started})
    except BaseException:  # writing the results failed (disk full, memory): not the student's exit
        os._exit(EXIT_RESULTS_UNWRITABLE)
    finally:
        os._exit(0)
