"""Progress of a batch: a tqdm bar on a terminal; in a pipe or a log, a line every few students."""

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
    """Counts finished students; shows a bar on a terminal, else prints a line every `every` students."""

    def __init__(self, total: int, stream: TextIO, every: int = 5) -> None:
        """Start at zero of `total`, writing to `stream`."""
        self.total, self.done, self.stream, self.every = total, 0, stream, max(1, every)
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.bar: tqdm | None = None
        if stream.isatty() and total:
            self.bar = tqdm(total=total, file=stream, unit="student", dynamic_ncols=True, leave=True)

    def step(self, label: str) -> None:
        """One more student finished (`label` names it on the bar)."""
        with self.lock:
            self.done += 1
            if self.bar is not None:
                self.bar.set_postfix_str(label[:30], refresh=False)
                self.bar.update(1)
            elif self.done % self.every == 0 or self.done == self.total:
                print(progress_line(self.done, self.total, time.monotonic() - self.started), file=self.stream,
                      flush=True)

    def close(self) -> None:
        """Finish the bar (the terminal line is left in place)."""
        with self.lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
