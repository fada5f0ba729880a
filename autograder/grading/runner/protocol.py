"""Length-prefixed JSON messages over pipes between the grader and its sandboxed workers (never pickle)."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

#: Largest message either side accepts (limits.py); bigger payloads travel as files named in the message.
from autograder.grading.runner.limits import MAX_MESSAGE_BYTES

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


# --- frames between the worker and the forked child: its results up, a question's inputs down ---------------

#: magic, phase (2i = the cells before question i, 2i + 1 = question i, SETUP_PHASE = the child's isolation time),
#: JSON and .npz sizes.
FRAME = struct.Struct(">4sBII")
FRAME_MAGIC = b"RSLT"
SETUP_PHASE = 255


def frame(phase: int, json_bytes: bytes, npz_bytes: bytes) -> bytes:
    """One frame: header, then the JSON part, then the .npz part (see autograder.plain.dumps)."""
    return FRAME.pack(FRAME_MAGIC, phase, len(json_bytes), len(npz_bytes)) + json_bytes + npz_bytes


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to a blocking fd."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd: int, cap: int) -> tuple[int, bytes, bytes]:
    """Read one frame from a blocking fd; ProtocolError when it is malformed or a part exceeds `cap`."""
    magic, phase, json_size, npz_size = FRAME.unpack(_read_exactly(fd, FRAME.size))
    if magic != FRAME_MAGIC or json_size > cap or npz_size > cap:
        raise ProtocolError("malformed frame")
    return phase, _read_exactly(fd, json_size), _read_exactly(fd, npz_size)
