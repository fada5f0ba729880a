"""The course grading key and the one place hidden-input seeds are derived from it.

seed(question) = mix(mix(HMAC-SHA256(key, assignment), student), grade_id), so the same notebook
draws the same hidden inputs under `autograder grade`, after `--resume`, and under plain
`nbgrader autograde` (whose test cells call `autograder.checks.grade`). Without the key nobody can
predict another student's inputs; the per-student seed recorded with each result replays that
student's inputs without revealing the key.

The key is the environment variable COURSE_GRADING_KEY when set, otherwise the file
`$XDG_CONFIG_HOME/taming-exploding-gradients/grading.key` (default `~/.config/...`), created once with
mode 0600 on first use (one line on stderr says where, with its fingerprint). It lives in the
instructor's home, never in the repository, so neither the release nor the solutions carry it, and the
grading sandbox (private home, cleared environment) cannot read it.

Every machine that grades the course needs the same key, or its hidden inputs and grades differ: the
fingerprint (key_id) is printed in every run's summary and report so a second TA can compare, and
`python -m autograder key create|show|export` (autograder/keytool.py) moves the key between machines.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

ENV = "COURSE_GRADING_KEY"
#: A key shorter than this is refused: it could be guessed, and with it every student's hidden inputs.
MIN_LENGTH = 16
#: `key create --from` refuses a longer key: no key is that long, a data file given by mistake is.
MAX_LENGTH = 1024


def key_path() -> Path:
    """Where the key file lives when COURSE_GRADING_KEY is not set."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "taming-exploding-gradients" / "grading.key"


def source() -> str:
    """Where load_key() takes the key from: 'the environment variable ...' or the key file's path."""
    return f"the environment variable {ENV}" if os.environ.get(ENV) is not None else str(key_path())


def checked(raw: bytes, where: str) -> bytes:
    """The key without surrounding whitespace; ValueError naming `where` and its fix when it is too short."""
    key = raw.strip()
    if len(key) < MIN_LENGTH:
        fix = (f"set {ENV} to the line `python -m autograder key export` prints on the machine that graded "
               "first, or unset it to use the key file" if where.startswith("the environment")
               else "copy the course's key there with `python -m autograder key create --from FILE --replace`, or "
                    "delete the file to have a new one made (every hidden input then changes)")
        raise ValueError(f"grading key from {where} is {len(key)} characters long; at least {MIN_LENGTH} are "
                         f"needed: {fix}")
    return key


def _written(path: Path, value: bytes) -> Path:
    """A new private file next to `path` holding `value` as a key file (synced); the caller moves or removes it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value.strip() + b"\n")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_key(path: Path, value: bytes) -> bool:
    """Write `value` as the key file at `path` (0600, folder 0700) unless one is there; True if this call wrote it.

    Racing creators agree on one file: the key is linked into place atomically and never overwrites.
    """
    tmp = _written(path, value)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def replace_key(path: Path, value: bytes) -> None:
    """Put `value` in place of the key file at `path` in one step (a reader sees the old key or the new one)."""
    tmp = _written(path, value)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def new_key() -> bytes:
    """A fresh random key (256 bits, hex)."""
    return secrets.token_hex(32).encode()


def created_line(path: Path, key: bytes) -> str:
    """The line printed when a key file is made: where, its fingerprint, and how to copy it to another machine."""
    return (f"created a new grading key in {path} (fingerprint {key_id(key)}); every machine that grades this "
            f"course needs the same key: `python -m autograder key export` prints it")


def load_key(stream: TextIO | None = None) -> bytes:
    """The course key: $COURSE_GRADING_KEY, else the key file (created on first use, one line on `stream`)."""
    value = os.environ.get(ENV)
    if value is not None:
        return checked(value.encode(), f"the environment variable {ENV}")
    path = key_path()
    if not path.exists() and write_key(path, new_key()):
        print(created_line(path, path.read_bytes().strip()), file=stream or sys.stderr, flush=True)
    try:
        return checked(path.read_bytes(), str(path))
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
