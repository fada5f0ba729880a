"""What the instructor decides per assignment, read from a small TOML file (`serve --policy FILE`).

    [defaults]                    # every assignment, unless its own table says otherwise
    counts = "best"               # which submission counts: "latest" or "best" (highest total)
    rate_per_hour = 20            # submissions per student per assignment in any 60 minutes (0: no limit)

    [assignments.optimizers]
    deadline = 2027-01-15T23:59:00Z   # a TOML date-time (with its offset); none: no deadline
    late = "accept"               # after the deadline: "accept" (graded, marked late, counts),
                                  # "ignore" (graded and shown, never counts) or "refuse" (403, not stored)

A submission that is not a notebook of the assignment (the batch's `malformed` rows on every question)
is answered 422 and counts only for a student who has nothing else (the export then shows those rows).
The grade itself is never changed by the policy: it is the batch's.
"""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autograder import options
from autograder.message import Message, say

COUNTS = ("latest", "best")
LATE = ("accept", "ignore", "refuse")


@dataclass(frozen=True)
class Policy:
    """One assignment's rules."""

    counts: str = "best"
    rate_per_hour: int = 20
    deadline: float | None = None  # seconds since the epoch
    late: str = "accept"

    def is_late(self, when: float) -> bool:
        """Whether a submission received at `when` is after the deadline."""
        return self.deadline is not None and when > self.deadline

    def deadline_text(self) -> str:
        """The deadline as the pages and refusals show it ('none' without one)."""
        return (datetime.datetime.fromtimestamp(self.deadline, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
                if self.deadline is not None else "none")

    def summary(self) -> Message:
        """The rules as the pages show them (the students' upload page, the instructor's), worded for the reader."""
        return say("serve.policy", counts=say(f"serve.policy.{self.counts}"),
                   deadline=self.deadline_text() if self.deadline is not None else say("serve.policy.no_deadline"),
                   late=say(f"serve.policy.{self.late}"),
                   rate=say("serve.policy.rate", limit=self.rate_per_hour) if self.rate_per_hour
                   else say("serve.policy.no_rate"))


def _entry(raw: Any, base: Policy, where: str) -> Policy:
    """A Policy from one TOML table on top of `base`; ValueError naming the bad key."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(raw) - {"counts", "rate_per_hour", "deadline", "late"})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: counts, rate_per_hour, deadline, late)")
    policy = base
    if "counts" in raw:
        if raw["counts"] not in COUNTS:
            raise ValueError(f"{where}.counts must be one of {', '.join(COUNTS)}")
        policy = replace(policy, counts=raw["counts"])
    if "late" in raw:
        if raw["late"] not in LATE:
            raise ValueError(f"{where}.late must be one of {', '.join(LATE)}")
        policy = replace(policy, late=raw["late"])
    if "rate_per_hour" in raw:
        rate = raw["rate_per_hour"]
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 0:
            raise ValueError(f"{where}.rate_per_hour must be a whole number >= 0")
        policy = replace(policy, rate_per_hour=rate)
    if "deadline" in raw:
        deadline = raw["deadline"]
        if not isinstance(deadline, datetime.datetime) or deadline.tzinfo is None:
            raise ValueError(f"{where}.deadline must be a TOML date-time with an offset, e.g. 2027-01-15T23:59:00Z")
        policy = replace(policy, deadline=deadline.timestamp())
    return policy


def load(path: Path | None, assignments: list[str]) -> dict[str, Policy]:
    """assignment id -> its Policy (the defaults when there is no file); ValueError naming what is wrong."""
    if path is None:
        return {a: Policy() for a in assignments}
    try:
        raw = tomllib.loads(options.read_text("--policy", path))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"--policy {path}: {exc}") from None
    unknown = sorted(set(raw) - {"defaults", "assignments"})
    if unknown:
        raise ValueError(f"--policy {path}: unknown table(s) {', '.join(unknown)} (known: defaults, assignments)")
    base = _entry(raw.get("defaults", {}), Policy(), f"{path}: defaults")
    tables = raw.get("assignments", {})
    if not isinstance(tables, dict):
        raise ValueError(f"--policy {path}: assignments must be a table")
    strange = sorted(set(tables) - set(assignments))
    if strange:
        raise ValueError(f"--policy {path}: assignment(s) {', '.join(strange)} are not served "
                         f"(served: {', '.join(assignments)})")
    return {a: _entry(tables.get(a, {}), base, f"{path}: assignments.{a}") for a in assignments}
