"""The one supervisor of background tasks every service uses."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from engine.tasks import TaskSet, backoff


async def test_a_task_is_named_by_its_service_and_kept_until_it_ends() -> None:
    tasks = TaskSet("risk")
    release = asyncio.Event()
    task = tasks.spawn(release.wait(), "flatten:L1")
    assert task.get_name() == "risk:flatten:L1"
    assert len(tasks) == 1 and list(tasks) == [task]
    release.set()
    await task
    await asyncio.sleep(0)  # the done callback runs on the next turn
    assert len(tasks) == 0


async def test_a_task_that_dies_is_reported_once_to_the_owner() -> None:
    failures: list[tuple[str, BaseException]] = []
    tasks = TaskSet("account-001", lambda task, error: failures.append((task.get_name(), error)))

    async def boom() -> None:
        raise RuntimeError("broker gone")

    task = tasks.spawn(boom(), "orders")
    await asyncio.wait([task])
    await asyncio.sleep(0)
    assert [(name, str(error)) for name, error in failures] == [
        ("account-001:orders", "broker gone")
    ]
    assert len(tasks) == 0


async def test_without_an_owner_a_dead_task_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = TaskSet("engine", logger=logging.getLogger("tradedeck.test"), level=logging.ERROR)

    async def boom() -> None:
        raise ValueError("bad quote")

    with caplog.at_level(logging.ERROR, logger="tradedeck.test"):
        await asyncio.wait([tasks.spawn(boom(), "market")])
        await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records] == ["task engine:market died"]
    assert caplog.records[0].exc_info is not None


async def test_stop_cancels_every_task_and_waits_for_them() -> None:
    tasks = TaskSet("jobs")
    cleaned: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(name)

    spawned = [tasks.spawn(forever(f"runner-{n}"), f"runner-{n}") for n in (1, 2)]
    await asyncio.sleep(0)
    await tasks.stop()
    assert all(t.cancelled() for t in spawned)
    assert sorted(cleaned) == ["runner-1", "runner-2"]
    assert len(tasks) == 0
    await tasks.stop()  # stopping again is harmless


async def test_stop_gives_up_waiting_after_the_deadline() -> None:
    tasks = TaskSet("account-002")
    stuck = asyncio.Event()

    async def ignores_cancel() -> None:
        while True:
            try:
                await stuck.wait()
                return
            except asyncio.CancelledError:
                continue  # a broker call that will not be interrupted

    task = tasks.spawn(ignores_cancel(), "quotes")
    await asyncio.sleep(0)
    await tasks.stop(timeout=0.05)
    assert not task.done() and len(tasks) == 0
    stuck.set()
    await task


async def test_a_cancelled_task_is_not_a_failure() -> None:
    failures: list[BaseException] = []
    tasks = TaskSet("engine", lambda _task, error: failures.append(error))
    task = tasks.spawn(asyncio.sleep(60), "mark")
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task])
    await asyncio.sleep(0)
    assert failures == [] and len(tasks) == 0


def test_backoff_doubles_up_to_the_ceiling_with_bounded_jitter() -> None:
    rng = random.Random(7)
    waits = [backoff(n, 1.0, 30.0, 0.0, rng) for n in range(1, 8)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    jittered = [backoff(3, 1.0, 30.0, 0.25, rng) for _ in range(200)]
    assert all(4.0 <= w <= 5.0 for w in jittered)
    assert len(set(jittered)) > 100  # spread out, not one value


def test_backoff_is_deterministic_for_a_seed() -> None:
    first = [backoff(n, 0.5, 60, 0.25, random.Random(42)) for n in range(1, 6)]
    again = [backoff(n, 0.5, 60, 0.25, random.Random(42)) for n in range(1, 6)]
    assert first == again
