"""The HTTP routes of `autograder serve` (Starlette on uvicorn).

Students POST a notebook with their token and get the batch grader's result: the score, a row per
question and a link to their feedback page (the batch's page, showing only their own results). Bad
input gets one status and a one-line JSON `error`: 401 missing or unknown token, 403 past a deadline
whose policy refuses late work, 404 someone else's (or no such) submission, 413 a body over the cap
(refused from Content-Length or while it streams in, never read whole), 422 not a notebook of the
assignment, 429 over the rate limit or with UPLOADS_AT_ONCE bodies of one person still arriving, 408 a body
that stopped arriving for BODY_IDLE_SECONDS. Instructors (instructor tokens) get the live cohort report and
the batch's export. Tokens come as `Authorization: Bearer`, or for pages as the cookie the upload and
login pages set (HttpOnly, SameSite=Strict; nothing that changes state accepts the cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from autograder.checks import messages
from autograder.grading.core.model import Result
from autograder.grading.core.pool import Grader
from autograder.grading.drivers.service import export, tokens
from autograder.grading.drivers.service.db import Person, Store, Stored
from autograder.grading.drivers.service.grading import Grading
from autograder.grading.drivers.service.policy import Policy
from autograder.grading.outputs import batch as outputs
from autograder.grading.outputs import report
from autograder.message import Message, say
from autograder.notebook_i18n import known

COOKIE = "autograder_token"
#: Bodies one person may be sending at once. Each is held in memory (up to --max-upload-mb) until it is stored, and
#: the rate limit counts only stored submissions: without this cap one student opening a hundred connections that
#: never finish their body held a hundred times the cap (3 GB at 32 MB), for every student of the course to share.
UPLOADS_AT_ONCE = 4
#: A body that sends nothing for this long is dropped (408): a connection lost mid-upload must not hold one of its
#: student's UPLOADS_AT_ONCE places for ever.
BODY_IDLE_SECONDS = 60.0
#: Pages may run only the service's own script; the batch's pages need inline styles and data: images.
CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass
class Service:
    """Everything the routes share: the database, the grading threads, the pools, the policies, the caps."""

    store: Store
    grading: Grading
    pools: dict[str, Grader]
    policies: dict[str, Policy]
    max_bytes: int
    wait: float = 60.0  # seconds a POST waits for its result before answering 202 with the link
    public_url: str = ""  # e.g. https://grader.example.edu/ behind a reverse proxy ('' = from the request)
    waiters: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    #: Held from a submission's rate check to its storing, so that concurrent requests of one student cannot all
    #: pass the check before any of them is stored (one service per database: a process-wide lock suffices).
    admitting: asyncio.Lock = field(default_factory=asyncio.Lock)
    loop: asyncio.AbstractEventLoop | None = None
    #: Bodies being received now, per person (student id): at most UPLOADS_AT_ONCE each.
    uploading: dict[str, int] = field(default_factory=dict)

    def graded(self, submission_id: int) -> None:
        """Called by a grading thread once a result is stored: wake the request waiting for it."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake, submission_id)

    def _wake(self, submission_id: int) -> None:
        future = self.waiters.pop(submission_id, None)
        if future is not None and not future.done():
            future.set_result(None)


@cache
def _templates() -> jinja2.Environment:
    """The service's own pages (autoescaped)."""
    return jinja2.Environment(loader=jinja2.PackageLoader("autograder.grading.drivers.service", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


def _lang(request: Request) -> str | None:
    """The language a student's page or refusal is worded in: ?lang=, else the browser's first choice among the
    course's languages and English (Accept-Language), else English (None)."""
    asked = request.query_params.get("lang", "")
    if known(asked) is not None or asked.lower().startswith("en"):
        return known(asked)
    ranked = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        tag, _, quality = part.strip().partition(";q=")
        try:
            ranked.append((-float(quality or 1), position, tag.strip().lower()))
        except ValueError:
            continue
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return None
    return None


def _reader(request: Request, result: Result) -> str | None:
    """The language a result is worded in for this request: its notebook's, else (a file too damaged to say) the
    request's (_lang)."""
    return result.language or _lang(request)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """An HTML page of the service, worded in the request's language (_lang); `_` words a catalog code there."""
    root = request.scope.get("root_path", "") + "/"
    lang = _lang(request)

    def worded(value: Any) -> Any:
        """Messages in the context (a title, the rules of each assignment) as text in `lang`."""
        if isinstance(value, Message):
            return messages.text(value, lang)
        return {k: worded(v) for k, v in value.items()} if isinstance(value, dict) else value
    html = _templates().get_template(template).render(root=root, lang=lang, _=messages.translator(lang),
                                                      **{k: worded(v) for k, v in context.items()})
    return HTMLResponse(html, status, headers={"Content-Security-Policy": CSP})


def _error(status: int, message: str | Message, headers: dict[str, str] | None = None,
           lang: str | None = None) -> JSONResponse:
    """A refusal: the status and one line (a Message worded in `lang`), and a Message also as its code and
    parameters, which a client (submit()) words in the student's language."""
    if isinstance(message, str):
        return JSONResponse({"error": message}, status, headers=headers)
    return JSONResponse({"error": messages.text(message, lang), "message": message.to_plain()}, status,
                        headers=headers)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _person(request: Request, cookie: bool = True) -> Person | None:
    """Who sent the request: the Bearer token, else (for pages only) the cookie."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else None
    if token is None and cookie:
        token = request.cookies.get(COOKIE)
    return await run_in_threadpool(tokens.who, _service(request).store, token)


def _link(request: Request, path: str) -> str:
    """An absolute link to `path` (the public URL when one is set, as behind a reverse proxy)."""
    base = _service(request).public_url or str(request.base_url)
    return base.rstrip("/") + "/" + path


def _payload(request: Request, stored: Stored) -> dict[str, Any]:
    """What a student is told about one submission."""
    data: dict[str, Any] = {"submission": stored.id, "assignment": stored.assignment, "student": stored.student_id,
                            "sha256": stored.sha256, "late": stored.late,
                            "feedback": _link(request, f"feedback/{stored.id}")}
    if stored.result is None:
        return {**data, "status": "queued"}
    result, lang = stored.result, _reader(request, stored.result)
    return {**data, "status": "refused" if stored.refused else "graded", "score": result.total,
            "max_score": sum(row.max_score for row in result.rows),
            "notes": [messages.text(note, lang) for note in result.notes],
            "rows": [{"grade_id": r.grade_id, "score": r.score, "max_score": r.max_score, "status": r.status,
                      "message": messages.text(r.message, lang), "code": r.message.code,
                      "mistakes": list(r.mistakes)} for r in result.rows]}


class _Stalled(Exception):
    """The body stopped arriving (BODY_IDLE_SECONDS without a byte)."""


async def _body(request: Request, cap: int, idle: float = BODY_IDLE_SECONDS) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `cap` bytes (header, or counted as it streams);
    _Stalled when nothing of it arrives for `idle` seconds."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > cap):
        return None
    body = bytearray()
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), idle)
        except StopAsyncIteration:
            return bytes(body)
        except TimeoutError:
            raise _Stalled from None
        body += chunk
        if len(body) > cap:
            return None


async def _over_rate(service: Service, person: Person, assignment: str, policy: Policy, now: float,
                     lang: str | None) -> Response | None:
    """The 429 refusal when this student already has the policy's number of submissions in the last hour (an
    instructor trying the service out is not counted in the cohort, nor limited)."""
    if not policy.rate_per_hour or person.role == "instructor":
        return None
    recent = await run_in_threadpool(service.store.since, person.student_id, assignment, now - 3600)
    if len(recent) < policy.rate_per_hour:
        return None
    retry = int(recent[-policy.rate_per_hour] + 3600 - now) + 1
    return _error(429, say("service.rate", limit=policy.rate_per_hour, assignment=assignment, seconds=retry),
                  headers={"Retry-After": str(retry)}, lang=lang)


async def _store(request: Request, service: Service, person: Person, assignment: str, policy: Policy, late: bool,
                 now: float, lang: str | None) -> int | Response:
    """Receive the body and store it as a submission (its id), or the refusal; the body is not held afterwards."""
    try:
        body = await _body(request, service.max_bytes)
    except _Stalled:
        return _error(408, say("service.stalled", seconds=int(BODY_IDLE_SECONDS)), lang=lang)
    if body is None:
        return _error(413, say("service.too_large", limit=service.max_bytes), lang=lang)
    async with service.admitting:  # the check and the storing as one step: no two requests pass on one slot
        if refused := await _over_rate(service, person, assignment, policy, now, lang):
            return refused
        submission_id: int = await run_in_threadpool(service.store.add, person.student_id, assignment, body,
                                                     hashlib.sha256(body).hexdigest(), late, now)
    return submission_id


async def submit(request: Request) -> Response:
    """POST /api/submit/{assignment}: store the notebook, wait for its grade, answer with score and link."""
    service, lang = _service(request), _lang(request)
    person = await _person(request, cookie=False)
    if person is None:
        return _error(401, say("service.bad_token", header="Authorization: Bearer <your token>"), lang=lang)
    assignment = request.path_params["assignment"]
    if assignment not in service.pools:
        return _error(422, say("service.unknown_assignment", assignment=repr(assignment[:40]),
                               served=", ".join(sorted(service.pools))), lang=lang)
    policy, now = service.policies[assignment], time.time()
    late = policy.is_late(now)
    if late and policy.late == "refuse":
        return _error(403, say("service.deadline", assignment=assignment, deadline=policy.deadline_text()), lang=lang)
    if refused := await _over_rate(service, person, assignment, policy, now, lang):
        return refused  # before the body is read; checked again below, where it counts
    sending = service.uploading.get(person.student_id, 0)
    if sending >= UPLOADS_AT_ONCE:  # before the body is read: what a person holds in memory stays bounded
        return _error(429, say("service.uploading", count=sending), headers={"Retry-After": "10"}, lang=lang)
    service.uploading[person.student_id] = sending + 1
    try:
        submission_id = await _store(request, service, person, assignment, policy, late, now, lang)
    finally:
        left = service.uploading.pop(person.student_id) - 1
        if left:
            service.uploading[person.student_id] = left
    if isinstance(submission_id, Response):
        return submission_id
    future = asyncio.get_running_loop().create_future()
    service.waiters[submission_id] = future
    service.grading.put(person.student_id, submission_id)
    try:
        await asyncio.wait_for(future, service.wait)
    except TimeoutError:
        service.waiters.pop(submission_id, None)
    stored = await run_in_threadpool(service.store.stored, submission_id)
    assert stored is not None  # it was stored above and nothing deletes submissions
    payload = _payload(request, stored)
    if stored.result is None:
        return JSONResponse({**payload, "message": messages.text(say("service.accepted"), lang)}, 202)
    if stored.refused:  # the code too: submit() words it in the notebook's language
        refusal = stored.result.rows[0].message
        return JSONResponse({**payload, "error": messages.text(refusal, _reader(request, stored.result)),
                             "message": refusal.to_plain()}, 422)
    return JSONResponse(payload)


async def submission(request: Request) -> Response:
    """GET /api/submissions/{id}: one of your submissions and its result (404 for anyone else's)."""
    person = await _person(request)
    if person is None:
        return _error(401, "missing or unknown token")
    stored = await _own(request, person)
    if stored is None:
        return _error(404, "no such submission of yours")
    return JSONResponse(_payload(request, stored), 200 if stored.result is not None else 202)


async def _own(request: Request, person: Person) -> Stored | None:
    """The submission named in the path if `person` may see it (theirs, or any for an instructor)."""
    raw = request.path_params["submission_id"]
    stored = await run_in_threadpool(_service(request).store.stored, raw)
    if stored is None or (stored.student_id != person.student_id and person.role != tokens.INSTRUCTOR):
        return None
    return stored


async def feedback(request: Request) -> Response:
    """GET /feedback/{id}: the batch's feedback page of one of your submissions."""
    person = await _person(request)
    if person is None:
        return _page(request, "login.html.j2", 401, message=say("serve.login.feedback"))
    stored = await _own(request, person)
    if stored is None:
        return _page(request, "message.html.j2", 404, title=say("serve.not_found"), message=say("serve.not_yours"))
    if stored.result is None:
        return _page(request, "message.html.j2", 202, title=say("serve.grading.title"),
                     message=say("serve.grading.wait"))
    pool = _service(request).pools.get(stored.assignment)
    if pool is None:
        return _page(request, "message.html.j2", 404, title=say("serve.not_found"), message=say("serve.not_served"))
    result = dataclasses.replace(stored.result, language=_reader(request, stored.result))
    html = outputs.feedback_html(result, pool.assignment, result.sandbox or pool.sandbox_name)
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


async def login(request: Request) -> Response:
    """POST /api/login: the Bearer token becomes the pages' cookie."""
    person = await _person(request, cookie=False)
    if person is None:
        return _error(401, "missing or unknown token")
    response = JSONResponse({"student": person.student_id, "role": person.role})
    header = request.headers.get("authorization", "")
    response.set_cookie(COOKIE, header[7:].strip(), max_age=14 * 86400, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


async def home(request: Request) -> Response:
    """GET /: the upload page."""
    service = _service(request)
    return _page(request, "upload.html.j2", assignments=sorted(service.pools),
                 policies={a: p.summary() for a, p in sorted(service.policies.items())})


async def _instructor(request: Request) -> Response | None:
    """A refusal unless the request comes from an instructor."""
    person = await _person(request)
    if person is None:
        return _page(request, "login.html.j2", 401, message=say("serve.login.instructor"))
    if person.role != tokens.INSTRUCTOR:
        return _page(request, "message.html.j2", 403, title=say("serve.instructors.title"),
                     message=say("serve.instructors.only"))
    return None


def _pool(request: Request) -> Grader | None:
    return _service(request).pools.get(request.path_params.get("assignment", ""))


async def instructor(request: Request) -> Response:
    """GET /instructor: the assignments, with their live report and export."""
    refused = await _instructor(request)
    if refused is not None:
        return refused
    service = _service(request)
    counts = await run_in_threadpool(service.store.counts)
    return _page(request, "instructor.html.j2", assignments=sorted(service.pools), counts=counts,
                 queued=service.grading.waiting,
                 policies={a: p.summary() for a, p in sorted(service.policies.items())})


async def _counted(request: Request, pool: Grader) -> dict[str, Any]:
    service = _service(request)
    return await run_in_threadpool(export.counted, service.store, pool, service.policies[pool.assignment.id])


async def live_report(request: Request) -> Response:
    """GET /instructor/{assignment}/report.html: the batch's cohort report of the counted submissions."""
    refused, pool = await _instructor(request), _pool(request)
    if refused is not None or pool is None:
        return refused or _error(404, "no such assignment")
    results = await _counted(request, pool)
    html = await run_in_threadpool(report.render, pool.assignment, results, export.summary(pool, results))
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


async def cohort_feedback(request: Request) -> Response:
    """GET /instructor/{assignment}/feedback/{student}/...: a student's counted feedback (the report's links)."""
    refused, pool = await _instructor(request), _pool(request)
    if refused is not None or pool is None:
        return refused or _error(404, "no such assignment")
    result = (await _counted(request, pool)).get(request.path_params["student"])
    if result is None:
        return _error(404, "no such student")
    html = outputs.feedback_html(result, pool.assignment, result.sandbox or pool.sandbox_name)
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


async def export_zip(request: Request) -> Response:
    """GET /instructor/{assignment}/export.zip: what `autograder grade` writes into OUT, for the counted results."""
    refused, pool = await _instructor(request), _pool(request)
    if refused is not None or pool is None:
        return refused or _error(404, "no such assignment")
    results = await _counted(request, pool)
    data = await run_in_threadpool(export.zipped, pool, results)
    name = f"{pool.assignment.id}-grades.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def script(request: Request) -> Response:
    """GET /serve.js: the pages' one script (no inline scripts: see CSP)."""
    text = _templates().loader.get_source(_templates(), "serve.js")[0]  # type: ignore[union-attr]
    return Response(text, media_type="text/javascript")


async def health(request: Request) -> Response:
    """GET /healthz: the service answers, how much it holds, how many submissions wait for their grade (queued or
    being graded), how many idle workers are warm per assignment."""
    service = _service(request)
    counts = await run_in_threadpool(service.store.counts)
    warm = {a: pool.warm_count() for a, pool in sorted(service.pools.items())}
    return JSONResponse({"ok": True, **counts, "queued": service.grading.waiting, "warm_workers": warm})


def build(service: Service) -> Starlette:
    """The ASGI application serving `service`."""
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.loop = asyncio.get_running_loop()  # grading threads wake waiting requests through it
        yield

    app = Starlette(routes=[
        Route("/", home), Route("/serve.js", script), Route("/healthz", health),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/submit/{assignment}", submit, methods=["POST"]),
        Route("/api/submissions/{submission_id:int}", submission),
        Route("/feedback/{submission_id:int}", feedback),
        Route("/instructor", instructor),
        Route("/instructor/{assignment}/report.html", live_report),
        Route("/instructor/{assignment}/export.zip", export_zip),
        Route("/instructor/{assignment}/feedback/{student}/{rest:path}", cohort_feedback),
    ], lifespan=lifespan)
    app.state.service = service
    return app
