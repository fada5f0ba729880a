"""submit() when nothing can be graded (no notebook, no usable address, no service listening): one line in the
student's language, never an English traceback; and its rows line up in Chinese too (autograder/submit.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autograder import submit
from tests.serve_helpers import free_port


def _notebook(folder: Path, language: str | None) -> Path:
    metadata = {"autograder": {"language": language}} if language else {}
    path = folder / "fake.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("AUTOGRADER_TOKEN", "t0ken")
    monkeypatch.delenv("AUTOGRADER_LANGUAGE", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("language", "said"), [(None, "could not reach the grading service at"),
                                                ("zh_CN", "无法连接 ")])
def test_a_service_that_does_not_answer_is_one_line_in_the_notebooks_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str | None, said: str) -> None:
    monkeypatch.setenv("AUTOGRADER_URL", f"http://127.0.0.1:{free_port()}/")  # nothing listens there
    lines: list[str] = []
    reply = submit.submit(_notebook(tmp_path, language), say=lines.append)
    assert reply["status_code"] == 0 and lines[-1].startswith(said) and reply["error"] == lines[-1]
    assert "Traceback" not in "".join(lines)


@pytest.mark.parametrize(("language", "said"), [(None, r"is not an http\(s\) address"),
                                                ("zh_CN", r"不是 http\(s\) 地址")])
def test_an_address_that_is_not_http_is_refused_before_sending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str | None, said: str) -> None:
    monkeypatch.setenv("AUTOGRADER_URL", "grader.example.edu")
    if language:
        monkeypatch.setenv("AUTOGRADER_LANGUAGE", language)
    with pytest.raises(RuntimeError, match=said):
        submit.submit(_notebook(tmp_path, None), say=lambda line: None)


def test_a_notebook_that_cannot_be_read_says_which_in_the_students_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("AUTOGRADER_LANGUAGE", "zh_CN")
    with pytest.raises(RuntimeError, match="^无法读取笔记本 .*nosuch.ipynb："):
        submit.submit(tmp_path / "nosuch.ipynb", say=lambda line: None)


def test_rows_line_up_whatever_the_script() -> None:
    """A status word in Chinese takes two columns per character: the grade_id column starts at the same place."""
    assert len(submit._padded("passed", 10)) == 10
    assert submit._padded("部分正确", 10) == "部分正确  " and submit._padded("出错", 10) == "出错      "


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_reply_prints_its_rows_in_columns_whatever_the_names(lang: str) -> None:
    """A test name longer than the others (rmsprop_step_momentum_centered) and Chinese statuses: each row's score
    and message start at the same terminal column."""
    names = ("sgd_step_basic", "rmsprop_step_momentum_centered", "adamw_step")
    rows = [{"status": status, "grade_id": name, "score": score, "max_score": 2, "message": "why"}
            for status, name, score in zip(("passed", "partial", "error"), names, (2, 0.17, 0), strict=True)]
    lines: list[str] = []
    submit._report(200, {"rows": rows, "assignment": "optimizers", "score": 2.17, "max_score": 6, "submission": 1},
                   lines.append, submit._words(lang))
    printed = [line for line in lines if line.endswith("  why")]
    assert len(printed) == 3
    columns = {(submit._width(line[:line.index(name)]), submit._width(line[:line.rindex(" why")]))
               for line, name in zip(printed, names, strict=True)}
    assert len(columns) == 1, printed  # names start, and messages start, at one column in every row


@pytest.mark.parametrize("name", ["optimizers.ipynb", "optimizers-Copy1.ipynb", "optimizers (1).ipynb", "hw3.ipynb"])
def test_a_renamed_copy_is_sent_for_the_assignment_whose_cells_it_holds(tmp_path: Path, name: str) -> None:
    """The assignment is the one whose test cells the notebook holds (Jupyter's 'Duplicate' renames the file); a
    notebook holding none of the course's is sent under its file's name, as before."""
    released = Path(__file__).resolve().parents[1] / "exercises" / "optimizers" / "optimizers.ipynb"
    assert submit.assignment_of(released.read_bytes(), Path(name).stem) == "optimizers"
    stray = json.dumps({"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "mine"}},
                                   "source": ""}]}).encode()
    assert submit.assignment_of(stray, Path(name).stem) == Path(name).stem
    assert submit.assignment_of(b"not json", "x") == submit.assignment_of(b"[]", "x") == "x"


def test_submit_posts_a_renamed_copy_to_its_assignment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """submit() on `optimizers (1).ipynb` posts to api/submit/optimizers, not to 'optimizers (1)'."""
    paths: list[str] = []

    def refuse(handler: Any) -> None:
        paths.append(handler.path)
        _answer(handler, 422, "application/json", json.dumps({"error": "no"}).encode())

    server = _server(refuse)
    try:
        monkeypatch.setenv("AUTOGRADER_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        copy = tmp_path / "optimizers (1).ipynb"
        copy.write_bytes((Path(__file__).resolve().parents[1] / "exercises/optimizers/optimizers.ipynb").read_bytes())
        submit.submit(copy, say=lambda line: None)
    finally:
        server.shutdown()
        server.server_close()
    assert paths == ["/api/submit/optimizers"]


def _answer(handler: Any, status: int, kind: str, body: bytes) -> None:
    """Send `status` with `body` of Content-Type `kind` from an http.server handler."""
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _server(reply: Any) -> Any:
    """A local HTTP server that reads every POST's body, then calls `reply(handler)`; shut it down after use."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            reply(self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


def _proxy(status: int) -> Any:
    """A server answering every POST as a proxy in front of the service does: `status` with an HTML page (0: reads
    the notebook, then never answers)."""
    import time

    def reply(handler: Any) -> None:
        if status == 0:
            time.sleep(2)
            return
        _answer(handler, status, "text/html", f"<html><body><h1>{status}</h1><hr>nginx</body></html>".encode())

    return _server(reply)


@pytest.mark.parametrize(("status", "english", "chinese"), [
    (413, "not graded (413): the notebook is larger than the service accepts; large outputs",
     "未评分（413）：笔记本超过了评分服务接受的大小"),
    (502, "not graded (502): the grading service is not answering; try again", "未评分（502）：评分服务没有响应"),
    (504, "no grade yet (504): the service's proxy stopped waiting for the grade; your notebook was sent, so it may "
          "still be graded", "暂无成绩（504）：评分服务的代理没有等到成绩就停止了等待；你的笔记本已经发出"),
    (0, "no answer from the grading service at http://127.0.0.1:", "在 0.2 秒内没有收到 http://127.0.0.1:")])
def test_a_proxys_refusal_or_silence_is_worded_by_what_it_means(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, english: str, chinese: str) -> None:
    """What a proxy in front of the service answers (nginx's HTML 413, 502, 504) or no answer after the notebook was
    sent: one line in the notebook's language saying what it means, never "HTTP 504 Gateway Timeout" inside a Chinese
    sentence, and never "not graded" or "check your network" for a notebook the service may be grading."""
    server = _proxy(status)
    try:
        monkeypatch.setenv("AUTOGRADER_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        for language, said in ((None, english), ("zh_CN", chinese)):
            lines: list[str] = []
            reply = submit.submit(_notebook(tmp_path, language), timeout=0.2, say=lines.append)
            assert reply["status_code"] == status and lines[-1].startswith(said), lines
            assert "HTTP" not in lines[-1] and "Traceback" not in "".join(lines)
    finally:
        server.shutdown()
        server.server_close()
