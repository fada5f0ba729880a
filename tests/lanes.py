"""`make test`: the whole suite in two pytest processes side by side, one per core of the 2-core course machine.

Run alone, the suite kept one core idle most of the time: its tests run one at a time, and only the book build (in
the background, tests/conftest.py) used the second core. The book lane holds the book build and what reads the
built book (the browser tests), plus tests that run notebooks, nbgrader or the SIMD sweep but never the grader's
sandboxed workers; the other lane holds everything else, the grader's own tests included,
so that no test that counts the machine's workers, uids or cgroups shares the machine with another grader of the
suite. Each lane has its own temporary folder; the book lane's output follows the other's. Arguments go to both
lanes (`-k`, `-x`, `--durations=N`); test paths among them mean the caller chose the tests: one plain pytest run
then. `make check` (`--fast`) runs its selection (`-m "not slow ..."`) in two lanes too; with no book build beside
them, the CPU-bound checks tests (FAST_EXTRA) join the book lane, which evens the lanes out.

    python tests/lanes.py [--fast] [--mypy] [PYTEST_ARGS...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The book lane, in the order it runs: the modules that do not need the built book first (the build runs meanwhile).
#: Kept this small: a minute of CPU-bound checks tests moved here made the other lane slower on 2 cores, whether they
#: ran beside the book build (1.5 min slower) or after the browser tests (the lane 22 s slower, the suite 14 min 32 s
#: against 13 min 40 s).
BOOK_LANE = ("tests/test_nbgrader_config.py", "tests/test_release.py", "tests/test_notebooks.py",
             "tests/test_capstone_sweep.py", "tests/test_book.py", "tests/test_jupyterlab_links.py",
             "tests/test_browser.py")
#: For `make check` only, where no book build runs: modules that start no grader (they drive the checks, the
#: tripwire or a kernel in the test's own process) moved to the book lane, so that the two lanes take about as long.
FAST_EXTRA = ("tests/test_checks_exploding.py", "tests/test_forbidden.py", "tests/test_graded_state.py",
              "tests/test_kernel_notebook.py", "tests/test_mistakes.py", "tests/test_draws_same_everywhere.py",
              "tests/test_reference_optimizers.py", "tests/test_mistake_names_backprop.py",
              "tests/test_mistake_names_clipping.py", "tests/test_mistake_names_optimizers.py", "tests/test_checks.py",
              "tests/test_checks_variants.py", "tests/test_check_messages.py", "tests/test_translations.py",
              "tests/test_static_math.py", "tests/grading/outputs/test_report.py",
              "tests/grading/outputs/test_records.py", "tests/grading/outputs/test_export.py",
              "tests/grading/inbox/test_layout.py",
              "tests/grading/inbox/test_notebook.py", "tests/grading/core/test_judging.py")
#: pytest's exit status when a lane's selection (`-k`, `-m`) left it no test.
NO_TESTS = 5


def _names_tests(args: list[str]) -> bool:
    """Whether `args` name test files or folders (then the caller chose the tests)."""
    return any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in args)


def _status(codes: list[int]) -> int:
    """One exit status for the lanes: the first failure's, else 0 (NO_TESTS only when no lane ran a test)."""
    failed = [code for code in codes if code not in (0, NO_TESTS)]
    return failed[0] if failed else (NO_TESTS if all(code == NO_TESTS for code in codes) else 0)


def book_lane(fast: bool) -> tuple[str, ...]:
    """The book lane's modules: BOOK_LANE, and FAST_EXTRA too for `make check` (`fast`)."""
    return BOOK_LANE + FAST_EXTRA if fast else BOOK_LANE


def _flags(args: list[str]) -> tuple[bool, bool, list[str]]:
    """(--fast given, --mypy given, the arguments for pytest)."""
    return "--fast" in args, "--mypy" in args, [arg for arg in args if arg not in ("--fast", "--mypy")]


def main(args: list[str]) -> int:
    """Run the suite in two lanes and return pytest's exit status (the first failing lane's).

    `--mypy`: type-check too, once the book lane is done, beside the other lane's last minutes (a cold mypy takes
    about 50 s of one core, which `make test` used to spend before either lane started); its errors fail the run."""
    pytest = [sys.executable, "-m", "pytest"]
    fast, mypy, args = _flags(args)
    if _names_tests(args):
        status = subprocess.call([*pytest, *args], cwd=ROOT)
        return _status([status, subprocess.call([sys.executable, "-m", "mypy"], cwd=ROOT) if mypy else 0])
    book = book_lane(fast)
    base = Path(tempfile.mkdtemp(prefix="pytest-lanes-"))
    log = base / "book-lane.log"
    lanes: list[subprocess.Popen[bytes]] = []
    try:
        with log.open("wb") as out:
            lanes.append(subprocess.Popen([*pytest, *book, f"--basetemp={base / 'book'}", *args], cwd=ROOT,
                                          stdout=out, stderr=subprocess.STDOUT))
        lanes.append(subprocess.Popen([*pytest, "tests", *[f"--ignore={path}" for path in book],
                                       f"--basetemp={base / 'rest'}", *args], cwd=ROOT))
        book_status = lanes[0].wait()
        if mypy:
            with log.open("ab") as out:
                out.write(b"\n===== mypy =====\n")
                out.flush()
                lanes.append(subprocess.Popen([sys.executable, "-m", "mypy"], cwd=ROOT, stdout=out,
                                              stderr=subprocess.STDOUT))
        codes = [lanes[1].wait(), book_status, *[lane.wait() for lane in lanes[2:]]]
    except KeyboardInterrupt:  # Ctrl-C reached the lanes too (one process group): they stop their book build, tidy up
        for lane in lanes:
            try:
                lane.wait(timeout=60)
            except subprocess.TimeoutExpired:
                lane.kill()
                lane.wait()
        return 130
    print(f"\n===== the book lane: {' '.join(book)} =====", flush=True)
    sys.stdout.buffer.write(log.read_bytes())
    status = _status(codes)
    if status == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"the lanes' temporary folders are kept in {base}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
