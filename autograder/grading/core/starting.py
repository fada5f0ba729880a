"""Start sandboxed workers ahead of need, from long-lived threads; imports nothing heavy (no torch).

A worker takes about as long to start (bubblewrap, Python, torch, the checks) as the grader takes to import torch
and read the submissions, so the command line begins starting the first worker before either (`Early`), and
the grading pool (core.Pool) adopts it once it knows what to grade.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from pathlib import Path

from autograder.grading.core import sandbox, tmpdir


@dataclass
class Slot:
    """One warm sandboxed worker (started on first use), its exchange folder and its log."""

    index: int
    exchange: Path
    log: Path
    worker: sandbox.Worker | None = None
    #: A start begun before the slot was first used (see `Early`): the worker, once it is ready.
    starting: concurrent.futures.Future[sandbox.Worker] | None = None


def slot_for(index: int, tmp: Path, logs: Path) -> Slot:
    """Slot `index`: its exchange folder in `tmp`, its log in `logs`."""
    return Slot(index, tmp / f"exchange-{index}", logs / f"worker-{index}.log")


def start_threads() -> concurrent.futures.ThreadPoolExecutor:
    """The long-lived threads workers are started from, never the caller's: bubblewrap's --die-with-parent
    follows the *thread* that started it (PR_SET_PDEATHSIG), so a worker started by a short-lived thread (a
    warm-up, a finished batch thread) would die with it under another thread's job."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="grading-start")


@dataclass
class Early:
    """Workers whose start began before the grader knew what to grade (a worker takes ~1.5 s to import torch,
    as long as the grader itself): a `Pool` adopts them, or `abandon` stops them."""

    checks: str
    assignment_id: str
    sandboxed: bool
    tmp: Path
    logs: Path
    starter: concurrent.futures.ThreadPoolExecutor = field(default_factory=start_threads)
    slots: list[Slot] = field(default_factory=list)
    #: Folders made for these workers that did not exist before (the output folder, its logs/), newest last.
    made: list[Path] = field(default_factory=list)
    #: A pool took the workers (and the starter threads): nothing is left to abandon.
    adopted: bool = False

    def start(self, count: int = 1) -> Early:
        """Begin starting `count` more workers (slots 0, 1, ...); returns itself.

        Each process is launched here, in the calling thread, which must outlive it (the command line's main
        thread, or the one running a whole `pipeline.grade`): a starter thread would wait for the interpreter
        lock while the caller imports torch, which made the first worker start half a second late. The starter
        threads only wait for the workers to say they are ready."""
        for index in range(len(self.slots), len(self.slots) + count):
            slot = slot_for(index, self.tmp, self.logs)
            try:
                worker = sandbox.launch_worker(index, self.checks, self.assignment_id, slot.exchange, self.sandboxed,
                                               slot.log)
            except OSError as exc:  # cgroups, uid pools, the process: raised where the pool takes the worker
                failed: concurrent.futures.Future[sandbox.Worker] = concurrent.futures.Future()
                failed.set_exception(exc)
                slot.starting = failed
            else:
                slot.starting = self.starter.submit(sandbox.wait_ready, worker, slot.log)
            self.slots.append(slot)
        return self

    def abandon(self) -> None:
        """Stop the workers no pool adopted (each once its start has finished) and the starter threads; remove the
        temporary folder and, when the run never got to grade, the output folders made for the workers' logs."""
        if self.adopted:
            return
        slots, self.slots = self.slots, []
        for slot in slots:
            stop_slot(slot)
        self.starter.shutdown(wait=False, cancel_futures=True)
        tmpdir.remove(self.tmp)
        for folder in reversed(self.made):
            for log in folder.glob("worker-*.log") if folder == self.logs else ():
                log.unlink(missing_ok=True)
            try:
                folder.rmdir()  # only if nothing else was written there meanwhile
            except OSError:
                break


def begin(checks: str, assignment_id: str, sandbox_mode: str, out: Path) -> Early | None:
    """Start the first worker now, for a local bubblewrap run (`sandbox_mode` auto or bwrap) writing into `out`
    (its log goes to out/logs/): it imports torch while the grader does the same and reads the submissions.
    None when bubblewrap is not usable here (the grader then decides, and says, what happens instead)."""
    if sandbox_mode == "none" or not sandbox.bwrap_usable():
        return None
    made = [folder for folder in (*reversed(out.parents), out, out / "logs") if not folder.exists()]
    (out / "logs").mkdir(parents=True, exist_ok=True)
    early = Early(checks, assignment_id, True, tmpdir.make(), out / "logs", made=made)
    try:
        return early.start(1)
    except BaseException:  # --checks not importable, say: leave nothing behind (no folder, no worker)
        early.abandon()
        raise


def stop_slot(slot: Slot) -> None:
    """Stop the slot's worker, if it has one (one still starting: once its start has finished)."""
    if slot.starting is not None:
        starting, slot.starting = slot.starting, None
        try:
            slot.worker = starting.result()
        except Exception:  # noqa: BLE001 - a start that failed left nothing running (start_worker cleaned up)
            slot.worker = None
    if slot.worker is not None:
        slot.worker.stop()
    slot.worker = None
