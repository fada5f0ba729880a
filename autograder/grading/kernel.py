"""The forked child that runs ONE submission inside a sandboxed worker: the only place student code runs.

Order matters: confine first (session, rlimits, unprivileged uid, fresh cwd, captured output), then
run the restored setup cells, then the student's answer cells and the graded calls with the
forbidden-shortcut tripwire armed. Results go to `out_dir` as plain JSON + .npz; the worker and the
trusted grader treat them as untrusted. This function never returns: it ends with os._exit.
"""

from __future__ import annotations

import builtins
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from autograder import plain
from autograder.checks.spec import ERROR_KEY


@dataclass(frozen=True)
class Confinement:
    """Per-submission limits applied in the child before any student code runs."""

    memory_mb: int
    cpu_seconds: int
    file_bytes: int = 64 << 20
    processes: int = 64
    uid: int = -1  # >= 0: switch to this unprivileged uid/gid (possible when the worker holds CAP_SETUID)


def _vm_bytes() -> int:
    """Current virtual memory size of this process (RLIMIT_AS counts from here)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def confine(limits: Confinement, stdout_fd: int, stderr_fd: int, keep_fd: int, cwd: Path) -> None:
    """New session, capped resources, output into the worker's pipes, unprivileged uid, fresh cwd."""
    os.setsid()
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
    os.chdir(cwd)
    os.umask(0o077)
    sys.argv = [""]
    _forget_grader_modules()
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def _forget_grader_modules() -> None:
    """Drop the grader's own modules from sys.modules (they name it); what runs keeps its references."""
    import autograder

    for name in [m for m in sys.modules if m.startswith(("autograder.grading", "autograder.plain"))]:
        del sys.modules[name]
    for attribute in ("grading", "plain"):
        if hasattr(autograder, attribute):
            delattr(autograder, attribute)


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
        except Exception as exc:  # noqa: BLE001 - anything the student returned
            clean.append({ERROR_KEY: f"returned something that is not plain data: {exc}"[:300]})
    plain.dump({**value, "outputs": clean}, base)


def run(cells: list[tuple[str, str, bool]], questions: list[Any], cases: dict[str, list[Any]],
        out_dir: Path, progress_fd: int, tripwire: Callable[[], Any] | None) -> None:
    """Exec the cells, call every question on its cases, write results; never returns."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    errors: list[str] = []
    memory = False
    armed = None
    try:
        for label, source, is_answer in cells:
            if is_answer and armed is None and tripwire is not None:
                armed = tripwire()
                wire = armed.__enter__()
            try:
                exec(compile(source, f"<cell {label}>", "exec"), namespace)  # noqa: S102 - the sandbox's job
            except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
                errors.append(f"cell {label}: {_one_line(exc)}")
                memory = memory or _is_memory(exc)
        if armed is None and tripwire is not None:
            armed = tripwire()
            wire = armed.__enter__()
        plain.dump({"errors": errors, "memory": memory}, out_dir / "cells")
        os.write(progress_fd, b"cells\n")
        for index, question in enumerate(questions):
            watch = _Watch()
            seen = len(getattr(wire, "tripped", [])) if armed is not None else 0
            started = time.perf_counter()
            found = {name: namespace.get(name) for name in question.functions}
            missing = [name for name, fn in found.items() if not callable(fn)]
            outputs: list[Any] = []
            if not missing:
                functions = {name: watch.wrap(fn) for name, fn in found.items()}
                for case in cases.get(question.grade_id, []):
                    try:
                        outputs.append(question.call(functions, case))
                    except BaseException as exc:  # noqa: BLE001 - call must not raise, but be sure
                        outputs.append({ERROR_KEY: _one_line(exc)})
            tripped = sorted(set(getattr(wire, "tripped", [])[seen:])) if armed is not None else []
            _safe_dump({"outputs": outputs, "missing": missing, "memory": watch.memory, "tripped": tripped,
                        "seconds": time.perf_counter() - started}, out_dir / f"q{index}")
            os.write(progress_fd, f"q{index}\n".encode())
    except BaseException:  # noqa: BLE001 - writing the results failed (disk full, memory): not the student's exit
        os._exit(70)
    finally:
        os._exit(0)
