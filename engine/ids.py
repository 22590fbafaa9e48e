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
