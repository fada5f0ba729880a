"""The forked child that runs ONE submission inside a sandboxed worker: the only place student code runs.

Order matters: confine first (session, fresh IPC and mount namespaces with
the runner's code covered, rlimits, a uid of its own with fresh keyrings, fresh cwd, captured output,
and the course's modules dropped from sys.modules), then run the restored setup cells, then the
student's answer cells and the graded calls with the forbidden-shortcut tripwire armed. Results go
to `out_dir` as plain JSON + .npz; the worker and the trusted grader treat them as untrusted. `run`
never returns: it ends with os._exit.
"""

from __future__ import annotations

import builtins
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
from autograder.grading.model import EXIT_RESULTS_UNWRITABLE, Cell


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


def _vm_bytes() -> int:
    """Current virtual memory size of this process (RLIMIT_AS counts from here)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def confine(limits: Confinement, stdout_fd: int, stderr_fd: int, keep_fd: int, cwd: Path) -> None:
    """New session, cgroups and namespaces, capped resources, output into the worker's pipes, own uid, fresh cwd."""
    from autograder.grading import isolation

    os.setsid()
    if limits.namespaces:
        isolation.new_namespaces(list(limits.hide))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 65536)
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


def _one_line(exc: BaseException) -> str:
    """'Type: message' on one line, with the line of the student's cell where it happened."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<cell"):
            where = f" ({frame.filename[1:-1]}, line {frame.lineno})"
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text[:300] + where


def _is_memory(exc: BaseException) -> bool:
    """True for Python's MemoryError and torch's failed allocations under RLIMIT_AS."""
    return isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) or "out of memory" in str(exc)


class _Watch:
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


def _safe_dump(value: Any, base: Path) -> None:
    """Dump plain data; a non-plain output becomes an error output instead of failing the question."""
    outputs = value.get("outputs", [])
    clean = []
    for output in outputs:
        try:
            plain.encode(output)
            clean.append(output)
        except Exception as exc:  # anything the student returned
            clean.append({ERROR_KEY: f"returned something that is not plain data: {exc}"[:300]})
    plain.dump({**value, "outputs": clean}, base)


def run(cells: list[Cell], questions: list[Any], cases: dict[str, list[Any]],
        out_dir: Path, progress_fd: int, tripwire: Callable[[], Any] | None) -> None:
    """Exec the cells, call every question on its cases, write results; never returns.

    `tripwire()` returns the (already armed) process-wide record of forbidden calls, or is None.
    """
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    errors: list[str] = []
    memory = False
    wire = None
    try:
        for cell in cells:
            if cell.answer and wire is None and tripwire is not None:
                wire = tripwire()
            try:
                filename = f"<cell {cell.label}>"
                # Tracebacks and the checks' "line N: `...`" read source through linecache, as in Jupyter.
                linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
                exec(compile(cell.source, filename, "exec"), namespace)  # running it is the sandbox's job
            except BaseException as exc:  # SystemExit and KeyboardInterrupt included
                errors.append(f"cell {cell.label}: {_one_line(exc)}")
                memory = memory or _is_memory(exc)
        if wire is None and tripwire is not None:
            wire = tripwire()
        plain.dump({"errors": errors, "memory": memory}, out_dir / "cells")
        os.write(progress_fd, b"cells\n")
        for index, question in enumerate(questions):
            watch = _Watch()
            seen = len(wire.tripped) if wire is not None else 0
            started = time.perf_counter()
            found = {name: namespace.get(name) for name in question.functions}
            missing = [name for name, fn in found.items() if not callable(fn)]
            outputs: list[Any] = []
            if not missing:
                functions = {name: watch.wrap(fn) for name, fn in found.items() if fn is not None}
                for case in cases.get(question.grade_id, []):
                    try:
                        outputs.append(question.call(functions, case))
                    except BaseException as exc:  # call must not raise, but be sure
                        outputs.append({ERROR_KEY: _one_line(exc)})
            tripped = sorted(set(wire.tripped[seen:])) if wire is not None else []
            _safe_dump({"outputs": outputs, "missing": missing, "memory": watch.memory, "tripped": tripped,
                        "seconds": time.perf_counter() - started}, out_dir / f"q{index}")
            os.write(progress_fd, f"q{index}\n".encode())
    except BaseException:  # writing the results failed (disk full, memory): not the student's exit
        os._exit(EXIT_RESULTS_UNWRITABLE)
    finally:
        os._exit(0)
