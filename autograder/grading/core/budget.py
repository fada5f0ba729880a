"""A cap on the sandboxed workers alive across several pools (the service's, one per assignment).

`serve --workers N` grades N submissions at once. Each assignment has its own pool of warm workers, so
without a shared cap every assignment would keep up to N sandboxes (a torch process each) warm: four
assignments, 4N. With one `Budget(N)`, a pool that needs a new worker while N are alive first stops
the idle worker of the assignment used least recently; the active assignment's workers stay warm.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from autograder.grading.core.starting import Slot, stop_slot


class Holder(Protocol):
    """What the budget asks of a pool: when it was last used, and one of its idle workers to give up."""

    last_used: float

    def give_up_idle(self) -> Slot | None:
        """Remove and return an idle slot (its worker still running), or None when none is idle."""


class Budget:
    """At most `cap` workers alive in all the pools sharing it (a momentary excess when every one is busy)."""

    def __init__(self, cap: int) -> None:
        """`cap`: how many workers may be alive at once (at least 1)."""
        self.cap = max(1, cap)
        self.alive = 0
        self.holders: list[Holder] = []
        self._lock = threading.Lock()

    def join(self, holder: Holder, alive: int = 0) -> None:
        """Share this budget with one more pool, which has `alive` workers already."""
        with self._lock:
            self.holders.append(holder)
            self.alive += alive

    def admit(self, holder: Holder) -> None:
        """Count one more worker of `holder`; at the cap, first stop the least recently used other pool's idle one
        (in the background: the new worker starts meanwhile)."""
        with self._lock:
            holder.last_used = time.monotonic()
            if self.alive >= self.cap:
                for other in sorted((h for h in self.holders if h is not holder), key=lambda h: h.last_used):
                    slot = other.give_up_idle()
                    if slot is not None:
                        self.alive -= 1
                        threading.Thread(target=stop_slot, args=(slot,), name=f"grading-evict-{slot.index}",
                                         daemon=True).start()
                        break
            self.alive += 1

    def release(self, count: int = 1) -> None:
        """`count` workers of some pool are gone for good (stopped when it closed)."""
        with self._lock:
            self.alive = max(0, self.alive - count)
