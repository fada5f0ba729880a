"""Shared fixtures: one clean book build per test session, used by the book and browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.book_build import BuiltBook, prebuilt_or_build


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """The book built from clean (fresh execution cache) in a temporary directory ($BOOK_BUILD_DIR: reuse one)."""
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
