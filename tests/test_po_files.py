"""A catalog is written only when its messages changed: refreshing one leaves the others' files (and git) alone."""

from __future__ import annotations

import datetime
from pathlib import Path

from babel.messages.catalog import Catalog

from autograder.po_files import write_catalog


def _catalog(translation: str) -> Catalog:
    catalog = Catalog(locale="zh_CN", project="p", domain="d")
    catalog.add("hello", translation)
    return catalog


def test_the_same_messages_are_not_written_again_whatever_the_date(tmp_path: Path) -> None:
    path = tmp_path / "d.po"
    assert write_catalog(path, _catalog("你好"), width=0)
    first = path.read_bytes()
    later = _catalog("你好")
    later.creation_date = datetime.datetime(2031, 1, 2, 3, 4)  # written another day: only its date differs
    assert not write_catalog(path, later, width=0) and path.read_bytes() == first
    assert write_catalog(path, _catalog("您好"), width=0) and "您好" in path.read_text()
