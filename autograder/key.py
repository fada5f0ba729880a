"""The course grading key and the one place hidden-input seeds are derived from it.

seed(question) = mix(mix(HMAC-SHA256(key, assignment), student), grade_id), so the same notebook
draws the same hidden inputs under `autograder grade`, after `--resume`, and under plain
`nbgrader autograde` (whose test cells call `autograder.checks.grade`). Without the key nobody can
predict another student's inputs; the per-student seed recorded with each result replays that
student's inputs without revealing the key.

The key is the environment variable COURSE_GRADING_KEY when set, otherwise the file
`$XDG_CONFIG_HOME/taming-exploding-gradients/grading.key` (default `~/.config/...`), created once with
mode 0600 on first use. It lives in the instructor's home, never in the repository, so neither the
release nor the solutions carry it, and the grading sandbox (private home, cleared environment)
cannot read it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV = "COURSE_GRADING_KEY"
#: A key shorter than this is refused: it could be guessed, and with it every student's hidden inputs.
MIN_LENGTH = 16


def key_path() -> Path:
    """Where the key file lives when COURSE_GRADING_KEY is not set."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "taming-exploding-gradients" / "grading.key"


def _checked(raw: bytes, where: str) -> bytes:
    """The key without surrounding whitespace; ValueError naming `where` when it is too short."""
    key = raw.strip()
    if len(key) < MIN_LENGTH:
        raise ValueError(f"grading key from {where} is {len(key)} characters long; at least {MIN_LENGTH} are needed "
                         f"(delete the file to have a new one made, or set {ENV})")
    return key


def _create(path: Path) -> None:
    """Write a fresh random key to `path` (0600) unless one is there; racing creators agree on one file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and never overwrites: a concurrent creator's key wins if it came first
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def load_key() -> bytes:
    """The course key: $COURSE_GRADING_KEY, else the key file (created on first use)."""
    value = os.environ.get(ENV)
    if value is not None:
        return _checked(value.encode(), f"the environment variable {ENV}")
    path = key_path()
    if not path.exists():
        _create(path)
    try:
        return _checked(path.read_bytes(), str(path))
    except OSError as exc:
        raise ValueError(f"grading key file {path} cannot be read: {exc.strerror}") from None


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key, recorded with results so a changed key is noticed."""
    return hashlib.sha256(b"key-id:" + key).hexdigest()[:12]


def mix(seed: int, *parts: str) -> int:
    """A 63-bit seed from a seed and names (student id, grade_id): stable, and independent per name."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def assignment_seed(key: bytes, assignment_id: str) -> int:
    """The secret root of one assignment's seeds: HMAC-SHA256(key, assignment id), 63 bits."""
    digest = hmac.new(key, f"assignment:{assignment_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def student_seed(key: bytes, assignment_id: str, student_id: str) -> int:
    """One student's seed for one assignment (recorded with the result; replays the inputs)."""
    return mix(assignment_seed(key, assignment_id), student_id)


def question_seed(key: bytes, assignment_id: str, student_id: str, grade_id: str) -> int:
    """The seed of one question's hidden-input generator for one student."""
    return mix(student_seed(key, assignment_id, student_id), grade_id)
