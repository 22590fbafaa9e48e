"""APScheduler 3's `AsyncIOScheduler`, on the engine's clock.

APScheduler 3 reads the time as `datetime.now(tz)` and waits with the loop's
`call_later`, both wall time. Under a `VirtualClock` schedules must fire
when virtual time says so, so three things change and nothing else:

- `_process_jobs` (one synchronous pass over the due jobs) runs with the
  scheduler module's `datetime` answering `now()` from the engine clock; no
  other code can run during a synchronous call, so nothing else sees it.
- the wake-up timer sleeps on the engine clock instead of `call_later`.
- the executor judges a misfire (`misfire_grace_time`) on the engine clock
  and passes each job its scheduled run time.

Everything else (triggers, the memory job store, coalescing, max instances,
events) is the library's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import apscheduler.schedulers.base as scheduler_base
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job as SchedulerJob
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from engine.clock import Clock
from engine.tasks import TaskSet

log = logging.getLogger("tradedeck.jobs")


class ClockScheduler(AsyncIOScheduler):
    """An `AsyncIOScheduler` whose time is `clock`'s. Each job's function is
    called as `func(*args, run_time)` with the time it was scheduled for."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        super().__init__(timezone=UTC, **options)
        self.clock = clock
        self._datetime = _clock_datetime(clock)
        self._timer: asyncio.Task[None] | None = None

    def _process_jobs(self) -> float | None:
        with _now_from(self._datetime):
            wait: float | None = super()._process_jobs()
        return wait

    def _start_timer(self, wait_seconds: float | None) -> None:
        self._stop_timer()
        if wait_seconds is not None:
            self._timer = self._eventloop.create_task(
                self._wake_after(wait_seconds), name="jobs:scheduler"
            )

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _wake_after(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        self._timer = None
        self.wakeup()

    def _create_default_executor(self) -> BaseExecutor:
        return _ClockExecutor(self.clock)


class _ClockExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs a job's coroutine function on the loop for each run time that is
    within the job's `misfire_grace_time` on the engine clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock
        self._tasks = TaskSet("jobs", logger=log)

    def shutdown(self, wait: bool = True) -> None:
        self._tasks.cancel_all()

    def _do_submit_job(self, job: SchedulerJob, run_times: list[datetime]) -> None:
        self._tasks.spawn(self._run(job, run_times), f"schedule:{job.id}")

    async def _run(self, job: SchedulerJob, run_times: list[datetime]) -> None:
        events = []
        for run_time in run_times:
            late = self._clock.now() - run_time
            grace = job.misfire_grace_time
            if grace is not None and late > timedelta(seconds=grace):
                log.warning("schedule %s skipped its run at %s: %s late", job.id, run_time, late)
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, "default", run_time))
                continue
            try:
                await job.func(*job.args, run_time)
            except Exception as error:
                log.exception("schedule %s failed to enqueue its job", job.id)
                events.append(
                    JobExecutionEvent(EVENT_JOB_ERROR, job.id, "default", run_time, exception=error)
                )
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, "default", run_time))
        self._run_job_success(job.id, events)


def _clock_datetime(clock: Clock) -> type[datetime]:
    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            now = clock.now()
            return now.astimezone(tz) if tz is not None else now

    return ClockDatetime


@contextlib.contextmanager
def _now_from(clock_datetime: type[datetime]) -> Iterator[None]:
    original = scheduler_base.datetime  # type: ignore[attr-defined]
    scheduler_base.datetime = clock_datetime  # type: ignore[attr-defined]
    try:
        yield
    finally:
        scheduler_base.datetime = original  # type: ignore[attr-defined]
