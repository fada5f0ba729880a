"""The clean template: forked from the worker at start-up, before any job; it forks every submission's child.

A child is a copy of the process it is forked from, so that process must never have held another
student's data. The worker does hold such data (the job's notebook code, the previous reply with its
captured output, the results), so it does not fork children itself: the template does. The template
only ever receives job descriptors (a job's folder name, its question ids, limits and uid) and the pipe
ends its child writes to (passed with SCM_RIGHTS); the child reads its own code and nothing else from
the job's folder, and gets each question's inputs through a pipe from the worker. The template forks the
next child ahead of its job, while the worker waits (`Template.prefork`, inside the next submission's
cgroups); that child holds nothing but a socket to the template until its descriptor arrives. In the child,
`serve` returns the job instead of looping, so the template's frames are gone before student code
runs: the worker module's top level runs it (see worker.py).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from autograder.grading.runner import limits


class TemplateError(RuntimeError):
    """The template could not fork a child, or is gone."""


@dataclass
class Template:
    """The worker's handle on its template process."""

    pid: int
    channel: socket.socket
    #: The child forked ahead of its job (its pid and a pidfd of it), waiting for a descriptor; None when none is.
    waiting: tuple[int, int] | None = None

    def prefork(self) -> None:
        """Have the template fork the next child now (it lands in the template's cgroups of the moment) and keep it
        waiting for its job: the fork, ~5 ms with torch loaded, is then off the submission's time.

        The pidfd is opened by the template before it can reap the child, so it stays valid however fast
        the child ends (a pid alone could already be gone, or reused).
        """
        if self.waiting is not None:
            return
        self.channel.send(json.dumps({"op": "fork"}).encode())
        data, pidfds, _, _ = socket.recv_fds(self.channel, limits.DESCRIPTOR_BYTES, 1)
        answer = _decode(data)
        if not isinstance(answer.get("pid"), int) or len(pidfds) != 1:
            for fd in pidfds:
                os.close(fd)
            raise TemplateError(f"the template could not fork a child: {answer.get('error', answer)}")
        self.waiting = int(answer["pid"]), pidfds[0]

    def spawn(self, descriptor: dict[str, Any], fds: list[int]) -> tuple[int, int]:
        """Hand `descriptor`, with `fds` as its pipes, to the waiting child (forked now if none is): (its pid, a pidfd
        of it)."""
        self.prefork()
        assert self.waiting is not None  # prefork made it or raised
        (pid, pidfd), self.waiting = self.waiting, None
        socket.send_fds(self.channel, [json.dumps({"op": "job", "descriptor": descriptor}).encode()], fds)
        answer = self._answer()
        if answer.get("pid") != pid:
            os.close(pidfd)
            raise TemplateError(f"the template could not start the child: {answer.get('error', answer)}")
        return pid, pidfd

    def status(self) -> int:
        """The wait status of the last child (blocks until the template has reaped it)."""
        answer = self._answer()
        if not isinstance(answer.get("status"), int):
            raise TemplateError(f"the template sent no wait status: {answer}")
        return int(answer["status"])

    def _answer(self) -> dict[str, Any]:
        """One message from the template; TemplateError when it is gone."""
        return _decode(self.channel.recv(limits.DESCRIPTOR_BYTES))


def _decode(data: bytes) -> dict[str, Any]:
    """A message from the template as a dict; TemplateError when the channel was closed."""
    if not data:
        raise TemplateError("the template process is gone")
    answer = json.loads(data)
    return answer if isinstance(answer, dict) else {}


@dataclass
class ChildJob:
    """What a freshly forked child runs: the template's settings, the job's descriptor and its pipe ends."""

    settings: Any
    descriptor: dict[str, Any]
    fds: list[int]


def start(settings: Any, keep: tuple[int, ...] = (1, 2)) -> Template | ChildJob:
    """Fork the template. In the worker: its handle. In a child the template forked: that child's job."""
    worker_end, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid:
        template_end.close()
        return Template(pid, worker_end)
    worker_end.close()
    # the worker's protocol pipes and anything else it opened are not the template's business
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    fd = template_end.fileno()
    for low, high in _gaps(sorted({0, fd, *keep}), 65536):
        os.closerange(low, high)
    return serve(template_end, settings)


def _gaps(kept: list[int], end: int) -> list[tuple[int, int]]:
    """The ranges [low, high) between the sorted fds in `kept`, up to `end`."""
    bounds = [*kept, end]
    return [(a + 1, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a + 1]


def serve(channel: socket.socket, settings: Any) -> ChildJob:
    """Fork children ahead of their jobs, hand each its descriptor, report its wait status; returns only in a child.

    Messages from the worker: {"op": "fork"} (answered with the new child's pid and a pidfd of it) and
    {"op": "job", "descriptor": ...} with the job's pipe ends (handed to the waiting child, answered with its pid,
    then with its wait status once it has exited)."""
    waiting: tuple[int, socket.socket] | None = None
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(channel, limits.DESCRIPTOR_BYTES, 4)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)  # the worker is gone (a waiting child sees its socket close, and exits too)
        try:
            message = json.loads(data)
            op = message.get("op") if isinstance(message, dict) else None
            if op == "fork" and waiting is None:
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                pid = os.fork()
                if pid == 0:
                    channel.close()
                    ours.close()
                    return _await_job(theirs, settings)
                theirs.close()
                waiting = pid, ours
                pidfd = os.pidfd_open(pid)  # before the child can be reaped: the worker watches it through this
                socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [pidfd])
                os.close(pidfd)
                continue
            if op != "job" or waiting is None:
                raise ValueError(f"unexpected {op!r} with{'' if waiting else 'out'} a child waiting")
            (pid, ours), waiting = waiting, None
            with ours:  # closed either way: a child that got no job sees it close, and exits
                socket.send_fds(ours, [json.dumps(message["descriptor"]).encode()], fds)
        except (OSError, ValueError, KeyError) as exc:
            channel.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            continue
        finally:
            for fd in fds:
                os.close(fd)
        channel.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        channel.send(json.dumps({"status": status}).encode())


def _await_job(channel: socket.socket, settings: Any) -> ChildJob:
    """In a child forked ahead of its job: wait for its descriptor and pipe ends (exit when the template is gone)."""
    try:
        data, fds, _, _ = socket.recv_fds(channel, limits.DESCRIPTOR_BYTES, 4)
    except OSError:
        os._exit(0)
    channel.close()
    if not data:
        os._exit(0)
    return ChildJob(settings, json.loads(data), fds)
