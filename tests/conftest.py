"""Shared fixtures: one clean book build per test session, used by the book and browser tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import book_build
from tests.book_build import BuiltBook, prebuilt_or_build

#: The book build started as soon as the tests were collected (one process, one chapter at a time), and its folder.
_BACKGROUND: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """When a collected test needs the built book, start building it now, beside the tests that run first."""
    if os.environ.get("BOOK_BUILD_DIR") or session.config.option.collectonly:
        return
    if any("built_book" in getattr(item, "fixturenames", ()) for item in session.items):
        out = Path(tempfile.mkdtemp(prefix="built-book-"))
        _BACKGROUND["book"] = (book_build.start(out), out)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop a build nobody waited for (a run cut short) and remove its folder."""
    if "book" in _BACKGROUND:
        process, out = _BACKGROUND.pop("book")
        if process.poll() is None:  # its session holds jupyter-book and the chapters' kernels too
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """The book built from clean (fresh execution cache) in a temporary directory ($BOOK_BUILD_DIR: reuse one)."""
    if "book" in _BACKGROUND:
        return book_build.finish(*_BACKGROUND["book"])
    return prebuilt_or_build(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="session", autouse=True)
def course_grading_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A test-only grading key (environment, so subprocesses and nbgrader kernels see it too); the real
    key file in the home of whoever runs the tests is never read or created."""
    saved = {name: os.environ.get(name) for name in ("COURSE_GRADING_KEY", "XDG_CONFIG_HOME")}
    os.environ["COURSE_GRADING_KEY"] = "test-suite-grading-key-0123456789"
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield os.environ["COURSE_GRADING_KEY"]
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
