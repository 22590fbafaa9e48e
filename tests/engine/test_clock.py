"""The virtual clock fires sleepers in time order and never goes back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import VirtualClock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_sleepers_wake_in_time_order_at_their_time() -> None:
    clock = VirtualClock(T0)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 2), ("a", 1), ("c", 10))]
    await clock.advance(5)
    assert woke == [("a", T0 + timedelta(seconds=1)), ("b", T0 + timedelta(seconds=2))]
    assert clock.now() == T0 + timedelta(seconds=5)
    await clock.advance(5)
    assert woke[-1] == ("c", T0 + timedelta(seconds=10))
    await asyncio.gather(*tasks)


async def test_a_loop_of_sleeps_runs_once_per_period() -> None:
    clock = VirtualClock(T0)
    ticks: list[float] = []

    async def loop() -> None:
        while True:
            await clock.sleep(0.25)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(loop())
    await clock.advance(2)
    task.cancel()
    assert ticks == [0.25 * n for n in range(1, 9)]


async def test_cancelled_sleeper_is_skipped_and_time_cannot_go_back() -> None:
    clock = VirtualClock(T0)
    task = asyncio.create_task(clock.sleep(1))
    await asyncio.sleep(0)
    task.cancel()
    await clock.advance(2)
    assert task.cancelled()
    with pytest.raises(ValueError):
        await clock.advance(-1)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError):
        VirtualClock(datetime(2026, 1, 1))
