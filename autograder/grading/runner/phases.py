"""Which phases of a submission finished: decided by the worker alone, from what it checked itself.

The forked child runs the cells before question 0's test cell ('cells'), then question 0 ('q0'), then the cells
up to question 1's test cell ('cells1', possibly none), then question 1 ('q1'), and so on, as nbgrader grades
each question with the notebook's state at its test cell; each phase's result is one frame on a pipe. Student
code runs in that same process and can write to that pipe too, so a frame is never evidence that work
finished, only a candidate result. The worker accepts a phase

- once and in order (phase_names: 'cells', 'q0', 'cells1', 'q1', ...): a frame out of order, malformed or too
  large closes the channel, and nothing after it counts;
- only while no process of the submission has been killed for memory: a memory kill forfeits the phase
  it happened in and every later one; a timeout or signal forfeits whatever was not accepted before it;

and it sends question i's inputs down to the child only once it has accepted the phase before (the cells
before question i), so a result can only have been computed during its own phase, under that phase's limits
(each phase, a chunk of cells or a question, gets the per-phase time limit). Accepted results stay in the
worker until every process of the submission is dead; only then do they become the files the grader judges
(`Reply.files` names them). Nothing else the child writes is ever read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from autograder.grading.runner.protocol import FRAME, FRAME_MAGIC, SETUP_PHASE

#: Why a channel was refused, as the Reply carries it: a frame that is not one (bad magic, over what is left of the
#: size cap of all the child's frames together),
#: or a well-formed frame for another phase than the one due (out of order, repeated, after the last).
REFUSED_MALFORMED, REFUSED_ORDER = "malformed", "order"


def phase_names(questions: int) -> list[str]:
    """The phases of a job with `questions` questions: 'cells', 'q0', 'cells1', 'q1', ... (phase 2i: the cells
    before question i; phase 2i + 1: question i)."""
    names = []
    for index in range(max(questions, 1)):
        names.append(cells_phase(index))
        if index < questions:
            names.append(f"q{index}")
    return names


def cells_phase(index: int) -> str:
    """The name of the phase running the cells before question `index` ('cells' before the first)."""
    return "cells" if index == 0 else f"cells{index}"


class Phases:
    """The result frames read from one child, the phases accepted from them, and the inputs still to send."""

    def __init__(self, names: list[str], inputs: list[bytes], oom_kills: Callable[[], int], cap: int) -> None:
        """`names`: phase_names(...); `inputs[k]`: what to send the child once phase k is accepted (the frame with
        the next question's cases after a phase of cells; b"" or nothing after a question's phase); `cap`: the bytes
        all of the child's frames may hold together (the worker holds them, outside the submission's memory cap)."""
        self.names, self.inputs, self.oom_kills, self.cap = names, inputs, oom_kills, cap
        #: Bytes of the frames taken so far (every phase's JSON and .npz parts): never more than `cap`.
        self.held = 0
        self.accepted: list[tuple[str, bytes, bytes]] = []
        #: When each accepted phase was accepted (time.perf_counter), for the worker's profile.
        self.accepted_at: list[float] = []
        self.outgoing = bytearray()
        self.buffer = bytearray()
        self.closed = False
        self.setup: float | None = None
        #: The first phase not accepted because the submission had a process killed for memory.
        self.oom_phase: int | None = None
        #: Why the channel was closed on a frame it could not accept: REFUSED_MALFORMED or REFUSED_ORDER ("" while it
        #: is open, or after a memory kill).
        self.refused = ""

    def feed(self, data: bytes) -> int:
        """Take bytes read from the child's result pipe; return how many phases this accepted."""
        if self.closed:
            return 0
        self.buffer += data
        accepted = 0
        while not self.closed and len(self.buffer) >= FRAME.size:
            magic, phase, json_size, npz_size = FRAME.unpack_from(self.buffer)
            if magic != FRAME_MAGIC or json_size + npz_size > self.cap - self.held:  # a frame over what is left
                self._close(REFUSED_MALFORMED)
                break
            end = FRAME.size + json_size + npz_size
            if len(self.buffer) < end:
                break
            json_bytes = bytes(self.buffer[FRAME.size:FRAME.size + json_size])
            npz_bytes = bytes(self.buffer[FRAME.size + json_size:end])
            del self.buffer[:end]
            self.held += json_size + npz_size
            accepted += self._take(phase, json_bytes, npz_bytes)
        return accepted

    def _take(self, phase: int, json_bytes: bytes, npz_bytes: bytes) -> int:
        """Accept one frame if it is the next phase and no memory kill happened yet; else close the channel."""
        if phase == SETUP_PHASE and self.setup is None and not self.accepted:
            self.setup = _seconds(json_bytes)
            return 0
        if phase != len(self.accepted) or phase >= len(self.names):
            self._close(REFUSED_ORDER)
            return 0
        if self.oom_kills():
            self.oom_phase = phase
            self._close()
            return 0
        self.accepted.append((self.names[phase], json_bytes, npz_bytes))
        self.accepted_at.append(time.perf_counter())
        if phase < len(self.inputs) and self.inputs[phase]:
            self.outgoing += self.inputs[phase]
        return 1

    def _close(self, refused: str = "") -> None:
        """Accept nothing more from this child (`refused`: the frame that made it stop, if one did)."""
        self.closed, self.refused = True, refused
        self.buffer.clear()

    def finish(self) -> None:
        """After the child is gone: a memory kill after the last accepted phase forfeits the rest."""
        if self.oom_phase is None and self.oom_kills():
            self.oom_phase = len(self.accepted)

    def send(self, fd: int) -> None:
        """Write what the (non-blocking) inputs pipe takes now of the inputs queued for the child."""
        try:
            written = os.write(fd, self.outgoing[: 1 << 16])
        except BlockingIOError:
            return
        except BrokenPipeError:  # nobody reads the inputs any more: drop them rather than retry forever
            self.outgoing.clear()
            return
        del self.outgoing[:written]


def _seconds(text: bytes) -> float:
    """A non-negative float from the child's setup frame (0.0 when garbled)."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value < 60.0 else 0.0
