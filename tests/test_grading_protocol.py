"""grading.protocol: length-prefixed JSON over a pipe, and every way a message can be refused."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import pytest

from autograder.grading import protocol


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
