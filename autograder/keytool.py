"""`python -m autograder key create|show|export`: the course key's life cycle across machines.

Hidden inputs are derived from the key (autograder/key.py), so a second TA's machine must hold the same
key or it grades with other inputs. `show` prints where the key comes from and its fingerprint (never the
key); `export` prints the line that sets COURSE_GRADING_KEY on another machine, or writes a key file
(0600) to copy there; `create` makes this machine's key file, new or `--from` such a file or line.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from autograder import key, options


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `key` sub-command and its three actions."""
    p = sub.add_parser("key", help="create, show or export the course grading key (same key on every machine)",
                       description=__doc__.splitlines()[0])
    actions = p.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make this machine's key file (new, or --from an exported key)")
    create.add_argument("--from", dest="origin", type=Path, metavar="FILE",
                        help="a key file written by `key export --file`, or a file holding the line `key export` "
                             "prints ('-' reads standard input)")
    actions.add_parser("show", help="where the key comes from and its fingerprint (never the key itself)")
    export = actions.add_parser("export", help="print `export COURSE_GRADING_KEY=...` for another machine")
    export.add_argument("--file", type=Path, metavar="PATH", help="write a key file (0600) instead of printing")


def _parse_exported(text: str) -> bytes:
    """The key in a key file or in the `export COURSE_GRADING_KEY=...` line (quotes removed)."""
    line = text.strip()
    prefix = f"export {key.ENV}="
    if line.startswith(prefix):
        words = shlex.split(line[len(prefix):])
        line = words[0] if len(words) == 1 else ""
    return line.encode()


def _existing() -> tuple[bytes, str] | None:
    """(key, where it came from) without creating anything; None when there is no key yet."""
    where = key.source()
    if os.environ.get(key.ENV) is None and not key.key_path().exists():
        return None
    return key.load_key(), where


def _create(origin: Path | None) -> int:
    """`key create`."""
    if os.environ.get(key.ENV) is not None:
        found = key.checked(os.environ[key.ENV].encode(), key.source())
        raise ValueError(f"{key.ENV} is set (fingerprint {key.key_id(found)}): this machine grades with that key; "
                         "unset it to use a key file")
    path = key.key_path()
    if origin is None:
        value = key.new_key()
    else:
        text = sys.stdin.read() if str(origin) == "-" else options.read_text("--from", origin)
        value = key.checked(_parse_exported(text), str(origin))
    if not key.write_key(path, value):
        found = key.checked(path.read_bytes(), str(path))
        raise ValueError(f"a grading key already exists in {path} (fingerprint {key.key_id(found)}); not replaced "
                         "(replacing it changes every student's hidden inputs)")
    print(f"{'created a new' if origin is None else 'imported the'} grading key in {path} "
          f"(fingerprint {key.key_id(value)})", file=sys.stderr)
    return 0


def _show() -> int:
    """`key show`."""
    found = _existing()
    if found is None:
        raise ValueError(f"no grading key yet ({key.ENV} unset, no file {key.key_path()}): "
                         "`python -m autograder key create` makes one")
    value, where = found
    print(f"grading key from {where}, fingerprint {key.key_id(value)}")
    return 0


def _export(target: Path | None) -> int:
    """`key export`."""
    found = _existing()
    if found is None:
        raise ValueError(f"no grading key to export ({key.ENV} unset, no file {key.key_path()})")
    value, where = found
    fingerprint = key.key_id(value)
    if target is not None:
        options.file_to_write("--file", target)
        if not key.write_key(target, value):
            raise ValueError(f"{target} already exists; not replaced")
        print(f"wrote the grading key (fingerprint {fingerprint}) to {target}; on the other machine run "
              f"`python -m autograder key create --from {target.name}`, then delete the copy", file=sys.stderr)
        return 0
    print(f"# grading key from {where}, fingerprint {fingerprint}: keep this line secret", file=sys.stderr)
    print(f"export {key.ENV}={shlex.quote(value.decode())}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one `key` action; ValueError with one line for configuration problems."""
    if args.action == "create":
        return _create(args.origin)
    if args.action == "show":
        return _show()
    return _export(args.file)
