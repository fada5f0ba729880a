"""`python -m autograder ...`: `grade` a batch of submissions, or `serve` students as they submit (with their
`tokens`); `release` the student notebooks; manage the grading `key`.

Exit status: 0 when the batch completed (students may still have failed); 2 for usage or
configuration errors, with one line saying what to fix (a misspelled option: "did you mean ...?");
130 after Ctrl-C (143 after SIGTERM), with one line saying how many were graded and to rerun with --resume.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from autograder import options
from autograder.grading.runner.limits import QUESTION_SECONDS

if TYPE_CHECKING:
    from autograder.grading.core.starting import Early


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, and a suggestion for a misspelled option of a sub-command."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message (see prog --help)` on one line and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def check_options(self, args: Sequence[str]) -> None:
        """Refuse an unknown --option of the sub-command in `args` before argparse reports what it then misses."""
        commands = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        for position, token in enumerate(args):
            if commands and token in commands[0].choices:
                child = commands[0].choices[token]
                if isinstance(child, Parser) and child.add_help:  # `release` passes its options on
                    child.check_options(args[position + 1:])
                return
            if token == "--":
                return
            if token.startswith("--") and not commands:
                self._check_option(token.split("=", 1)[0])

    def _check_option(self, option: str) -> None:
        """error() for an option that neither exists nor abbreviates one, naming the closest one."""
        known = [o for o in self._option_string_actions if o.startswith("--")]
        if option in known or any(o.startswith(option) for o in known):
            return
        close = difflib.get_close_matches(option[2:], [o[2:] for o in known], n=1, cutoff=0.6)  # '--' alike in all
        self.error(f"unrecognized option {option}" + (f"; did you mean --{close[0]}?" if close else ""))


def _grade_parser(sub: argparse._SubParsersAction) -> None:
    """Options of `grade`."""
    from autograder.grading.runner.assignments import DEFAULT_CHECKS

    p = sub.add_parser("grade", help="grade a folder or LMS zip of submissions in sandboxed workers",
                       description="Grade every submission; writes OUT/grades.csv, OUT/totals.csv, OUT/lms/ (Canvas "
                                   "and Moodle gradebook CSVs), OUT/feedback/, OUT/report.html, OUT/gradescope/ "
                                   "and OUT/results/ (one file per student, used by --resume).")
    p.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                   help="folder <student_id>/<assignment_id>/<notebook>.ipynb, or a Canvas/Moodle/nbgrader .zip")
    p.add_argument("--assignment", required=True, metavar="ID", help="assignment id, e.g. optimizers")
    p.add_argument("--out", required=True, type=Path, metavar="OUT", help="output folder (created if needed)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="sandboxed workers in parallel (default 2)")
    p.add_argument("--timeout", type=float, default=QUESTION_SECONDS, metavar="SECONDS",
                   help="wall-clock limit for the cells before each test cell, and again for each question "
                        f"(default {QUESTION_SECONDS:g})")
    p.add_argument("--memory-mb", type=int, default=1024, metavar="MB",
                   help="memory a submission may allocate beyond the warm worker (default 1024)")
    p.add_argument("--output-kb", type=int, default=64, metavar="KB",
                   help="printed output kept per submission; the rest is dropped, not fatal (default 64)")
    p.add_argument("--resume", action="store_true", help="keep results already in OUT/results/; grade the rest")
    p.add_argument("--roster", type=Path, metavar="FILE",
                   help="student ids, one per line (first CSV column): absent students get 'missing' rows")
    p.add_argument("--gradebook", metavar="DB",
                   help="also write the scores into this nbgrader gradebook (SQLite file or database URL)")
    p.add_argument("--student", action="append", default=[], metavar="ID",
                   help="regrade only this student (repeatable); every other result in OUT is left as it is")
    p.add_argument("--source", type=Path, metavar="NOTEBOOK",
                   help="instructor source notebook (default solutions/<ID>/<notebook>)")
    p.add_argument("--checks", default=DEFAULT_CHECKS, metavar="MODULE:FUNCTION",
                   help=f"where assignments come from (default {DEFAULT_CHECKS})")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="auto: bubblewrap if usable, else rlimits only with a loud warning (default auto)")
    p.add_argument("--book-url", metavar="URL",
                   help="link feedback to the book published here (default: the local build, _build/html; "
                        "also $COURSE_BOOK_URL)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="grade on this Dask cluster (its workers need the same course environment and "
                        "bubblewrap); default: local sandboxed workers")


def _grade(args: argparse.Namespace) -> int:
    """Run `grade`: the first sandboxed worker starts before anything imports torch (starting.begin)."""
    from autograder.grading.core import starting

    if args.workers < 1 or args.timeout <= 0 or args.memory_mb < 64 or args.output_kb < 1:
        raise ValueError("--workers >= 1, --timeout > 0, --memory-mb >= 64 and --output-kb >= 1 are required")
    if not args.submissions.exists():
        raise ValueError(f"SUBMISSIONS {args.submissions} does not exist")
    options.folder_to_write("--out", args.out)
    _own_out(args.out, args.submissions, args.assignment, args.checks)
    from autograder.grading.outputs.sections import URL_ENV

    for option, url in (("--book-url", args.book_url), (f"${URL_ENV}", os.environ.get(URL_ENV))):
        if url:
            options.web_address(option, url)
    if args.roster is not None:
        options.read_text("--roster", args.roster)
    if args.gradebook:
        options.database("--gradebook", args.gradebook, "submitted_assignment", "an nbgrader gradebook")
    early = starting.begin(args.checks, args.assignment, args.sandbox, args.out) if args.scheduler is None else None
    try:
        return _grade_with(args, early)
    finally:
        if early is not None:
            early.abandon()  # nothing once the grading pool adopted it


def _own_out(out: Path, submissions: Path, assignment: str, checks: str) -> None:
    """`out` is neither inside the submissions folder (read as a student who submitted nothing: a `not submitted`
    row, an empty LMS grade) nor another assignment's OUT (its results/<student>.json, CSVs and report would be
    replaced): one line naming the folder and what to give instead."""
    from autograder.grading.outputs.owner import stored_assignment

    if submissions.is_dir() and out.resolve().is_relative_to(submissions.resolve()):
        from autograder.grading.inbox.layout import wrong_folder
        from autograder.grading.runner.assignments import load_assignment

        # a wrong SUBMISSIONS (the course root, say) is the first thing to fix: say that, as grading would
        raise ValueError(wrong_folder(submissions, assignment, load_assignment(checks, assignment).notebook) or
                         f"--out {out}: lies inside SUBMISSIONS {submissions}, where it would be read as a student "
                         f"folder; give a folder outside it, e.g. --out {submissions.resolve().parent / 'graded'}")
    found = stored_assignment(out)
    if found is not None and found[0] != assignment:
        raise ValueError(f"--out {out}: holds the results of {found[0]} ({found[1]}); grading {assignment} there "
                         f"would replace them, its CSVs and its report: give {assignment} a folder of its own, e.g. "
                         f"--out {out.parent / f'{out.name}-{assignment}'}")


def _grade_with(args: argparse.Namespace, early: Early | None) -> int:
    """`grade` once its first worker is starting (`early`; None when none could start here)."""
    from autograder.grading.drivers import pipeline
    from autograder.grading.outputs.export import to_gradebook
    from autograder.grading.runner.wire import Limits

    if args.submissions.is_dir():
        from autograder.grading.inbox.layout import wrong_folder
        from autograder.grading.runner.assignments import load_assignment

        notebook = load_assignment(args.checks, args.assignment).notebook
        problem = wrong_folder(args.submissions, args.assignment, notebook)
        if problem:
            raise ValueError(problem)
    if args.book_url:
        from autograder.grading.outputs import sections

        os.environ[sections.URL_ENV] = args.book_url  # read where the feedback pages are written
    settings = pipeline.Settings(
        submissions=args.submissions, assignment_id=args.assignment, out=args.out, workers=args.workers,
        limits=Limits(timeout=args.timeout, memory_mb=args.memory_mb, output_bytes=args.output_kb * 1024),
        resume=args.resume, checks=args.checks, source=args.source, sandbox=args.sandbox,
        roster=args.roster, students=tuple(dict.fromkeys(args.student)), scheduler=args.scheduler)
    try:
        results = pipeline.grade(settings, early=early)
    except pipeline.Interrupted as stop:
        print(stop, file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:  # Ctrl-C before or after the grading threads ran: results saved so far stay
        print("stopped by SIGINT; rerun the same command with --resume to finish", file=sys.stderr)
        return 130
    if args.gradebook:
        from sqlalchemy.exc import SQLAlchemyError

        from autograder.grading.runner.assignments import load_assignment

        try:
            count = to_gradebook(args.gradebook, load_assignment(args.checks, args.assignment), results)
        except SQLAlchemyError as exc:
            why = str(getattr(exc, "orig", None) or exc).splitlines()[0]  # not SQLAlchemy's "Background on" link
            raise ValueError(f"--gradebook {args.gradebook}: cannot be written ({why}); the "
                             f"grades are saved in {args.out}: once it is fixed, rerun with --resume to write them "
                             "there") from None
        print(f"wrote {count} students into the gradebook {args.gradebook}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the sub-command; 2 with a message on usage/configuration errors."""
    from autograder import keytool

    parser = Parser(prog="python -m autograder", description=__doc__.split("\n\n")[0].replace("`", ""))
    sub = parser.add_subparsers(dest="command", required=True)
    _grade_parser(sub)
    from autograder.grading.drivers.service import command as service_command  # `serve` and `tokens` (issue 22)

    service_command.add_parsers(sub)
    sub.add_parser("release", help="regenerate exercises/ from solutions/ (nbgrader release)", add_help=False)
    keytool.add_parser(sub)
    parser.check_options(sys.argv[1:] if argv is None else argv)
    args, rest = parser.parse_known_args(argv)
    if args.command == "release":
        from autograder.release import main as release_main  # lazy: owned by the exercises helper

        return int(release_main(rest) or 0)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "key":
            return keytool.run(args)
        if args.command in ("grade", "serve"):
            from autograder.simd import forced_problem

            problem = forced_problem()
            if problem:  # before any worker starts: otherwise a process dies of SIGILL mid-run
                raise ValueError(problem)
        return service_command.run(args) if args.command in ("serve", "tokens") else _grade(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
