"""How the service receives a body, in process (no service, no sandbox): a body that stops arriving is dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from autograder.grading.drivers.service import app


def test_a_body_that_stops_arriving_is_dropped() -> None:
    """A connection that sends part of its body and then nothing (lost, or a student holding one of the few places
    each person has for uploads) is dropped after the idle time, not waited on for ever."""
    sent = [{"type": "http.request", "body": b"{\"nbformat\"", "more_body": True}]

    async def receive() -> dict[str, Any]:
        if sent:
            return sent.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}
    request = Request({"type": "http", "method": "POST", "path": "/api/submit/fake", "headers": []}, receive)

    async def read() -> None:
        await asyncio.wait_for(app._body(request, 1 << 20, idle=0.05), 5)
    with pytest.raises(app._Stalled):
        asyncio.run(read())


def test_a_whole_body_is_read() -> None:
    """Chunks that keep coming are the body, under the cap; over it, None."""
    def request() -> Request:
        chunks = [{"type": "http.request", "body": b"ab", "more_body": True},
                  {"type": "http.request", "body": b"cd", "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0)
        return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
    assert asyncio.run(app._body(request(), 10, idle=1)) == b"abcd"
    assert asyncio.run(app._body(request(), 3, idle=1)) is None
