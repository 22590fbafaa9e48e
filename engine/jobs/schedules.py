"""Schedules: named interval or cron rules that enqueue a job.

Definitions and their enabled state live in the `schedules` table; at start
they are rebuilt into an in-memory APScheduler (`ClockScheduler`), which
only decides *when*. A firing only enqueues into the durable queue, with the
dedup key `schedule:<name>`, so a schedule never stacks jobs behind a slow or
stuck run of its own.

Two settings are deliberate:

- `coalesce=True`: runs missed while the engine was down or the loop stalled
  become one run. Every built-in handler works from the state at the time it
  runs, so ten queued copies would do the same work ten times.
- `misfire_grace_time` = the schedule's `misfire_grace_seconds` (an hour by
  default), not the library's 1 s, which drops a run after any stall (a busy
  loop, a suspended laptop). A run later than the grace is skipped rather
  than run out of its time: a daily report made eight hours late would
  describe the wrong day.

The last run time is stored, so a restart resumes the rule where it was
(missed runs come due at once, coalesced, within the grace).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.commit import after_commit
from engine.errors import Conflict, InvalidRequest, NotFound
from engine.jobs.clock_scheduler import ClockScheduler
from engine.jobs.context import JobServices
from engine.jobs.registry import HandlerRegistry
from engine.models import Job, JobPriority, Schedule, ScheduleEvent, ScheduleKind

log = logging.getLogger("tradedeck.jobs")

_MAX_INSTANCES = 3  # a firing only enqueues; more than this at once means a stall


class ScheduleNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"No schedule named {name!r}.", name=name)


class Queue(Protocol):
    """`engine.jobs.service.JobService`: what a schedule's firing needs of the queue."""

    registry: HandlerRegistry

    async def enqueue(
        self,
        handler: str,
        args: Mapping[str, Any] | None = None,
        *,
        priority: JobPriority | None = None,
        max_retries: int | None = None,
        timeout_seconds: float | None = None,
        dedup_key: str | None = None,
        run_at: datetime | None = None,
        schedule: str | None = None,
    ) -> tuple[Job, bool]: ...


class ScheduleService:
    """`engine.jobs.schedules`: list, create or replace, delete, enable,
    disable, run now."""

    def __init__(self, jobs: Queue, services: JobServices) -> None:
        self._jobs = jobs
        self._services = services
        self._store = services.store
        self._clock = services.clock
        self._schedules: dict[str, Schedule] = {}
        self._scheduler: ClockScheduler | None = None

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Write the configured defaults on the first start, then load every
        schedule and start the scheduler inside the running loop."""
        if not await self._store.schedules.any():
            await self._seed()
        self._scheduler = ClockScheduler(self._clock)
        self._scheduler.start()
        for schedule in await self._store.schedules.list():
            if schedule.handler not in self._jobs.registry:
                log.error(
                    "schedule %s names an unknown handler %s", schedule.name, schedule.handler
                )
            self._schedules[schedule.name] = schedule
            self._plan(schedule, catch_up=True)

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None

    # --- reading ---------------------------------------------------------------

    def list(self) -> list[Schedule]:
        return [self._with_next(s) for s in sorted(self._schedules.values(), key=_name)]

    def get(self, name: str) -> Schedule:
        schedule = self._schedules.get(name)
        if schedule is None:
            raise ScheduleNotFound(name)
        return self._with_next(schedule)

    # --- commands --------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the scheduler is firing rules (between `start` and `stop`)."""
        return self._scheduler is not None and bool(self._scheduler.running)

    async def put(
        self,
        name: str,
        handler: str,
        args: dict[str, Any] | None = None,
        *,
        every_seconds: float | None = None,
        cron: str | None = None,
        priority: JobPriority = JobPriority.NORMAL,
        enabled: bool = True,
        misfire_grace_seconds: int = 3600,
        max_retries: int | None = None,
        timeout_seconds: float | None = None,
    ) -> tuple[Schedule, bool]:
        """Create a schedule, or replace the one with the same name; the schedule
        and whether it is new. The handler and its arguments are validated as an
        enqueue would (`InvalidRequest`, `ValidationFailed`)."""
        _, parsed = self._jobs.registry.validate(handler, args)
        if (every_seconds is None) == (cron is None):
            raise InvalidRequest(
                "A schedule needs exactly one rule: every_seconds (interval) or cron.", name=name
            )
        if cron is not None:
            _cron_trigger(cron)
        now = self._clock.now()
        previous = self._schedules.get(name)
        schedule = Schedule(
            name=name,
            handler=handler,
            args=parsed.model_dump(mode="json"),
            priority=priority,
            kind=ScheduleKind.CRON if cron is not None else ScheduleKind.INTERVAL,
            every_seconds=every_seconds,
            cron=cron,
            enabled=enabled,
            misfire_grace_seconds=misfire_grace_seconds,
            max_retries=max_retries,
            timeout_seconds=timeout_seconds,
            created_at=previous.created_at if previous else now,
            updated_at=now,
            run_count=previous.run_count if previous else 0,
        )
        await self._save(schedule)
        return self.get(name), previous is None

    async def delete(self, name: str) -> None:
        schedule = self.get(name)
        del self._schedules[name]
        self._unplan(name)
        future = self._store.schedules.delete(name)
        after_commit(
            future,
            lambda: self._services.bus.publish(
                ScheduleEvent(time=self._clock.now(), schedule=schedule, deleted=True)
            ),
        )
        await future

    async def enable(self, name: str) -> Schedule:
        return await self._set_enabled(name, True)

    async def disable(self, name: str) -> Schedule:
        return await self._set_enabled(name, False)

    async def run_now(self, name: str) -> tuple[Job, bool]:
        """Enqueue the schedule's job at once (enabled or not), leaving its
        rule as it is; an active job of the schedule is returned instead."""
        return await self._enqueue(self.get(name))

    # --- internals -------------------------------------------------------------

    async def _seed(self) -> None:
        for config in self._services.settings.jobs.schedules:
            try:
                await self.put(
                    config.name,
                    config.handler,
                    config.args,
                    every_seconds=config.every_seconds,
                    cron=config.cron,
                    priority=JobPriority(config.priority),
                    enabled=config.enabled,
                    misfire_grace_seconds=config.misfire_grace_seconds,
                )
            except (InvalidRequest, ValueError) as error:
                log.error("default schedule %s not created: %s", config.name, error)
        await self._store.schedules.mark_seeded()

    async def _set_enabled(self, name: str, enabled: bool) -> Schedule:
        schedule = self.get(name)
        if schedule.enabled is enabled:
            raise Conflict(
                f"Schedule {name!r} is already {'enabled' if enabled else 'disabled'}.", name=name
            )
        await self._save(
            schedule.model_copy(update={"enabled": enabled, "updated_at": self._clock.now()})
        )
        return self.get(name)

    async def _save(self, schedule: Schedule) -> None:
        stored = schedule.model_copy(update={"next_run_at": None})
        await self._store.schedules.save(stored)
        self._schedules[schedule.name] = stored
        self._plan(stored)
        self._publish(stored)

    def _plan(self, schedule: Schedule, *, catch_up: bool = False) -> None:
        """(Re)build the schedule's rule in the scheduler; paused while disabled.

        With `catch_up` (at start) the rule resumes from its last run, so runs
        missed meanwhile come due (coalesced, within the grace); otherwise (a
        new, changed or re-enabled rule) its first run is the next one after now."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        self._unplan(schedule.name)
        trigger = _trigger(schedule)
        now = self._clock.now()
        if catch_up:
            # From the last run, or from when the rule was set if it never ran.
            last = schedule.last_run_at
            first = trigger.get_next_fire_time(last, now if last else schedule.updated_at)
        else:
            first = trigger.get_next_fire_time(None, now)
            if first is not None and first <= now:
                first = trigger.get_next_fire_time(first, now)
        scheduler.add_job(
            self._fire,
            trigger,
            args=(schedule.name,),
            id=schedule.name,
            name=schedule.name,
            next_run_time=first if schedule.enabled else None,
            coalesce=True,
            misfire_grace_time=schedule.misfire_grace_seconds,
            max_instances=_MAX_INSTANCES,
        )

    def _unplan(self, name: str) -> None:
        if self._scheduler is not None and self._scheduler.get_job(name) is not None:
            self._scheduler.remove_job(name)

    async def _fire(self, name: str, run_time: datetime | None = None) -> None:
        """The scheduler's job: `ClockScheduler`'s executor always passes the time
        the run was due (the default only satisfies APScheduler's signature check)."""
        schedule = self._schedules.get(name)
        if schedule is None or not schedule.enabled or run_time is None:
            return
        await self._enqueue(schedule)
        schedule = schedule.model_copy(
            update={"last_run_at": run_time, "run_count": schedule.run_count + 1}
        )
        self._schedules[name] = schedule
        await self._store.schedules.ran(name, run_time)
        self._publish(schedule)

    async def _enqueue(self, schedule: Schedule) -> tuple[Job, bool]:
        return await self._jobs.enqueue(
            schedule.handler,
            schedule.args,
            priority=schedule.priority,
            max_retries=schedule.max_retries,
            timeout_seconds=schedule.timeout_seconds,
            dedup_key=f"schedule:{schedule.name}",
            schedule=schedule.name,
        )

    def _with_next(self, schedule: Schedule) -> Schedule:
        job = self._scheduler.get_job(schedule.name) if self._scheduler else None
        next_run = job.next_run_time if job is not None else None
        return schedule.model_copy(update={"next_run_at": next_run})

    def _publish(self, schedule: Schedule) -> None:
        self._services.bus.publish(
            ScheduleEvent(time=self._clock.now(), schedule=self._with_next(schedule))
        )


def _trigger(schedule: Schedule) -> BaseTrigger:
    if schedule.cron is not None:
        return _cron_trigger(schedule.cron)
    assert schedule.every_seconds is not None
    # Anchored at creation, so the rule keeps its phase across restarts; the
    # first run is one interval after it.
    every = timedelta(seconds=schedule.every_seconds)
    return IntervalTrigger(
        seconds=schedule.every_seconds, start_date=schedule.created_at + every, timezone="UTC"
    )


def _cron_trigger(expression: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as error:
        raise InvalidRequest(
            f"Invalid cron rule {expression!r} (minute hour day month day-of-week): {error}.",
            cron=expression,
        ) from error


def _name(schedule: Schedule) -> str:
    return schedule.name
