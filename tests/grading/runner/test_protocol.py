"""grading.protocol and grading.phases: length-prefixed JSON over a pipe, and every way a message can be
refused; result frames from the child, and which of them the worker accepts as finished phases."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import pytest

from autograder.grading.runner import protocol
from autograder.grading.runner.phases import REFUSED_MALFORMED, REFUSED_ORDER, Phases
from autograder.grading.runner.protocol import SETUP_PHASE, frame


@pytest.fixture
def pipe() -> Iterator[dict[str, int]]:
    """{'read': fd, 'write': fd}; a test that closes an end pops it, the rest is closed here."""
    read, write = os.pipe()
    ends = {"read": read, "write": write}
    yield ends
    for fd in ends.values():
        os.close(fd)


def test_messages_round_trip_in_order(pipe: dict[str, int]) -> None:
    read, write = pipe["read"], pipe["write"]
    first, second = {"op": "job", "text": "ünï\u2028", "n": [1, 2.5, None]}, {"op": "exit"}
    protocol.send(write, first)
    protocol.send(write, second)
    assert protocol.receive(read) == first and protocol.receive(read) == second


def test_a_message_larger_than_a_pipe_buffer_arrives_whole(pipe: dict[str, int]) -> None:
    import threading

    read, write = pipe["read"], pipe["write"]
    big = {"source": "x" * (1 << 20)}
    sender = threading.Thread(target=protocol.send, args=(write, big))
    sender.start()
    assert protocol.receive(read) == big
    sender.join()


def test_sending_refuses_oversize_and_non_finite(pipe: dict[str, int]) -> None:
    write = pipe["write"]
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.send(write, {"x": "y" * protocol.MAX_MESSAGE_BYTES})
    with pytest.raises(ValueError):
        protocol.send(write, {"x": float("nan")})


@pytest.mark.parametrize(("raw", "named"), [
    (struct.pack(">I", protocol.MAX_MESSAGE_BYTES + 1), "exceeds"),
    (struct.pack(">I", 3) + b"\xff\xfe\xfd", "not JSON"),
    (struct.pack(">I", 5) + b"[1,2]", "a list, expected an object"),
    (struct.pack(">I", 10) + b"{}", "closed"),
    (b"\x00\x00", "closed"),
], ids=["announced-oversize", "not-utf8", "not-object", "truncated-body", "truncated-header"])
def test_receiving_refuses_what_is_not_one_object(pipe: dict[str, int], raw: bytes, named: str) -> None:
    write = pipe.pop("write")
    os.write(write, raw)
    os.close(write)
    with pytest.raises(protocol.ProtocolError, match=named):
        protocol.receive(pipe["read"])


# --- result frames and the phases the worker accepts (autograder.grading.runner.phases) --------------------------

def _phases(kills: list[int] | None = None) -> Phases:
    """A record for the cells and two questions, with marked inputs, whose memory-kill count is `kills[0]`."""
    kills = kills if kills is not None else [0]
    return Phases(["cells", "q0", "q1"], [b"inputs-0", b"inputs-1"], lambda: kills[0], 1 << 20)


def test_phases_are_accepted_once_in_order_and_inputs_follow_them() -> None:
    record = _phases()
    assert record.feed(frame(SETUP_PHASE, b"0.25", b"")) == 0 and record.setup == 0.25
    assert record.outgoing == b""  # no question's inputs before the cells phase was accepted
    assert record.feed(frame(0, b"c", b"C")[:5]) == 0  # half a frame waits for the rest
    assert record.feed(frame(0, b"c", b"C")[5:] + frame(1, b"q", b"Q")) == 2
    assert [name for name, _, _ in record.accepted] == ["cells", "q0"] and record.accepted[1][1:] == (b"q", b"Q")
    assert bytes(record.outgoing) == b"inputs-0inputs-1"


@pytest.mark.parametrize("bad", [
    frame(1, b"q0 before the cells", b""),  # out of order: a forged 'finished' question
    frame(0, b"c", b"") + frame(0, b"c again", b""),  # a phase twice
    b"cells\nq0\nq1\n" + b"\0" * 8,  # the old progress lines
    frame(0, b"x" * 10, b"")[:4] + b"\xff" * 9,  # sizes over the cap
    frame(SETUP_PHASE, b"0", b"") + frame(0, b"c", b"") + frame(SETUP_PHASE, b"0", b""),  # setup after a phase
])
def test_anything_out_of_order_closes_the_channel(bad: bytes) -> None:
    """After a malformed or out-of-order frame nothing more is accepted, not even a well-formed next phase."""
    record = _phases()
    record.feed(bad)
    before = len(record.accepted)
    assert record.closed and record.feed(frame(before, b"late", b"")) == 0 and len(record.accepted) == before
    assert record.refused in (REFUSED_MALFORMED, REFUSED_ORDER)  # the reply says why it stopped


def test_the_size_cap_holds_for_all_frames_together() -> None:
    """The worker holds a child's accepted frames outside the submission's memory cap: a frame per phase, each under
    the cap, cannot add up to more than it (14 phases of 128 MB each made a worker hold 1.9 GB); what fits is kept."""
    record = Phases(["cells", "q0", "cells1", "q1"], [b"inputs-0", b"", b"inputs-1"], lambda: 0, 100)
    assert record.feed(frame(0, b"c" * 30, b"C" * 30)) == 1
    assert record.feed(frame(1, b"q" * 30, b"Q" * 30)) == 0  # 120 bytes in all: over the cap of 100
    assert record.closed and record.refused == REFUSED_MALFORMED and [n for n, _, _ in record.accepted] == ["cells"]
    exact = Phases(["cells", "q0"], [b"inputs-0"], lambda: 0, 100)
    assert exact.feed(frame(0, b"c" * 25, b"C" * 25) + frame(1, b"q" * 25, b"Q" * 25)) == 2  # 100 bytes: allowed
    assert not exact.closed


def test_a_memory_kill_closes_the_channel_without_calling_it_refused() -> None:
    """Forfeiting phases to a memory kill is not the child's frames at fault: `refused` stays empty."""
    kills = [0]
    record = Phases(["cells", "q0"], [b"inputs-0"], lambda: kills[0], 1 << 20)
    kills[0] = 1
    record.feed(frame(0, b"c", b""))
    assert record.closed and record.oom_phase == 0 and record.refused == ""


def test_a_memory_kill_forfeits_the_phase_it_arrives_in_and_all_later() -> None:
    kills = [0]
    record = _phases(kills)
    assert record.feed(frame(0, b"c", b"")) == 1
    kills[0] = 1  # a helper of the submission was killed for memory
    assert record.feed(frame(1, b"q", b"") + frame(2, b"q", b"")) == 0
    assert record.oom_phase == 1 and [n for n, _, _ in record.accepted] == ["cells"] and record.closed
    quiet = _phases(kills)  # killed after the last accepted phase: finish() still marks the rest forfeited
    quiet.oom_kills = lambda: 0
    quiet.feed(frame(0, b"c", b""))
    quiet.oom_kills = lambda: 1
    quiet.finish()
    assert quiet.oom_phase == 1
