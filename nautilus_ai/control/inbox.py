"""The hand-over from the listener thread to the strategy's thread.

The listener ``put``s accepted commands; the owner of the strategy ``drain``s them on its own
thread. ``wakeup`` is called (from the putting thread) only when the inbox goes from empty to
non-empty, so a burst of commands schedules one drain, not one per command; in a live node it is
``loop.call_soon_threadsafe(drain)``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from nautilus_ai.control.gate import Accepted

__all__ = ["CommandInbox", "InboxFullError"]


class InboxFullError(RuntimeError):
    """The inbox holds ``capacity`` undrained commands (the strategy's thread is stuck)."""


class CommandInbox:
    """A bounded, thread-safe queue of accepted commands with a coalesced wake-up.

    Parameters
    ----------
    capacity : int
        Most undrained commands; ``put`` beyond it raises :class:`InboxFullError`.
    wakeup : Callable[[], object], optional
        Called when the inbox becomes non-empty; may be set later with :meth:`set_wakeup`.
    """

    def __init__(self, capacity: int = 10_000, wakeup: Callable[[], object] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, was {capacity!r}")
        self._capacity = capacity
        self._items: deque[Accepted] = deque()
        self._lock = threading.Lock()
        self._wakeup = wakeup
        self._armed = True  # a wake-up is due on the next put

    def __len__(self) -> int:
        return len(self._items)

    def set_wakeup(self, wakeup: Callable[[], object] | None) -> None:
        """Install (or remove) the wake-up; call it at once if items are already waiting."""
        with self._lock:
            self._wakeup = wakeup
            self._armed = True
            due = wakeup is not None and bool(self._items)
            if due:
                self._armed = False
        if due and wakeup is not None:
            self._call(wakeup)

    def put(self, item: Accepted) -> None:
        """Queue ``item``; call the wake-up if this is the first undrained item."""
        with self._lock:
            if len(self._items) >= self._capacity:
                raise InboxFullError(
                    f"control inbox holds {self._capacity} undrained commands; the strategy's "
                    "thread is not draining it"
                )
            self._items.append(item)
            wakeup = self._wakeup if self._armed else None
            if wakeup is not None:
                self._armed = False
        if wakeup is not None:
            self._call(wakeup)

    def _call(self, wakeup: Callable[[], object]) -> None:
        try:
            wakeup()
        except BaseException:
            with self._lock:  # the drain was not scheduled: let the next put try again
                self._armed = True
            raise

    def drain(self) -> list[Accepted]:
        """Take every queued item (oldest first) and re-arm the wake-up."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._armed = True
        return items
