"""submit() when nothing can be graded (no notebook, no usable address, no service listening): one line in the
student's language, never an English traceback; and its rows line up in Chinese too (autograder/submit.py)."""

from __future__ import annotations

import json
from pathlib import Path

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
    import http.server
    import threading

    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            paths.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"error": "no"}).encode()
            self.send_response(422)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AUTOGRADER_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        copy = tmp_path / "optimizers (1).ipynb"
        copy.write_bytes((Path(__file__).resolve().parents[1] / "exercises/optimizers/optimizers.ipynb").read_bytes())
        submit.submit(copy, say=lambda line: None)
    finally:
        server.shutdown()
    assert paths == ["/api/submit/optimizers"]
