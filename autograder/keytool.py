"""`python -m autograder key create|show|export`: the course key's life cycle across machines.

Hidden inputs are derived from the key (autograder/key.py), so a second TA's machine must hold the same
key or it grades with other inputs. `show` prints where the key comes from and its fingerprint (never the
key); `export` prints the line that sets COURSE_GRADING_KEY on another machine, or writes a key file
(0600) to copy there; `create` makes this machine's key file, new or `--from` such a file or line
(`--replace` swaps another key already there for it, keeping the old one beside it).
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
    create.add_argument("--replace", action="store_true",
                        help="with --from: replace another key already on this machine (kept as grading.key.old-"
                             "<fingerprint>; every hidden input graded here then changes)")
    actions.add_parser("show", help="where the key comes from and its fingerprint (never the key itself)")
    export = actions.add_parser("export", help="print `export COURSE_GRADING_KEY=...` for another machine")
    export.add_argument("--file", type=Path, metavar="PATH", help="write a key file (0600) instead of printing")


EXPECTED = (f"expected the key alone on one line (what `key export --file` writes) or what `key export` prints "
            f"(# comment lines and one line `export {key.ENV}=...`)")


def _problem(value: str, bare: bool) -> str | None:
    """Why `value` cannot be a key read by `--from` (`bare`: not inside the quotes of an export line), or None."""
    odd = next((c for c in value if not c.isprintable()), None)
    if odd is not None:
        return f"the key holds a non-printable character ({ascii(odd)[1:-1]})"
    if bare and (" " in value or value.startswith("#")):
        return "whitespace inside the key" if " " in value else "the key starts with # (a comment)"
    size = len(value.encode())  # counted as the grader counts it (key.checked)
    if size < key.MIN_LENGTH:
        return f"the key is {size} characters long; at least {key.MIN_LENGTH} are needed"
    if size > key.MAX_LENGTH:
        return f"the key is {size} characters long; at most {key.MAX_LENGTH} are read"
    return None


def _exported_value(rest: str) -> str:
    """The value of `export COURSE_GRADING_KEY=<rest>`, quoted as `key export` writes it (shlex.quote)."""
    try:
        words = shlex.split(rest)
    except ValueError:
        raise ValueError("an unclosed quote in the export line") from None
    if len(words) != 1:
        raise ValueError("no key after = in the export line" if not words else
                         "whitespace inside the key outside quotes (or text after it) in the export line")
    plain = not set(words[0]) & set("\"$`\\!")  # inside double quotes the shell would change nothing
    if rest not in (shlex.quote(words[0]), f"'{words[0]}'") and not (plain and rest == f'"{words[0]}"'):
        raise ValueError("the export line's key is not quoted as `key export` writes it")
    return words[0]


def _parse_exported(text: str, name: str) -> bytes:
    """The key in `text` read from `name` by `--from`; ValueError naming `name`, the problem and what was expected."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    found = [(n, line) for n, line in lines if line and not line.startswith("#")]
    try:
        if not found:
            raise ValueError("only comment lines, no key" if any(line for _, line in lines) else "empty")
        if len(found) > 1:
            raise ValueError(f"{len(found)} lines could be the key (lines {found[0][0]} and {found[1][0]}"
                             f"{', ...' if len(found) > 2 else ''})")
        n, line = found[0]
        prefix = f"export {key.ENV}="
        if line.startswith(prefix):
            value, bare = _exported_value(line[len(prefix):]).strip(), False
        elif line.startswith(("export ", f"{key.ENV}=")):
            raise ValueError(f"line {n} is not the line `export {key.ENV}=...`")
        else:
            value, bare = line, True
        problem = _problem(value, bare)
        if problem:
            raise ValueError(problem)
    except ValueError as exc:
        raise ValueError(f"--from {name}: {exc}; {EXPECTED}, copied from the machine that graded first") from None
    return value.encode()


def _existing() -> tuple[bytes, str] | None:
    """(key, where it came from) without creating anything; None when there is no key yet."""
    where = key.source()
    if os.environ.get(key.ENV) is None and not key.key_path().exists():
        return None
    return key.load_key(), where


def _create(origin: Path | None, replace: bool) -> int:
    """`key create`."""
    if replace and origin is None:
        raise ValueError("--replace goes with --from FILE (the course's key to put in place of this machine's)")
    if os.environ.get(key.ENV) is not None:
        found = key.checked(os.environ[key.ENV].encode(), key.source())
        raise ValueError(f"{key.ENV} is set (fingerprint {key.key_id(found)}): this machine grades with that key; "
                         "unset it to use a key file")
    path = key.key_path()
    if origin is None:
        value = key.new_key()
    else:
        name = "standard input" if str(origin) == "-" else str(origin)
        value = _parse_exported(sys.stdin.read() if name == "standard input" else options.read_text("--from", origin),
                                name)
    fingerprint = key.key_id(value)
    if key.write_key(path, value):
        print(f"{'created a new' if origin is None else 'imported the'} grading key in {path} "
              f"(fingerprint {fingerprint})", file=sys.stderr)
        return 0
    try:
        old = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"grading key file {path} cannot be read: {exc.strerror}") from None
    if origin is None:
        raise ValueError(f"a grading key already exists in {path} (fingerprint {key.key_id(old)}); not replaced "
                         "(replacing it changes every student's hidden inputs)")
    if old == value:
        print(f"{path} already holds this grading key (fingerprint {fingerprint}); nothing to do", file=sys.stderr)
        return 0
    backup = path.with_name(f"{path.name}.old-{key.key_id(old)}")
    if not replace:
        raise ValueError(f"this machine already has another grading key in {path} (fingerprint {key.key_id(old)}, "
                         f"not {fingerprint} as in {name}); to grade with the course's key run `python -m autograder "
                         f"key create --from {origin} --replace` (the old key is kept as {backup}; hidden inputs "
                         "graded here then change)")
    try:
        os.link(path, backup)
    except FileExistsError:
        if backup.read_bytes().strip() != old:
            raise ValueError(f"{backup} exists and holds another key; move it away, then rerun") from None
    key.replace_key(path, value)
    print(f"replaced the grading key in {path} (fingerprint {key.key_id(old)} -> {fingerprint}); the old key is "
          f"kept in {backup}", file=sys.stderr)
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
    line = f"export {key.ENV}={shlex.quote(value.decode())}"
    problem = _problem(value.decode(), bare=False)  # a key the environment takes that `--from` would refuse
    if target is not None:
        if problem:
            raise ValueError(f"the grading key from {where} cannot go in a file ({problem}): on the other machine "
                             f"set {key.ENV} to the line `python -m autograder key export` prints")
        options.file_in_folder("--file", target)
        bare = _problem(value.decode(), bare=True) is None  # else the line, which `--from` reads quotes and all
        if not key.write_key(target, value if bare else f"# fingerprint {fingerprint}\n{line}".encode()):
            raise ValueError(f"{target} already exists; not replaced")
        print(f"wrote the grading key (fingerprint {fingerprint}) to {target}; on the other machine run "
              f"`python -m autograder key create --from {target.name}`, then delete the copy", file=sys.stderr)
        return 0
    note = f"; `key create --from` cannot read it ({problem}): paste it into the shell there" if problem else ""
    print(f"# grading key from {where}, fingerprint {fingerprint}: keep this line secret{note}", file=sys.stderr)
    print(line)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one `key` action; ValueError with one line for configuration problems."""
    if args.action == "create":
        return _create(args.origin, args.replace)
    if args.action == "show":
        return _show()
    return _export(args.file)
