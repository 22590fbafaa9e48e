"""A job's time limit, measured on the engine's clock.

`asyncio.timeout` measures loop time, which is wall time; under a
`VirtualClock` a job must time out when virtual time says so. The deadline
is still an `asyncio.timeout` scope (so it cancels the job the standard way
and raises `TimeoutError`), but a watcher sleeping on the engine clock is what
expires it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from engine.clock import Clock, RealClock


@contextlib.asynccontextmanager
async def deadline(clock: Clock, seconds: float | None) -> AsyncIterator[None]:
    """Raise `TimeoutError` in the body once `seconds` pass on `clock` (never if None)."""
    if seconds is None:
        yield
        return
    if isinstance(clock, RealClock):
        # The loop's own clock is the wall clock: no watcher needed.
        async with asyncio.timeout(seconds):
            yield
        return
    async with asyncio.timeout(None) as scope:
        loop = asyncio.get_running_loop()

        async def expire() -> None:
            await clock.sleep(seconds)
            scope.reschedule(loop.time())

        watcher = asyncio.create_task(expire(), name="job-deadline")
        try:
            yield
        finally:
            watcher.cancel()
