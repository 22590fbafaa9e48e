"""Jobs for the panel's jobs tests: real handlers registered on the engine's
registry (one that holds until cancelled, one that fails until told not to),
and waits on the engine's own record of a job."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from engine.engine import Engine
from engine.jobs import Handler, JobContext
from engine.models import Job, JobPriority, JobState

HOLD = "tui_hold"
FLAKY = "tui_flaky"


class FlakyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = ""


class Flaky:
    """Fails while `failing` is set; then succeeds with the label it was given."""

    def __init__(self) -> None:
        self.failing = True

    async def __call__(self, ctx: JobContext, args: FlakyArgs) -> dict[str, str]:
        if self.failing:
            raise RuntimeError(f"broker unreachable for {args.label}")
        return {"label": args.label}


async def _hold(ctx: JobContext, args: FlakyArgs) -> None:
    """Reports 40 %, then waits at a checkpoint until cancelled."""
    await ctx.progress(40, "halfway there")
    while True:
        await asyncio.sleep(0.02)
        ctx.checkpoint()


def register(engine: Engine) -> Flaky:
    flaky = Flaky()
    engine.jobs.registry.register(Handler(HOLD, _hold, "holds until cancelled", FlakyArgs))
    engine.jobs.registry.register(
        Handler(FLAKY, flaky, "fails until told not to", FlakyArgs, max_retries=0)
    )
    return flaky


async def until_state(engine: Engine, job_id: int, *states: JobState) -> Job:
    async with asyncio.timeout(10):
        # Polling is the point: the job's state is the engine's, not an event we own.
        while (job := await engine.jobs.get(job_id)).state not in states:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return job


async def dead_job(engine: Engine, label: str = "account-001") -> Job:
    job, _ = await engine.jobs.enqueue(FLAKY, {"label": label})
    return await until_state(engine, job.id, JobState.DEAD)


async def running_job(engine: Engine) -> Job:
    job, _ = await engine.jobs.enqueue(HOLD, {"label": "hold"})
    async with asyncio.timeout(10):
        while (job := await engine.jobs.get(job.id)).progress < 40:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return job


async def later_jobs(engine: Engine, **counts: int) -> list[Job]:
    """Jobs queued to run in an hour, `counts` of each priority (they wait)."""
    at = engine.clock.now() + timedelta(hours=1)
    jobs = []
    for priority, count in counts.items():
        for n in range(count):
            job, _ = await engine.jobs.enqueue(
                FLAKY, {"label": f"{priority}-{n}"}, priority=JobPriority(priority), run_at=at
            )
            jobs.append(job)
    return jobs
