"""`autograder serve` in the real sandbox: the same rows as the batch grader for honest and hostile notebooks,
each refusal's status and one line, feedback only for its owner, the instructor's export equal to the batch's,
the `submit()` helper and the upload page in Chromium. One service for the module (about 30 s on 2 cores)."""

from __future__ import annotations

import concurrent.futures
import io
import json
import re
import socket
import sqlite3
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.checks.messages import text
from autograder.grading.core.model import Result
from autograder.grading.drivers import pipeline
from autograder.grading.drivers.service.app import UPLOADS_AT_ONCE
from autograder.grading.runner.wire import Limits
from autograder.submit import submit as submit_helper
from tests.sandbox_required import sandbox_marks
from tests.serve_helpers import CORPUS, issue_tokens, request, start, submit, wait_idle
from tests.test_feedback_zh import english_runs

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks
from hostile import CASES

pytestmark = sandbox_marks("the grading service's tests")

#: Honest, partly right and hostile notebooks from the adversarial corpus (cheap ones: no 3 s timeouts).
CORPUS_STUDENTS = ("honest", "honest-stderr", "partial", "monkeypatch", "lying-objects", "calls-backward",
                   "sys-exit", "kills-parent", "fused-op", "nbformat3", "truncated-json", "empty-file", "not-utf8",
                   "other-assignment")
OTHERS = ("alice", "bob", "carol", "spammer", "dave", "racer", "hoarder", "erin")
LIMITS = ("--timeout", "3", "--memory-mb", "512", "--output-kb", "32")
RATE = 4


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The corpus notebooks on disk (nbgrader layout), tokens for their students, and one running service."""
    root = tmp_path_factory.mktemp("serve")
    source = notebooks.write(notebooks.source_notebook(), root / "fake.ipynb")
    paths = {"other_student": "/nonexistent", "gradebook": "/nonexistent", "source": str(source),
             "secret": "/nonexistent"}
    files = {}
    for student in CORPUS_STUDENTS:
        built = CASES[student][0](paths)
        files[student] = notebooks.write(built, root / "subs" / student / "fake" / "fake.ipynb")
    db = root / "serve.db"
    tokens = issue_tokens(root, db, [*CORPUS_STUDENTS, *OTHERS])
    policy = root / "policy.toml"
    policy.write_text(f'[defaults]\ncounts = "best"\nrate_per_hour = {RATE}\n')
    running = start(root, db, source, "--policy", str(policy), "--max-upload-mb", "1", "--workers", "2", *LIMITS)
    try:
        yield {"root": root, "source": source, "files": files, "db": db, "tokens": tokens, "service": running,
               "url": running.url}
    finally:
        running.stop()


@pytest.fixture(scope="module")
def both(served: dict[str, Any]) -> dict[str, Any]:
    """Every corpus notebook sent to the service (4 at a time) and graded by the batch grader with the same limits."""
    url, tokens = served["url"], served["tokens"]

    def send(student: str) -> tuple[int, dict[str, Any]]:
        return submit(url, tokens[student], served["files"][student].read_bytes())

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        replies = dict(zip(CORPUS_STUDENTS, pool.map(send, CORPUS_STUDENTS), strict=True))
    root = served["root"]
    settings = pipeline.Settings(submissions=root / "subs", assignment_id="fake", out=root / "batch", workers=2,
                                 checks="fakecourse.checks:get_assignment", source=served["source"],
                                 limits=Limits(timeout=3.0, memory_mb=512, output_bytes=32 << 10))
    return {"replies": replies, "batch": pipeline.grade(settings, io.StringIO()), "out": settings.out}


def _rows(rows: list[dict[str, Any]]) -> list[tuple[str, float, str, str]]:
    return [(r["grade_id"], r["score"], r["status"], r["message"]) for r in rows]


def _batch_rows(result: Result) -> list[tuple[str, float, str, str]]:
    """The batch's rows as the service words them: the message in the language of the student's notebook."""
    return [(r.grade_id, r.score, r.status, text(r.message, result.language)) for r in result.rows]


def test_every_corpus_notebook_gets_the_batch_rows(both: dict[str, Any]) -> None:
    """Same student, same notebook: the service's rows (score, status, message) are the batch's, hostile or not."""
    for student, (status, reply) in both["replies"].items():
        batch = both["batch"][student]
        assert _rows(reply["rows"]) == _batch_rows(batch), student
        assert [r["code"] for r in reply["rows"]] == [r.message.code for r in batch.rows], student
        assert reply["score"] == batch.total
        assert status == (422 if all(r.status == "malformed" for r in batch.rows) else 200), student
        assert set(CASES[student][1].values()) >= {r["status"] for r in reply["rows"]}  # the corpus' own verdicts


def test_refusals_are_one_line_and_stored_results_match(both: dict[str, Any], served: dict[str, Any]) -> None:
    """Not a notebook / another assignment's: 422 with the batch's reason; every submission has its one result."""
    for student in ("truncated-json", "empty-file", "not-utf8", "other-assignment"):
        status, reply = both["replies"][student]
        assert status == 422 and reply["error"] == text(both["batch"][student].rows[0].message)
        assert "\n" not in reply["error"]
    health = wait_idle(served["url"])
    assert health["ok"] and health["submissions"] == health["results"] >= len(CORPUS_STUDENTS)


def test_the_service_keeps_serving_after_hostile_notebooks(both: dict[str, Any], served: dict[str, Any]) -> None:
    """After a notebook that kills every process it can and one that exits, honest work is still graded in full."""
    assert both["replies"]["kills-parent"][0] == 200
    status, reply = submit(served["url"], served["tokens"]["alice"], notebooks.write(
        notebooks.submission(), served["root"] / "alice.ipynb").read_bytes())
    assert status == 200 and reply["score"] == reply["max_score"] == 5.0


def test_bad_or_missing_token_is_401(served: dict[str, Any]) -> None:
    body = json.dumps(notebooks.submission()).encode()
    for token in (None, "", "not-a-token", served["tokens"]["alice"] + "x"):
        status, reply = submit(served["url"], token, body)
        assert status == 401 and "token" in reply["error"]
    assert request(served["url"] + "api/submissions/1")[0] == 401


def test_another_students_result_is_404(both: dict[str, Any], served: dict[str, Any]) -> None:
    """bob cannot read honest's submission, as JSON or as a page; its owner and the instructor can."""
    url, tokens = served["url"], served["tokens"]
    number = both["replies"]["honest"][1]["submission"]
    for path in (f"api/submissions/{number}", f"feedback/{number}", "api/submissions/999999"):
        status, body, _ = request(url + path, tokens["bob"])
        assert status == 404 and b"honest" not in body
    status, body, _ = request(url + f"feedback/{number}", tokens["honest"])
    assert status == 200 and b"honest" in body and b"lying-objects" not in body
    assert request(url + f"api/submissions/{number}", tokens["prof"])[0] == 200
    assert request(url + f"feedback/{number}")[0] == 401  # no token: the login page


def test_unknown_assignment_is_422(served: dict[str, Any]) -> None:
    status, reply = submit(served["url"], served["tokens"]["bob"], b"{}", assignment="optimizers")
    assert status == 422 and "this service grades fake" in reply["error"]


def _raw_post(url: str, token: str, headers: str, chunks: list[bytes]) -> tuple[bytes, int]:
    """Send a POST by hand, chunk by chunk, stopping at the first answer; (whole answer, bytes of body sent)."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    sent, answer = 0, b""
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"POST /api/submit/fake HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                  f"{headers}\r\n".encode())
        s.settimeout(0.05)
        for chunk in chunks:
            try:
                answer = s.recv(65536)
                if answer:
                    break
            except TimeoutError:
                pass
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        s.settimeout(5)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):  # the JSON body, however split
            more = s.recv(65536)
            if not more:
                break
            answer += more
        return answer, sent


def test_a_body_over_the_cap_is_413_before_it_is_read(served: dict[str, Any]) -> None:
    """Content-Length over the 1 MB cap: 413 at once; a chunked body without one: 413 once 1 MB has streamed in.
    Neither is stored, and the rest of the body is never needed."""
    url, token = served["url"], served["tokens"]["bob"]
    before = wait_idle(url)["submissions"]
    answer, sent = _raw_post(url, token, f"Content-Length: {100 << 20}\r\n", [b"x" * (64 << 10)] * 1600)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than the 1048576 bytes" in answer
    assert sent < 10 << 20  # answered long before the 100 MB announced
    chunk = b"%x\r\n%s\r\n" % (64 << 10, b"x" * (64 << 10))
    answer, sent = _raw_post(url, token, "Transfer-Encoding: chunked\r\n", [chunk] * 1600)
    assert answer.startswith(b"HTTP/1.1 413") and sent < 10 << 20
    assert wait_idle(url)["submissions"] == before


def test_over_the_rate_limit_is_429(served: dict[str, Any]) -> None:
    """The policy allows RATE submissions an hour: the next is refused with Retry-After and is not stored."""
    url, token = served["url"], served["tokens"]["spammer"]
    for _ in range(RATE):
        assert submit(url, token, b"not a notebook")[0] == 422
    status, body, headers = request(f"{url}api/submit/fake", token, b"not a notebook")
    assert status == 429 and "4 submissions of fake per hour" in json.loads(body)["error"]
    assert 0 < int(headers["retry-after"]) <= 3600
    stored = sqlite3.connect(served["db"]).execute("SELECT count(*) FROM submissions WHERE student_id = 'spammer'")
    assert stored.fetchone()[0] == RATE


def test_a_student_sends_only_a_few_bodies_at_once(served: dict[str, Any]) -> None:
    """A body is held in memory until it is stored, and the rate limit counts only stored submissions: one student's
    unfinished uploads (one byte short of their Content-Length) are capped at UPLOADS_AT_ONCE; the next is 429 at once,
    before its body is read. Once those connections are gone their places are free again; nothing was stored."""
    host, port = served["url"].split("//")[1].rstrip("/").split(":")
    token = served["tokens"]["hoarder"]

    def start_upload() -> socket.socket:
        connection = socket.create_connection((host, int(port)), timeout=30)
        connection.sendall(f"POST /api/submit/fake HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                           f"Content-Length: {64 << 10}\r\n\r\n".encode() + b"x" * ((64 << 10) - 1))
        return connection
    hanging = [start_upload() for _ in range(UPLOADS_AT_ONCE)]
    try:
        time.sleep(0.5)  # every one of them is being received now
        status, body, headers = request(f"{served['url']}api/submit/fake", token, b"not a notebook", timeout=10)
        assert status == 429 and json.loads(body)["message"]["code"] == "service.uploading", body
        assert int(headers["retry-after"]) > 0
    finally:
        for connection in hanging:
            connection.close()
    for _ in range(50):  # the service notices the closed connections
        status, body, _ = request(f"{served['url']}api/submit/fake", token, b"not a notebook", timeout=10)
        if status != 429:
            break
        time.sleep(0.1)
    assert status == 422, body
    stored = sqlite3.connect(served["db"]).execute("SELECT count(*) FROM submissions WHERE student_id = 'hoarder'")
    assert stored.fetchone()[0] == 1


def test_an_instructor_trying_the_service_is_not_rate_limited(served: dict[str, Any]) -> None:
    """The rate limit protects the queue from a student; an instructor's tries are not the cohort's (README)."""
    url, token = served["url"], served["tokens"]["prof"]
    assert [submit(url, token, b"not a notebook")[0] for _ in range(RATE + 2)] == [422] * (RATE + 2)


def test_requests_sent_at_once_cannot_pass_the_rate_limit_together(served: dict[str, Any]) -> None:
    """RATE + 2 requests of one student whose headers all arrive before any body: each passes the early check while
    nothing is stored, and still only RATE are stored; the rest are 429 (the check and the storing are one step)."""
    host, port = served["url"].split("//")[1].rstrip("/").split(":")
    body = b"not a notebook"  # refused as such (422), but stored and counted like any submission
    sockets = []
    for _ in range(RATE + 2):
        connection = socket.create_connection((host, int(port)), timeout=120)
        connection.sendall(f"POST /api/submit/fake HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           f"{served['tokens']['racer']}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        sockets.append(connection)
    time.sleep(1.0)  # every request has been checked against the limit and now waits for its body
    statuses = []
    for connection in sockets:
        connection.sendall(body)
    for connection in sockets:
        statuses.append(int(connection.recv(200).split(b" ")[1]))
        connection.close()
    assert sorted(statuses) == [422] * RATE + [429] * 2
    stored = sqlite3.connect(served["db"]).execute("SELECT count(*) FROM submissions WHERE student_id = 'racer'")
    assert stored.fetchone()[0] == RATE


def test_instructor_export_is_the_batch_output(both: dict[str, Any], served: dict[str, Any]) -> None:
    """grades.csv from the service's export has the batch's rows for the same notebooks, plus the students with
    a token who submitted nothing as 'missing' (as `grade --roster`); the live report lists them; students
    cannot see any of it."""
    url, tokens = served["url"], served["tokens"]
    status, data, headers = request(url + "instructor/fake/export.zip", tokens["prof"])
    assert status == 200 and headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(data))
    exported = archive.read("fake/grades.csv").decode().splitlines()
    batch = (both["out"] / "grades.csv").read_text().splitlines()
    assert exported[0] == batch[0]
    assert {line for line in exported if line.split(",")[0] in CORPUS_STUDENTS} == set(batch[1:])
    assert [line.split(",")[6] for line in exported if line.startswith("bob,")] == ["missing"] * 3
    assert "fake/feedback/honest/fake/fake.html" in archive.namelist()
    assert "fake/report.html" in archive.namelist() and "fake/results/honest.json" in archive.namelist()
    status, page, _ = request(url + "instructor/fake/report.html", tokens["prof"])
    assert status == 200 and b"lying-objects" in page
    assert request(url + "instructor/fake/feedback/honest/fake/fake.html", tokens["prof"])[0] == 200
    for path in ("instructor", "instructor/fake/report.html", "instructor/fake/export.zip"):
        assert request(url + path, tokens["alice"])[0] == 403
        assert request(url + path)[0] == 401


def test_an_instructors_submission_is_graded_but_not_part_of_the_cohort(both: dict[str, Any],
                                                                        served: dict[str, Any]) -> None:
    """An instructor trying the service out gets a grade and its feedback, but is no student: absent from every
    file of the export and from the live report, whose counts are over the students with a token."""
    url, tokens = served["url"], served["tokens"]
    status, reply = submit(url, tokens["prof"], notebooks.write(
        notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"}),
        served["root"] / "prof.ipynb").read_bytes())
    assert status == 200 and reply["score"] == 4.0
    assert request(url + f"api/submissions/{reply['submission']}", tokens["prof"])[0] == 200
    status, page, _ = request(url + f"feedback/{reply['submission']}", tokens["prof"])
    assert status == 200 and b"test_scale" in page
    status, data, _ = request(url + "instructor/fake/export.zip", tokens["prof"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert not [name for name in archive.namelist() if "prof" in name.split("/")]
    for name in ("grades.csv", "totals.csv", "lms/canvas.csv", "lms/moodle.csv"):
        rows = archive.read(f"fake/{name}").decode().splitlines()
        assert rows and not [row for row in rows if "prof" in row.split(",")], name
    students = {row.split(",")[0] for row in archive.read("fake/grades.csv").decode().splitlines()[1:]}
    assert students == {*CORPUS_STUDENTS, *OTHERS}
    status, report, _ = request(url + "instructor/fake/report.html", tokens["prof"])
    counts = re.search(rb"(\d+) of (\d+) students submitted", report)
    assert status == 200 and counts is not None and int(counts[2]) == len(students)
    assert b"feedback/prof/" not in report and b">prof<" not in report


def test_submit_helper_prints_the_score_and_the_link(served: dict[str, Any], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """submit() from a notebook: found through Jupyter's JPY_SESSION_NAME, URL and token from the config file."""
    notebook = notebooks.write(notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"}),
                               tmp_path / "fake.ipynb")
    config = tmp_path / "config"
    (config / "taming-exploding-gradients").mkdir(parents=True)
    (config / "taming-exploding-gradients" / "submit.ini").write_text(
        f"[submit]\nurl = {served['url']}\ntoken = {served['tokens']['alice']}\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    monkeypatch.delenv("AUTOGRADER_URL", raising=False)
    monkeypatch.delenv("AUTOGRADER_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path.parent)
    lines: list[str] = []
    reply = submit_helper(say=lines.append)
    assert reply["status_code"] == 200 and reply["score"] == 4.0
    assert lines[1].startswith("fake: 4 / 5 points") and "failed" in lines[2] and "test_scale" in lines[2]
    assert lines[-1] == f"feedback: {served['url']}feedback/{reply['submission']}"
    monkeypatch.setenv("AUTOGRADER_TOKEN", "wrong")  # the environment wins over the file
    lines.clear()
    assert submit_helper(notebook, say=lines.append)["status_code"] == 401
    assert lines[-1].startswith("not graded (401): missing or unknown token")


def test_submit_helper_speaks_the_notebooks_language(served: dict[str, Any], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A Chinese notebook (its metadata, as the grader reads it): what submit() prints around the rows, the rows,
    and the service's refusals (sent as message codes) read Chinese; numbers, names and the link are unchanged."""
    from autograder.checks.messages import set_language, text
    from autograder.message import say

    built = notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"})
    built["metadata"]["autograder"] = {"language": "zh_CN"}
    notebook = notebooks.write(built, tmp_path / "fake.ipynb")
    monkeypatch.setenv("AUTOGRADER_URL", served["url"])
    monkeypatch.setenv("AUTOGRADER_TOKEN", served["tokens"]["bob"])
    monkeypatch.delenv("AUTOGRADER_LANGUAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    reply = submit_helper(notebook, say=lines.append)
    assert reply["status_code"] == 200 and reply["score"] == 4.0
    assert lines[0].startswith("正在发送 fake.ipynb（保存于 ")
    assert lines[1] == f"fake：4 / 5 分（提交编号 {reply['submission']}）"
    failed = next(line for line in lines if "test_scale" in line)
    assert failed.lstrip().startswith(text(say("status.failed"), "zh_CN"))
    assert any("\u4e00" <= char <= "\u9fff" for char in failed.split("0/1", 1)[1])  # the row's message too
    assert lines[-1] == f"反馈：{served['url']}feedback/{reply['submission']}"
    monkeypatch.setenv("AUTOGRADER_TOKEN", "wrong")
    lines.clear()
    assert submit_helper(notebook, say=lines.append)["status_code"] == 401
    assert lines[-1] == "未评分（401）：令牌缺失或无效：请发送请求头 Authorization: Bearer <your token>"
    lines.clear()
    monkeypatch.setenv("AUTOGRADER_TOKEN", served["tokens"]["bob"])
    assert submit_helper(notebook, "nosuch", say=lines.append)["status_code"] == 422
    assert lines[-1] == "未评分（422）：这里没有作业 'nosuch'；本服务评的作业是 fake"
    # a file too damaged to say its language: the refusal in the checks' language (a Chinese notebook's)
    cut = tmp_path / "cut.ipynb"
    cut.write_bytes(notebook.read_bytes()[:60])
    monkeypatch.setenv("AUTOGRADER_TOKEN", served["tokens"]["erin"])
    lines.clear()
    set_language("zh_CN")
    try:
        assert submit_helper(cut, "fake", say=lines.append)["status_code"] == 422
    finally:
        set_language(None)
    assert any(line.startswith("未评分（422）：文件不是有效的笔记本 JSON（被截断") for line in lines), lines


def test_the_pages_speak_the_browsers_language(served: dict[str, Any], tmp_path: Path) -> None:
    """The upload page (its wording, the script's words, the rules), the token page and the submission's refusals
    follow the browser's Accept-Language or ?lang=, with a link to the other language; English otherwise."""
    url = served["url"]
    status, body, _ = request(url, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    page = body.decode()
    assert status == 200 and '<html lang="zh-CN">' in page and "<h1>提交笔记本</h1>" in page
    assert 'data-score="得分：{score} / {points}（提交编号 {number}）"' in page and 'href="?lang=en"' in page
    assert ("以得分最高的一次提交为准；截止时间：无；迟交的作业照常评分，标记为迟交，并计入成绩；"
            f"每小时最多提交 {RATE} 次") in page
    english = request(url + "?lang=en", headers={"Accept-Language": "zh-CN"})[1].decode()
    assert '<html lang="en">' in english and "<h1>Submit a notebook</h1>" in english and "?lang=zh_CN" in english
    assert ("the best submission counts; deadline: none; late work is graded, marked late, and counts; "
            f"at most {RATE} submissions per hour") in english
    assert "<h1>提交笔记本</h1>" in request(url + "?lang=zh_CN")[1].decode()
    assert "<h1>提交笔记本</h1>" in request(url + "?lang=zh-CN")[1].decode()  # spelled as a browser does
    ranked = {"Accept-Language": "zh;q=0.1, fr, en;q=0.5"}  # the browser's order of preference, not the header's
    assert "<h1>Submit a notebook</h1>" in request(url, headers=ranked)[1].decode()
    status, body, _ = request(url + "feedback/1", headers={"Accept-Language": "zh"})  # no token: the token page
    assert status == 401 and "<h1>需要令牌</h1>" in body.decode() and "请输入你的令牌以查看反馈。" in body.decode()
    status, body, _ = request(url + "instructor?lang=zh_CN")  # the token page and refusal in front of them too
    assert status == 401 and "请输入你的教师令牌。" in body.decode()
    status, body, _ = request(url + "instructor?lang=zh_CN", served["tokens"]["alice"])
    assert status == 403 and "<h1>仅限教师</h1>" in body.decode()
    status, body, _ = request(url + "instructor?lang=zh_CN", served["tokens"]["prof"])  # the instructor's own page
    assert status == 200 and "<h1>教师</h1>" in body.decode() and "规则：" in body.decode()
    assert english_runs(body.decode()) == []
    status, body, _ = request(url + "instructor", served["tokens"]["prof"])
    assert status == 200 and "<h1>Instructor</h1>" in body.decode() and "Rules: " in body.decode()
    status, body, _ = request(url + "api/submit/fake?lang=zh_CN", "wrong", b"{}")
    assert status == 401
    assert json.loads(body)["error"] == "令牌缺失或无效：请发送请求头 Authorization: Bearer <your token>"
    # a file too damaged to say its language: refused and shown in the request's, with the code for submit()
    cut = notebooks.write(notebooks.submission(), tmp_path / "cut.ipynb").read_bytes()[:60]
    status, body, _ = request(url + "api/submit/fake?lang=zh_CN", served["tokens"]["erin"], cut)
    refused = json.loads(body)
    assert status == 422 and refused["error"].startswith("文件不是有效的笔记本 JSON（被截断，或被手工编辑过？）：")
    assert refused["message"]["code"] == "malformed.not_json" and refused["rows"][0]["message"] == refused["error"]
    status, body, _ = request(url + f"feedback/{refused['submission']}", served["tokens"]["erin"],
                              headers={"Accept-Language": "zh-CN"})
    page = body.decode()
    assert status == 200 and '<html lang="zh-CN">' in page and "文件不是有效的笔记本 JSON" in page
    english = request(url + f"feedback/{refused['submission']}", served["tokens"]["erin"])[1].decode()
    assert '<html lang="en">' in english and "the file is not valid notebook JSON" in english


@pytest.mark.browser
def test_upload_page_in_chromium(served: dict[str, Any], tmp_path: Path) -> None:
    """A student uploads a notebook with the page's form, sees the score, and opens their feedback by the link."""
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _chromium_or_skip

    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    notebook = notebooks.write(notebooks.submission(), tmp_path / "fake.ipynb")
    status, theirs = submit(served["url"], served["tokens"]["alice"], notebook.read_bytes())  # not bob's
    assert status == 200
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served["url"])
        page.fill("#token", served["tokens"]["bob"])
        page.select_option("#assignment", "fake")
        page.set_input_files("#notebook", str(notebook))
        page.click("#send")
        page.wait_for_selector("#feedback", timeout=120_000)
        assert page.inner_text("#result").startswith("Score: 5 / 5")
        page.click("#feedback")
        page.wait_for_load_state()
        assert "bob" in page.content() and "all 4 cases match the reference" in page.content()
        page.goto(served["url"] + f"api/submissions/{theirs['submission']}")
        assert "no such submission of yours" in page.content()
        chinese = browser.new_page(locale="zh-CN")  # a browser set to Chinese: the page and its script's words
        chinese.on("pageerror", lambda error: errors.append(str(error)))
        chinese.goto(served["url"])
        assert chinese.inner_text("h1") == "提交笔记本"
        chinese.fill("#token", served["tokens"]["carol"])
        chinese.set_input_files("#notebook", str(notebook))
        chinese.click("#send")
        chinese.wait_for_selector("#feedback", timeout=120_000)
        assert chinese.inner_text("#result").startswith("得分：5 / 5（提交编号 ")
        assert chinese.inner_text("#feedback") == "你的反馈"
        chinese.fill("#token", "not-a-token")
        chinese.click("#send")
        chinese.wait_for_selector("#result.error")  # a selector: the page's CSP forbids evaluated scripts
        assert chinese.inner_text("#result").startswith("令牌缺失或无效")
        browser.close()
    assert errors == []


@pytest.mark.browser
def test_service_pages_fit_a_phone(served: dict[str, Any], tmp_path: Path) -> None:
    """The upload page (both languages), a student's feedback and the instructor's page on a 320-390 px phone: no
    sideways scrolling, the tables scroll inside their own box."""
    from tests.page_fit import fit_problems
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _chromium_or_skip

    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    notebook = notebooks.write(notebooks.submission(), tmp_path / "fake.ipynb")
    status, sent = submit(served["url"], served["tokens"]["dave"], notebook.read_bytes())
    assert status == 200
    wait_idle(served["url"])
    pages = {"upload": (served["url"], None), "upload zh": (served["url"] + "?lang=zh_CN", None),
             "feedback": (served["url"] + f"feedback/{sent['submission']}", served["tokens"]["dave"]),
             "instructor": (served["url"] + "instructor", served["tokens"]["prof"])}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        problems = {name: fit_problems(browser, url, {"Authorization": f"Bearer {token}"} if token else None)
                    for name, (url, token) in pages.items()}
        browser.close()
    assert problems == {name: [] for name in pages}


def test_the_service_listens_on_loopback_only_by_default(served: dict[str, Any]) -> None:
    """Without --host the one listening socket on the service's port is 127.0.0.1's (the kernel's own table)."""
    port = int(served["url"].rstrip("/").rsplit(":", 1)[1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, little-endian hex; not 00000000 (every address)


def test_a_second_service_on_the_same_database_is_refused(served: dict[str, Any],
                                                          capsys: pytest.CaptureFixture) -> None:
    """A second `serve` with the running one's database would wipe its temporary folder (the jobs in hand) and grade
    the same submissions: it is one line naming the running service, and the running one keeps serving."""
    from autograder.cli import main
    from autograder.grading.drivers.service.db import url_for
    from autograder.grading.drivers.service.server import scratch_path

    folder = scratch_path(url_for(str(served["db"])))
    inside = sorted(p.name for p in folder.iterdir())
    assert main(["serve", "--db", str(served["db"]), "--assignment", "fake", "--checks",
                 "fakecourse.checks:get_assignment", "--source", str(served["source"]), "--port", "-1"]) == 2
    assert capsys.readouterr().err == (f"error: --db {served['db']}: another `serve` (pid "
                                       f"{served['service'].process.pid}) is using this database: stop it first, or "
                                       "give another --db\n")
    assert sorted(p.name for p in folder.iterdir()) == inside  # not wiped
    assert request(served["url"] + "healthz")[0] == 200


def test_a_service_that_cannot_listen_says_so_before_starting(served: dict[str, Any], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    """The running service's port, or an address that is not this machine's (TEST-NET-1): one line saying which and
    what to do, before any worker starts or any database is made (uvicorn said so only once the service ran)."""
    from autograder.cli import main

    port = int(served["url"].rsplit(":", 1)[1].strip("/"))
    base = ["serve", "--db", str(tmp_path / "other.db"), "--assignment", "fake", "--checks",
            "fakecourse.checks:get_assignment", "--source", str(served["source"])]
    assert main([*base, "--port", str(port)]) == 2
    assert capsys.readouterr().err == (f"error: --host 127.0.0.1 --port {port}: cannot listen there (Address already "
                                       "in use); another program listens there: choose another --port\n")
    assert main([*base, "--host", "192.0.2.1", "--port", "8000"]) == 2
    assert "not an address of this machine: give one of its own with --host" in capsys.readouterr().err
    assert not (tmp_path / "other.db").exists()

