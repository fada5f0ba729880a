"""`make test`: the whole suite in two pytest processes side by side, one per core of the 2-core course machine.

Run alone, the suite kept one core idle most of the time: its tests run one at a time, and only the book build (in
the background, tests/conftest.py) used the second core. The book lane holds the book build and what reads the
built book (the browser tests), plus tests that run notebooks, nbgrader or the SIMD sweep but never the grader's
sandboxed workers; the other lane holds everything else, the grader's own tests included,
so that no test that counts the machine's workers, uids or cgroups shares the machine with another grader of the
suite. Each lane has its own temporary folder; the book lane's output follows the other's. Arguments go to both
lanes (`-k`, `-x`, `--durations=N`); test paths among them mean the caller chose the tests: one plain pytest run
then. `make check` runs its selection (`-m "not slow ..."`) in the same two lanes.

    python tests/lanes.py [PYTEST_ARGS...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The book lane, in the order it runs: the modules that do not need the built book first (the build runs meanwhile).
#: Kept this small: moving a minute of CPU-bound checks tests here made the other lane 1.5 min slower on 2 cores.
BOOK_LANE = ("tests/test_nbgrader_config.py", "tests/test_release.py", "tests/test_notebooks.py",
             "tests/test_capstone_sweep.py", "tests/test_book.py", "tests/test_jupyterlab_links.py",
             "tests/test_browser.py")
#: pytest's exit status when a lane's selection (`-k`, `-m`) left it no test.
NO_TESTS = 5


def _names_tests(args: list[str]) -> bool:
    """Whether `args` name test files or folders (then the caller chose the tests)."""
    return any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in args)


def _status(codes: list[int]) -> int:
    """One exit status for the lanes: the first failure's, else 0 (NO_TESTS only when no lane ran a test)."""
    failed = [code for code in codes if code not in (0, NO_TESTS)]
    return failed[0] if failed else (NO_TESTS if all(code == NO_TESTS for code in codes) else 0)


def main(args: list[str]) -> int:
    """Run the suite in two lanes and return pytest's exit status (the first failing lane's)."""
    pytest = [sys.executable, "-m", "pytest"]
    if _names_tests(args):
        return subprocess.call([*pytest, *args], cwd=ROOT)
    base = Path(tempfile.mkdtemp(prefix="pytest-lanes-"))
    log = base / "book-lane.log"
    lanes: list[subprocess.Popen[bytes]] = []
    try:
        with log.open("wb") as out:
            lanes.append(subprocess.Popen([*pytest, *BOOK_LANE, f"--basetemp={base / 'book'}", *args], cwd=ROOT,
                                          stdout=out, stderr=subprocess.STDOUT))
        lanes.append(subprocess.Popen([*pytest, "tests", *[f"--ignore={path}" for path in BOOK_LANE],
                                       f"--basetemp={base / 'rest'}", *args], cwd=ROOT))
        codes = [lanes[1].wait(), lanes[0].wait()]
    except KeyboardInterrupt:  # Ctrl-C reached the lanes too (one process group): they stop their book build, tidy up
        for lane in lanes:
            try:
                lane.wait(timeout=60)
            except subprocess.TimeoutExpired:
                lane.kill()
                lane.wait()
        return 130
    print(f"\n===== the book lane: {' '.join(BOOK_LANE)} =====", flush=True)
    sys.stdout.buffer.write(log.read_bytes())
    status = _status(codes)
    if status == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"the lanes' temporary folders are kept in {base}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
