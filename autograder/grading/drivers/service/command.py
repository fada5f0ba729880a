"""The command-line side of the service: `serve` (start it) and `tokens` (issue tokens from a roster).

cli.py registers both with `add_parsers` and runs them with `run`; ValueError is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder import options
from autograder.grading.runner.limits import NOTEBOOK_BYTES, QUESTION_SECONDS

DEFAULT_DB = "autograder-serve.db"
#: A table only the service's database has, and what that database is called in messages (options.database).
SERVICE_DB = ("submissions", "the service's database")
COURSE = ("backprop", "optimizers", "clipping", "exploding")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Options of `serve` and `tokens`."""
    from autograder.grading.runner.assignments import DEFAULT_CHECKS

    p = sub.add_parser("serve", help="grade submissions over HTTP as they arrive (students get their grade in seconds)",
                       description="Serve the assignments: students POST a notebook with their token and get the "
                                   "batch grader's result and a feedback link; instructors get the live report "
                                   "and the batch's export. See the README, 'Instant feedback'.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: put a reverse "
                                                        "proxy with TLS in front for students)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--db", default=DEFAULT_DB, metavar="FILE_OR_URL",
                   help=f"SQLite file or SQLAlchemy URL, e.g. postgresql://... (default {DEFAULT_DB})")
    p.add_argument("--assignment", action="append", default=[], metavar="ID",
                   help=f"serve this assignment (repeatable; default: {', '.join(COURSE)})")
    p.add_argument("--policy", type=Path, metavar="FILE", help="TOML file: deadline, late work, which submission "
                                                               "counts, rate limit (see policy.py)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=float, default=QUESTION_SECONDS, metavar="SECONDS",
                   help=f"as for grade (default {QUESTION_SECONDS:g})")
    p.add_argument("--memory-mb", type=int, default=1024, metavar="MB", help="as for grade (default 1024)")
    p.add_argument("--output-kb", type=int, default=64, metavar="KB", help="as for grade (default 64)")
    p.add_argument("--max-upload-mb", type=float, default=NOTEBOOK_BYTES / (1 << 20), metavar="MB",
                   help=f"largest notebook accepted; larger bodies get 413 (default {NOTEBOOK_BYTES >> 20})")
    p.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                   help="how long a submission's request waits for the grade before answering 202 (default 60)")
    p.add_argument("--public-url", default="", metavar="URL",
                   help="the URL students reach (behind a reverse proxy), used in feedback links")
    p.add_argument("--source", type=Path, metavar="NOTEBOOK",
                   help="instructor source notebook (one --assignment only; default solutions/<ID>/<notebook>)")
    p.add_argument("--checks", default=DEFAULT_CHECKS, metavar="MODULE:FUNCTION", help="as for grade")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto", help="as for grade")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="grade on this Dask cluster, as `grade --scheduler` does (default: local sandboxed workers)")

    t = sub.add_parser("tokens", help="issue student (and instructor) tokens for `serve`; writes a CSV for mail merge",
                       description="Give every roster student without a token a new one. Only the tokens' hashes "
                                   "are stored: the CSV (mode 0600) is the only copy of the tokens.")
    t.add_argument("--roster", type=Path, metavar="FILE", help="student ids, one per line (first CSV column)")
    t.add_argument("--instructor", action="append", default=[], metavar="NAME", help="issue an instructor token")
    t.add_argument("--out", type=Path, required=True, metavar="CSV",
                   help="a new file for student_id,role,token (an existing one is refused, never replaced: it is "
                        "the only copy of the tokens it holds)")
    t.add_argument("--db", default=DEFAULT_DB, metavar="FILE_OR_URL", help=f"the service's database (default "
                                                                           f"{DEFAULT_DB})")
    t.add_argument("--reissue", action="store_true", help="replace existing tokens too (the old ones stop working)")


def run(args: argparse.Namespace) -> int:
    """Run `serve` or `tokens`."""
    return _tokens(args) if args.command == "tokens" else _serve(args)


def _tokens(args: argparse.Namespace) -> int:
    """Issue tokens into a new CSV (mode 0600), written before their hashes are stored."""
    from autograder.grading.drivers.service import db, tokens
    from autograder.grading.inbox.collect import safe_id

    if args.roster is None and not args.instructor:
        raise ValueError("give --roster FILE and/or --instructor NAME")
    students = tokens.roster_ids(args.roster) if args.roster else []
    # before any token is issued: the CSV is the only copy of the tokens in it, so it is never replaced
    options.new_file_to_write("--out", args.out, _kept(args.out))
    options.database("--db", args.db, *SERVICE_DB)
    instructors = [safe_id(name) for name in args.instructor]
    store = db.Store(db.url_for(args.db))
    try:
        issued = tokens.issue(store, students, instructors, lambda new: _write_new(args.out, tokens.csv_text(new)),
                              args.reissue)
    finally:
        store.close()
    kept = len(students) + len(instructors) - len(issued)
    print((f"issued {len(issued)} token(s) into {args.out}" if issued else f"issued no token; {args.out} not written")
          + (f"; {kept} already had one (--reissue replaces them)" if kept else ""), file=sys.stderr)
    return 0


def _kept(out: Path) -> str:
    """What to do when `out` is there already (it holds tokens whose only copy it is)."""
    return (f"it holds tokens issued before (the database keeps only their hashes): give a new --out for the new "
            f"tokens, or move {out.name} away first")


def _write_new(path: Path, text: str) -> None:
    """Create `path` with `text`, mode 0600 (tokens are secrets), never replacing a file; on disk when it returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made since the check: still never replaced
        raise ValueError(f"--out {path}: already exists; {_kept(path)}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)  # no hash is stored yet: a partial copy holds no working token
        raise


def _serve(args: argparse.Namespace) -> int:
    """Start the service; it runs until SIGINT or SIGTERM."""
    from autograder.grading.drivers.service.server import Options, serve

    assignments = list(dict.fromkeys(args.assignment)) or list(COURSE)
    if args.source is not None and len(assignments) != 1:
        raise ValueError("--source needs exactly one --assignment")
    if args.workers < 1 or args.timeout <= 0 or args.memory_mb < 64 or args.output_kb < 1 or args.max_upload_mb <= 0:
        raise ValueError("--workers >= 1, --timeout > 0, --memory-mb >= 64, --output-kb >= 1 and --max-upload-mb > 0 "
                         "are required")
    options.database("--db", args.db, *SERVICE_DB)
    return serve(Options(host=args.host, port=args.port, db=args.db, assignments=tuple(assignments),
                         policy=args.policy, workers=args.workers, timeout=args.timeout, memory_mb=args.memory_mb,
                         output_kb=args.output_kb, max_bytes=int(args.max_upload_mb * (1 << 20)), wait=args.wait,
                         public_url=args.public_url, source=args.source, checks=args.checks, sandbox=args.sandbox,
                         scheduler=args.scheduler))
