"""Monotonic id sequences, seeded from the store at start so ids never repeat
across restarts (tickets, signal and alert ids)."""

from __future__ import annotations


class IdSequence:
    def __init__(self, last: int = 0) -> None:
        self._last = last

    def __call__(self) -> int:
        self._last += 1
        return self._last

    @property
    def last(self) -> int:
        return self._last

    def advance_to(self, last: int) -> None:
        """Continue after `last` (the highest id stored), never going back."""
        self._last = max(self._last, last)
