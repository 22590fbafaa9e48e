"""Small waits for tests that drive a real engine: conditions, never durations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Yield to the loop until `condition()` holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        # Polling is the point: the condition is engine state, not an event we own.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
