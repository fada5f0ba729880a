"""Test modules that grade in the real bubblewrap sandbox: as root (CI) a missing sandbox fails, else they skip."""

from __future__ import annotations

import os

import pytest

from autograder.grading.core import sandbox


def sandbox_marks(what: str) -> list[pytest.MarkDecorator]:
    """`pytestmark` for a slow module needing bwrap; fails the run as root, where `make test` installs it."""
    usable = sandbox.bwrap_usable()
    if not usable and os.geteuid() == 0:
        pytest.fail("bubblewrap is not usable although we are root: `make test` installs it (.ci/system-deps)",
                    pytrace=False)
    return [pytest.mark.slow,
            pytest.mark.skipif(not usable, reason="bubblewrap (bwrap) is not usable here: "
                               f"`sudo apt-get install bubblewrap` to run {what}")]
