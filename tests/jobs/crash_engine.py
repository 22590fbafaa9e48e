"""The engine headless on the real clock with a `crash_tick` handler that
records each of its runs in its own committed row (job 1 holds its runner
until the process dies, so one job is surely running then), for the kill -9 test:
`python -m tests.jobs.crash_engine DB [--enqueue N]`. Prints `ready` once
the jobs are enqueued (each acknowledged after its commit), runs until
SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from pydantic import BaseModel

from config.loader import load_settings
from engine.engine import Engine
from engine.jobs import Handler, JobContext
from engine.models import JobPriority


class Tick(BaseModel):
    n: int
    hold: bool = False  # on its first attempt, run until the process dies


async def main(db: Path, enqueue: int) -> None:
    settings = load_settings(None, env={})
    settings.jobs = settings.jobs.model_copy(
        update={"schedules": [], "runners": 4, "lease_seconds": 1.0}
    )
    engine = await Engine.open(settings, db)
    writer = engine.store.db.writer

    async def tick(ctx: JobContext, args: Tick) -> int:
        await writer.submit([("INSERT INTO crash_runs (job_id) VALUES (?)", (ctx.job.id,))])
        await asyncio.sleep(60 if args.hold and ctx.job.attempts == 1 else 0.005)
        return args.n

    engine.jobs.registry.register(Handler("crash_tick", tick, "records its run", Tick))
    await writer.submit([("CREATE TABLE IF NOT EXISTS crash_runs (job_id INTEGER NOT NULL)", ())])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await engine.start()
    if enqueue:
        await engine.jobs.enqueue("crash_tick", {"n": 0, "hold": True}, priority=JobPriority.HIGH)
    await asyncio.gather(*(engine.jobs.enqueue("crash_tick", {"n": n}) for n in range(1, enqueue)))
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        await engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--enqueue", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.enqueue))
