"""Shared fixtures: one clean book build per test session, used by the book and browser tests."""

from __future__ import annotations

import pytest

from tests.book_build import BuiltBook, build


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """The book built from clean (fresh execution cache) in a temporary directory."""
    return build(tmp_path_factory.mktemp("book"))
