"""Length-prefixed JSON messages over pipes between the grader and its sandboxed workers (never pickle)."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

#: Largest message either side accepts; bigger payloads travel as files named in the message.
MAX_MESSAGE_BYTES = 16 << 20
_HEADER = struct.Struct(">I")


class ProtocolError(RuntimeError):
    """The other side closed the pipe or sent something that is not a well-formed message."""


def send(fd: int, message: dict[str, Any]) -> None:
    """Write one message: 4-byte big-endian length, then UTF-8 JSON."""
    body = json.dumps(message, allow_nan=False).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE_BYTES}")
    data = _HEADER.pack(len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, size: int) -> bytes:
    """Read `size` bytes or raise ProtocolError on end of file."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("pipe closed by the other side")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> dict[str, Any]:
    """Read one message; ProtocolError if it is too long, not JSON, or not a JSON object."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"announced message of {size} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(_read_exactly(fd, size).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"message is a {type(message).__name__}, expected an object")
    return message
