"""Fixed-window request counters that survive a restart.

Each counter has its own window length, given with every hit (a minute for
an endpoint group, an hour for a key's hourly allowance); its group name
tells them apart. Counting happens in memory (a request must not wait for a disk write); the
counters that changed are written to SQLite in one batch shortly after, and
on close. On open the current window's counters are read back, so restarting
the server does not hand a client a fresh allowance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from datetime import datetime

from engine.clock import Clock
from engine.security.models import RateDecision
from storage.security import CounterRow, SecurityStore

log = logging.getLogger("tradedeck.security")

# How long changed counters may wait before they are written together.
FLUSH_DELAY_SECONDS = 0.25


class Limiter:
    def __init__(self, store: SecurityStore, clock: Clock, window_seconds: int) -> None:
        """`window_seconds`: the default window, and the shortest kept."""
        self._store = store
        self._clock = clock
        self.window_seconds = window_seconds
        self.longest = window_seconds  # counters older than this window are forgotten
        # (subject, group) -> [window start (epoch s), count, window (s)]
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Future[None] | None = None

    async def load(self, longest: int | None = None) -> None:
        """Read back the counters of the current windows (up to `longest`
        seconds old) and drop older ones. A counter read back is the current
        one of its group only if its window started when the group's current
        window did, so reading a few past windows too is harmless."""
        self.longest = max(self.window_seconds, longest or 0)
        start = _start(self._clock.now(), self.longest)
        for row in await self._store.counters(since=start):
            self._counts[(row.subject, row.group)] = [row.window_start, row.count, 0]
        await self._store.prune_counters(before=start)

    def hit(self, subject: str, group: str, limit: int) -> RateDecision:
        """Count one request and say whether it is within `limit` per the
        default window. A refused request is not counted, so a client that
        waits for `Retry-After` is served when the window turns."""
        return self.hit_all(subject, [(group, limit, self.window_seconds)])

    def peek(self, subject: str, group: str, limit: int) -> RateDecision:
        """Whether one more request would be allowed, without counting it."""
        now = self._clock.now()
        counter = self._current(subject, group, now, self.window_seconds)
        return self._decision(counter, limit, now, counter[1] < limit)

    def hit_all(self, subject: str, checks: Sequence[tuple[str, int, int]]) -> RateDecision:
        """One request against several limits at once, `(group, limit, window)`
        each: refused (and counted in none) if any is spent, else counted in
        all; the decision of the tightest (the refusal that lasts longest, or
        the limit with the least left)."""
        now = self._clock.now()
        counters = [self._current(subject, group, now, window) for group, _, window in checks]
        spent = [
            (counter, limit)
            for counter, (_, limit, _) in zip(counters, checks, strict=True)
            if counter[1] >= limit
        ]
        if spent:
            counter, limit = max(spent, key=lambda c: c[0][0] + c[0][2])
            return self._decision(counter, limit, now, False)
        for counter, (group, _, _) in zip(counters, checks, strict=True):
            counter[1] += 1
            self._dirty.add((subject, group))
        self._schedule_flush()
        tightest, limit = min(
            zip(counters, (c[1] for c in checks), strict=True), key=lambda c: c[1] - c[0][1]
        )
        return self._decision(tightest, limit, now, True)

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

    def _current(self, subject: str, group: str, now: datetime, window: int) -> list[int]:
        start = _start(now, window)
        counter = self._counts.get((subject, group))
        if counter is None or counter[0] != start:
            counter = [start, 0, window]
            self._counts[(subject, group)] = counter
        counter[2] = window
        return counter

    def _decision(
        self, counter: list[int], limit: int, now: datetime, allowed: bool
    ) -> RateDecision:
        ends = counter[0] + counter[2]
        wait = max(1, math.ceil(ends - now.timestamp()))
        return RateDecision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - counter[1]),
            reset=ends,
            retry_after=0 if allowed else wait,
            window=counter[2],
        )

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and self._flushing is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(FLUSH_DELAY_SECONDS, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_handle = None
        rows = [
            CounterRow(subject, group, *self._counts[(subject, group)][:2])
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
        """Counters of past windows are useless; keep memory to the current ones."""
        now = self._clock.now()
        for key in [
            k
            for k, (start, _, window) in self._counts.items()
            if start < _start(now, window or self.longest)
        ]:
            del self._counts[key]


def _start(now: datetime, window: int) -> int:
    seconds = int(now.timestamp())
    return seconds - seconds % window
