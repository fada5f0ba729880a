"""Build the book from clean and print each chapter's execution time and the total build time.

Usage: .venv/bin/python benchmarks/book_build.py [--out DIR]
Budgets (issue #13): each chapter <= 60 s of execution on 2 cores, the whole clean `make book` <= 6 minutes.
Issue #14: the Chinese edition (built after the English one, from its execution cache) adds at most 90 s.
Exit status 3 when a budget is exceeded (1 when the build fails).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_cache import get_cache

from tests.book_build import build

CHAPTER_BUDGET_S = 60.0
BUILD_BUDGET_S = 360.0
CHINESE_BUDGET_S = 90.0


def chapter_times(out: Path) -> dict[str, float]:
    """Execution seconds per notebook, read from the jupyter-cache the build filled."""
    cache = get_cache(out / "_build" / ".jupyter_cache")
    times = {}
    for record in cache.list_cache_records():
        uri = Path(record.uri).name if record.uri else str(record.pk)
        times[uri] = float(record.data.get("execution_seconds", float("nan")))
    return times


def main() -> int:
    """Build, print the per-chapter table and the total, and say whether the budgets were met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a fresh temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="book-bench-"))
    result = build(out)
    if result.returncode != 0 or result.zh_returncode != 0:
        print((result.log if result.returncode else result.zh_log)[-3000:])
        print(f"build FAILED after {result.seconds + result.zh_seconds:.1f} s")
        return 1
    times = chapter_times(out)
    width = max(map(len, times), default=10)
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        flag = "" if seconds <= CHAPTER_BUDGET_S else f"  over the {CHAPTER_BUDGET_S:.0f} s budget"
        print(f"{name:<{width}}  {seconds:6.1f} s{flag}")
    print(f"{'executing all chapters':<{width}}  {sum(times.values()):6.1f} s")
    total = result.seconds + result.zh_seconds
    over = (total > BUILD_BUDGET_S or any(t > CHAPTER_BUDGET_S for t in times.values())
            or result.zh_seconds > CHINESE_BUDGET_S)
    print(f"{'English book (clean)':<{width}}  {result.seconds:6.1f} s")
    print(f"{'Chinese edition added':<{width}}  {result.zh_seconds:6.1f} s (budget {CHINESE_BUDGET_S:.0f} s)")
    print(f"{'whole clean build':<{width}}  {total:6.1f} s (budget {BUILD_BUDGET_S:.0f} s)")
    print("budgets exceeded" if over else "within budgets")
    return 3 if over else 0


if __name__ == "__main__":
    sys.exit(main())
