"""Durable jobs: no-op jobs enqueued and completed per second, beside huey
with its SQLite storage in the same run, and the latency from enqueue to
start of a `critical` job while 10,000 `low` jobs are queued.

Run: `python -m bench.bench_jobs [--quick]` (huey comes with `pip install
-e '.[bench]'`). Every tradedeck enqueue returns after its COMMIT and a job
counts as done once its completion is committed (the event is published
after the commit). huey runs with `fsync=True` (synchronous=FULL, as
tradedeck's store) and, for reference, with its default `fsync=False`
(synchronous=OFF: not durable); its consumer polls every millisecond.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.report import command_line
from config.models import Settings
from engine.engine import Engine
from engine.jobs import Handler, JobContext, NoArgs
from engine.models import Event, JobEvent, JobPriority, JobState

GOAL_RATIO = 2.0
GOAL_P95_MS = 50.0
PRODUCERS = 200
RUNNERS = 4


async def run(quick: bool = False) -> dict[str, Any]:
    jobs = 2_000 if quick else 10_000
    samples = 20 if quick else 100
    with tempfile.TemporaryDirectory(prefix="tradedeck-bench-jobs-") as folder:
        root = Path(folder)
        ours = await _tradedeck_throughput(root / "tradedeck.db", jobs)
        # huey's consumer sets signal handlers, which only the main thread may.
        huey_full = _huey_throughput(root / "huey-full.db", jobs, True)
        huey_off = _huey_throughput(root / "huey-off.db", jobs, False)
        latency = await _critical_latency(root / "latency.db", samples)
    return {
        "jobs": jobs,
        "runners": RUNNERS,
        "tradedeck_jobs_per_s": round(ours),
        "huey_sqlite_fsync_jobs_per_s": round(huey_full),
        "huey_sqlite_no_fsync_jobs_per_s": round(huey_off),
        "ratio_vs_huey_fsync": round(ours / huey_full, 2),
        "goal_ratio": GOAL_RATIO,
        "goal_ratio_met": ours / huey_full >= GOAL_RATIO,
        **latency,
        "goal_p95_ms": GOAL_P95_MS,
        "goal_p95_met": latency["critical_start_p95_ms"] < GOAL_P95_MS,
    }


async def _engine(path: Path, *handlers: Handler) -> Engine:
    settings = Settings()
    settings.jobs = settings.jobs.model_copy(update={"runners": RUNNERS})
    engine = await Engine.open(settings, path)
    for handler in handlers:
        engine.jobs.registry.register(handler)
    await engine.start(run_loops=False)
    return engine


async def _noop(ctx: JobContext, args: NoArgs) -> None:
    return None


async def _tradedeck_throughput(path: Path, jobs: int) -> float:
    engine = await _engine(path, Handler("noop", _noop, "does nothing"))
    done = asyncio.Event()
    completed = 0

    def count(event: Event) -> None:
        nonlocal completed
        if isinstance(event, JobEvent) and event.job.state is JobState.COMPLETED:
            completed += 1
            if completed == jobs:
                done.set()

    engine.bus.add_listener(count)

    async def produce(share: int) -> None:
        for _ in range(share):
            await engine.jobs.enqueue("noop")

    try:
        began = time.perf_counter()
        await asyncio.gather(*(produce(jobs // PRODUCERS) for _ in range(PRODUCERS)))
        await done.wait()
        return jobs / (time.perf_counter() - began)
    finally:
        await engine.close()


def _huey_throughput(path: Path, jobs: int, fsync: bool) -> float:
    from huey import SqliteHuey

    huey = SqliteHuey(filename=str(path), fsync=fsync)
    counter = itertools.count(1)
    done = threading.Event()

    @huey.task()
    def noop() -> None:
        if next(counter) == jobs:
            done.set()

    handlers = {
        sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    consumer = huey.create_consumer(
        workers=RUNNERS, worker_type="thread", periodic=False, initial_delay=0.001, max_delay=0.001
    )
    consumer.start()
    producers = 4

    def produce() -> None:
        for _ in range(jobs // producers):
            noop()

    try:
        began = time.perf_counter()
        threads = [threading.Thread(target=produce) for _ in range(producers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.wait(600)
        return jobs / (time.perf_counter() - began)
    finally:
        consumer.stop(graceful=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


class _Sample(BaseModel):
    n: int


async def _critical_latency(path: Path, samples: int) -> dict[str, Any]:
    """Enqueue 10,000 low jobs (2 ms each), then `samples` critical ones, 20 ms
    apart: the time from calling enqueue (its commit included) to the
    handler's first line."""
    started: dict[int, float] = {}
    arrived = asyncio.Event()

    async def low(ctx: JobContext, args: NoArgs) -> None:
        await asyncio.sleep(0.002)

    async def critical(ctx: JobContext, args: _Sample) -> None:
        started[args.n] = time.perf_counter()
        arrived.set()

    engine = await _engine(
        path,
        Handler("low", low, "2 ms of work"),
        Handler("critical", critical, "notes when it starts", _Sample),
    )
    try:
        await asyncio.gather(
            *(engine.jobs.enqueue("low", priority=JobPriority.LOW) for _ in range(10_000))
        )
        latencies = []
        for n in range(samples):
            began = time.perf_counter()
            await engine.jobs.enqueue("critical", {"n": n}, priority=JobPriority.CRITICAL)
            await arrived.wait()
            arrived.clear()
            latencies.append((started[n] - began) * 1000)
            await asyncio.sleep(0.02)
        queued = (await engine.jobs.stats()).queued[JobPriority.LOW]
    finally:
        await engine.close()
    latencies.sort()
    return {
        "critical_samples": samples,
        "low_still_queued_at_end": queued,
        "critical_start_p50_ms": round(statistics.median(latencies), 2),
        "critical_start_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "critical_start_max_ms": round(latencies[-1], 2),
    }


if __name__ == "__main__":
    command_line(run, __doc__)
