"""Progress of a batch: a tqdm bar on a terminal; in a pipe or a log, a line per student, at most one a second."""

from __future__ import annotations

import threading
import time
from typing import TextIO

from tqdm import tqdm


def _duration(seconds: float) -> str:
    """'1 h 02 min', '3 min 05 s' or '42 s'."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def progress_line(done: int, total: int, elapsed: float) -> str:
    """One log line: how many are graded, the rate, and the estimated time left."""
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = _duration((total - done) / rate) if rate > 0 else "unknown"
    return f"graded {done}/{total} ({rate:.2f} students/s, ETA {eta})"


class Progress:
    """Counts finished students; a bar on a terminal, else a line per student (at most one per `interval` s).

    The last student always gets its line, so a log ends with the count; `every` (tests, scripts) prints
    exactly every `every` students instead.
    """

    def __init__(self, total: int, stream: TextIO, every: int | None = None, interval: float = 1.0) -> None:
        """Start at zero of `total`, writing to `stream`."""
        self.total, self.done, self.stream = total, 0, stream
        self.every, self.interval = (max(1, every) if every else None), interval
        self.started = time.monotonic()
        self.last = -float("inf")  # when the last line was printed: the first student always gets one
        self.lock = threading.Lock()
        self.bar: tqdm | None = None
        if stream.isatty() and total:
            self.bar = tqdm(total=total, file=stream, unit="student", dynamic_ncols=True, leave=True)

    def _due(self, now: float) -> bool:
        """Whether the student just counted gets a line."""
        if self.done == self.total:
            return True
        if self.every is not None:
            return self.done % self.every == 0
        return now - self.last >= self.interval

    def step(self, label: str) -> None:
        """One more student finished (`label` names it on the bar)."""
        with self.lock:
            self.done += 1
            if self.bar is not None:
                self.bar.set_postfix_str(label[:30], refresh=False)
                self.bar.update(1)
                return
            now = time.monotonic()
            if self._due(now):
                self.last = now
                print(progress_line(self.done, self.total, now - self.started), file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar (the terminal line is left in place)."""
        with self.lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
