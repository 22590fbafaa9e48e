"""Time, injected: `RealClock` in production, `VirtualClock` in tests and
deterministic demos. Everything in the engine that waits or stamps a time goes
through a `Clock`, so hours of trading can run in a test in seconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC wall time."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that moves only when told to.

    `sleep` parks the caller on a timer heap; `advance` fires the timers in
    time order, letting the woken tasks run (`settle`) before moving on, so
    code under test sees the same sequence of wake-ups it would in real time.
    """

    def __init__(self, start: datetime | None = None, *, settle_rounds: int = 8) -> None:
        self._start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start time")
        self._offset = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()
        self._settle_rounds = settle_rounds

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return self._offset

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._offset + seconds, next(self._counter), future))
        await future

    @property
    def pending_timers(self) -> int:
        return sum(1 for _, _, f in self._timers if not f.done())

    async def settle(self) -> None:
        """Let every task that can run, run, without moving time."""
        for _ in range(self._settle_rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing every timer due on the way."""
        if seconds < 0:
            raise ValueError("time never goes back")
        target = self._offset + seconds
        await self.settle()
        while self._timers and self._timers[0][0] <= target:
            wake, _, future = heapq.heappop(self._timers)
            if future.done():  # the sleeper was cancelled
                continue
            self._offset = max(self._offset, wake)
            future.set_result(None)
            await self.settle()
        self._offset = target
        await self.settle()

    async def advance_to(self, when: datetime) -> None:
        await self.advance(max(0.0, (when - self.now()).total_seconds()))
