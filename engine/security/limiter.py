"""Fixed-window request counters that survive a restart.

Counting happens in memory (a request must not wait for a disk write); the
counters that changed are written to SQLite in one batch shortly after, and
on close. On open the current window's counters are read back, so restarting
the server does not hand a client a fresh allowance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import datetime

from engine.clock import Clock
from engine.security.models import RateDecision
from storage.security import CounterRow, SecurityStore

log = logging.getLogger("tradedeck.security")

# How long changed counters may wait before they are written together.
FLUSH_DELAY_SECONDS = 0.25


class Limiter:
    def __init__(self, store: SecurityStore, clock: Clock, window_seconds: int) -> None:
        self._store = store
        self._clock = clock
        self.window_seconds = window_seconds
        # (subject, group) -> [window start (epoch s), count]
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Future[None] | None = None

    async def load(self) -> None:
        """Read back the current window's counters and drop older ones."""
        start = self._window_start(self._clock.now())
        for row in await self._store.counters(since=start):
            self._counts[(row.subject, row.group)] = [row.window_start, row.count]
        await self._store.prune_counters(before=start)

    def hit(self, subject: str, group: str, limit: int) -> RateDecision:
        """Count one request and say whether it is within `limit`.

        A refused request is not counted, so a client that waits for
        `Retry-After` is served when the window turns."""
        now = self._clock.now()
        counter = self._current(subject, group, now)
        allowed = counter[1] < limit
        if allowed:
            counter[1] += 1
            self._dirty.add((subject, group))
            self._schedule_flush()
        return self._decision(counter, limit, now, allowed)

    def peek(self, subject: str, group: str, limit: int) -> RateDecision:
        """Whether one more request would be allowed, without counting it."""
        now = self._clock.now()
        counter = self._current(subject, group, now)
        return self._decision(counter, limit, now, counter[1] < limit)

    async def flush(self) -> None:
        """Write every changed counter now; return once committed."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        if self._dirty:
            self._start_flush()
        if self._flushing is not None:
            await self._flushing

    # --- internals -----------------------------------------------------------

    def _current(self, subject: str, group: str, now: datetime) -> list[int]:
        start = self._window_start(now)
        counter = self._counts.get((subject, group))
        if counter is None or counter[0] != start:
            counter = [start, 0]
            self._counts[(subject, group)] = counter
        return counter

    def _window_start(self, now: datetime) -> int:
        seconds = int(now.timestamp())
        return seconds - seconds % self.window_seconds

    def _decision(
        self, counter: list[int], limit: int, now: datetime, allowed: bool
    ) -> RateDecision:
        reset = max(1, math.ceil(counter[0] + self.window_seconds - now.timestamp()))
        return RateDecision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - counter[1]),
            reset=reset,
            retry_after=0 if allowed else reset,
        )

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and self._flushing is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(FLUSH_DELAY_SECONDS, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_handle = None
        rows = [
            CounterRow(subject, group, *self._counts[(subject, group)])
            for subject, group in self._dirty
            if (subject, group) in self._counts
        ]
        self._dirty.clear()
        self._forget_old()
        self._flushing = self._store.save_counters(rows)
        self._flushing.add_done_callback(self._flushed)

    def _flushed(self, future: asyncio.Future[None]) -> None:
        self._flushing = None
        if not future.cancelled() and future.exception() is not None:
            log.warning("rate-limit counters were not saved: %s", future.exception())
        if self._dirty:
            self._schedule_flush()

    def _forget_old(self) -> None:
        """Counters of past windows are useless; keep memory to the current one."""
        start = self._window_start(self._clock.now())
        for key in [k for k, (window, _) in self._counts.items() if window < start]:
            del self._counts[key]
