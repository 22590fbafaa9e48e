"""The durable job queue: jobs stored through the store's writer, run by a
fixed number of runners, strict by priority and FIFO within one.

Every job is a row; the queue in memory is only an index over the rows still
to run. An enqueue returns after its COMMIT. A runner claims a job under a
lease it renews by heartbeat; at start, jobs left `running` by a process that
died (even by `kill -9`) run again once their lease has lapsed, so delivery
is at-least-once and handlers are idempotent. A failure is retried after an
exponential backoff with jitter on the engine clock, up to `max_retries`;
then the job is `dead` (the dead-letter queue) with its error, its
traceback, and an alert.
"""

from __future__ import annotations

import asyncio
import logging
import random
import traceback
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python

from config.models import JobSettings
from engine.commit import after_commit
from engine.errors import Conflict, NotFound
from engine.ids import IdSequence
from engine.jobs.context import (
    JobCancelled,
    JobContext,
    JobServices,
    PermanentFailure,
    ProgressReporter,
)
from engine.jobs.deploy import deploy
from engine.jobs.queue import ReadyLanes, Timetable
from engine.jobs.registry import HandlerRegistry
from engine.jobs.schedules import ScheduleService
from engine.jobs.timeouts import deadline
from engine.models import (
    Job,
    JobDay,
    JobEvent,
    JobPriority,
    JobState,
    JobStats,
    RunnerStats,
    Severity,
    StrategyInfo,
)
from engine.tasks import TaskSet, backoff

log = logging.getLogger("tradedeck.jobs")

_WAITING = frozenset({JobState.PENDING, JobState.SCHEDULED, JobState.FAILED})
_FINISHED = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.DEAD)
_MAINTENANCE_SECONDS = 60.0


class JobNotFound(NotFound):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"No job with id {job_id}.", job_id=job_id)


@dataclass(slots=True)
class _Run:
    """A job a runner holds, with the context its handler sees."""

    job_id: int
    context: JobContext


class JobService:
    """`engine.jobs`: enqueue, cancel, retry from the dead-letter queue, read.

    The panel's jobs pane reads `stats()`, `running()`, `recent()`, `get()`;
    the jobs screen `list()`, `dead()`, `schedules`; its actions are `retry()`,
    `cancel()`, `clear_dead()`, `deploy()` and `schedules.run_now/enable/disable`."""

    def __init__(self, services: JobServices, registry: HandlerRegistry) -> None:
        self._services = services
        self._store = services.store
        self._bus = services.bus
        self._clock = services.clock
        self.registry = registry
        self.schedules = ScheduleService(self, services)
        self._ids = IdSequence()
        self._jobs: dict[int, Job] = {}  # active jobs only (to run, or running)
        self._dedup: dict[str, int] = {}
        self._ready = ReadyLanes()
        self._timetable = Timetable()
        self._wake = asyncio.Event()
        self._running: dict[int, _Run] = {}
        self._tasks = TaskSet("jobs", logger=log)
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None
        self._random = random.Random(services.settings.engine.seed)
        self._started = False
        self._started_at: datetime | None = None
        self._outcomes: Counter[str] = Counter()
        self._busy_seconds = 0.0

    @property
    def started(self) -> bool:
        """Whether the runners are running (between `start` and `stop`)."""
        return self._started

    @property
    def config(self) -> JobSettings:
        """Read at each use: a configuration change applies to the next job."""
        return self._services.settings.jobs

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Load the jobs still to run (recovering those a dead runner held), start
        the runners, the heartbeat and the schedules."""
        if self._started:
            return
        self._started = True
        self._started_at = self._clock.now()
        self._ids = IdSequence(await self._store.jobs.max_id())
        await self._recover()
        for n in range(self.config.runners):
            self._tasks.spawn(self._runner(f"runner-{n + 1}"), f"runner-{n + 1}")
        self._tasks.spawn(self._heartbeat(), "heartbeat")
        self._tasks.spawn(self._maintenance(), "maintenance")
        self._rearm()
        await self.schedules.start()

    async def stop(self) -> None:
        """Stop scheduling and running; a job interrupted here goes back to
        `pending` without using up an attempt."""
        if not self._started:
            return
        self._started = False
        await self.schedules.stop()
        await self._tasks.stop()  # the timetable's timer among them
        self._timer = None
        await self._store.db.writer.flush()

    # --- commands --------------------------------------------------------------

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
        description: str = "",
    ) -> tuple[Job, bool]:
        """Store a new job and return it once committed, with True; or, when an
        active job already has `dedup_key`, that job with False.

        Raises `InvalidRequest` for an unknown handler and `ValidationFailed`
        for bad arguments, before anything is stored."""
        spec, parsed = self.registry.validate(handler, args)
        if dedup_key is not None and dedup_key in self._dedup:
            return self._jobs[self._dedup[dedup_key]], False
        now = self._clock.now()
        config = self.config
        arguments = parsed.model_dump(mode="json")
        account = arguments.get("account_id")
        due = now if run_at is None or run_at < now else run_at
        job = Job(
            id=self._ids(),
            handler=spec.name,
            args=arguments,
            account_id=account if isinstance(account, str) else None,
            priority=priority or spec.priority,
            state=JobState.PENDING if due <= now else JobState.SCHEDULED,
            max_retries=_first(max_retries, spec.max_retries, config.default_max_retries),
            timeout_seconds=_first(
                timeout_seconds, spec.timeout_seconds, config.default_timeout_seconds
            ),
            dedup_key=dedup_key,
            schedule=schedule,
            created_at=now,
            run_at=due,
            description=description,
        )
        self._remember(job)
        try:
            await self._store.jobs.save([job])
        except BaseException:
            self._forget(job)
            raise
        self._bus.publish(JobEvent(time=now, job=job))
        self._admit(job)
        return job, True

    async def cancel(self, job_id: int) -> Job:
        """Cancel a job still to run at once; ask a running one to stop at its
        next checkpoint (it then ends `cancelled`)."""
        job = self._jobs.get(job_id)
        if job is None:
            stored = await self._stored(job_id)
            raise Conflict(
                f"Job {job_id} is {stored.state.value}; only jobs still to run or running "
                "can be cancelled.",
                job_id=job_id,
                state=stored.state.value,
            )
        if job.state is JobState.RUNNING:
            run = self._running.get(job_id)
            if run is not None:
                run.context.cancel_requested = True
            job, committed = self._update(job, cancel_requested=True)
        else:
            job, committed = self._update(
                job, state=JobState.CANCELLED, finished_at=self._clock.now()
            )
        await committed
        return job

    async def retry(self, job_id: int) -> Job:
        """Take a dead job out of the dead-letter queue and run it again, with
        its attempts counted from zero."""
        stored = await self._stored(job_id)
        if stored.state is not JobState.DEAD or job_id in self._jobs:
            raise Conflict(
                f"Job {job_id} is {stored.state.value}; only dead jobs can be retried.",
                job_id=job_id,
                state=stored.state.value,
            )
        if stored.dedup_key is not None and stored.dedup_key in self._dedup:
            raise Conflict(
                f"Job {self._dedup[stored.dedup_key]} with the same dedup key "
                f"{stored.dedup_key!r} is still to run; job {job_id} was not retried.",
                job_id=job_id,
            )
        now = self._clock.now()
        job = stored.model_copy(
            update={
                "state": JobState.PENDING,
                "attempts": 0,
                "run_at": now,
                "started_at": None,
                "finished_at": None,
                "progress": 0.0,
                "message": "",
                "result": None,
                "error": None,
                "traceback": None,
                "cancel_requested": False,
            }
        )
        self._remember(job)
        try:
            await self._store.jobs.save([job])
        except BaseException:
            self._forget(job)
            raise
        self._bus.publish(JobEvent(time=now, job=job))
        self._admit(job)
        return job

    async def deploy(self, model_id: int, strategy_id: str | None = None) -> StrategyInfo:
        """Apply a stored parameter set (a model) to a running strategy."""
        return await deploy(self._services, model_id, strategy_id)

    async def delete(self, job_id: int) -> Job:
        """Forget a job that has ended; one still to run or running is a
        `Conflict` (cancel it first)."""
        job = await self.get(job_id)
        if job.state.is_active:
            raise Conflict(
                f"Job {job_id} is {job.state.value}; cancel it before deleting it.",
                job_id=job_id,
                state=job.state.value,
            )
        await self._store.jobs.delete(job_id)
        return job

    async def clear_dead(self) -> int:
        """Delete every job in the dead-letter queue; how many there were."""
        count = sum(
            n for (state, _), n in (await self._store.jobs.counts()).items() if state == "dead"
        )
        await self._store.jobs.delete_dead()
        return count

    # --- reading ---------------------------------------------------------------

    async def get(self, job_id: int) -> Job:
        """The job as it is now (a running one with its latest progress)."""
        job = self._jobs.get(job_id)
        return job if job is not None else await self._stored(job_id)

    async def list(
        self,
        *,
        states: list[JobState] | None = None,
        handler: str | None = None,
        priority: JobPriority | None = None,
        schedule: str | None = None,
        runner: str | None = None,
        accounts: list[str] | None = None,
        since: datetime | None = None,
        sort: str = "id",
        descending: bool = True,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[Job], int]:
        """One page of the stored jobs matching the filters, and the total."""
        return await self._store.jobs.query(
            states=states,
            handler=handler,
            priority=priority,
            schedule=schedule,
            runner=runner,
            accounts=accounts,
            since=since,
            sort=sort,
            descending=descending,
            skip=skip,
            limit=limit,
        )

    async def dead(self, *, skip: int = 0, limit: int = 50) -> tuple[list[Job], int]:
        """The dead-letter queue, newest first."""
        return await self.list(states=[JobState.DEAD], skip=skip, limit=limit)

    async def recent(self, limit: int = 20) -> list[Job]:
        """The latest completions and failures (cancelled and dead included)."""
        jobs, _ = await self.list(states=list(_FINISHED), sort="finished_at", limit=limit)
        return jobs

    def running(self) -> list[Job]:
        """Running jobs with their current progress, oldest first."""
        return sorted(
            (j for j in self._jobs.values() if j.state is JobState.RUNNING), key=lambda j: j.id
        )

    async def stats(self, accounts: Collection[str] | None = None) -> JobStats:
        """The queue's counts; over the jobs of `accounts` only when given."""
        counts = await self._store.jobs.counts(accounts)
        states = {state: 0 for state in JobState}
        queued = {priority: 0 for priority in JobPriority}
        for (state, priority), n in counts.items():
            states[JobState(state)] += n
            if JobState(state) in _WAITING:
                queued[JobPriority(priority)] += n
        return JobStats(
            queued=queued,
            states=states,
            running=states[JobState.RUNNING],
            dead=states[JobState.DEAD],
            runners=self.config.runners,
        )

    async def mean_duration(self, accounts: Collection[str] | None = None) -> float | None:
        """Seconds a completed job ran, on average (of `accounts` when given)."""
        return await self._store.jobs.mean_duration(accounts)

    async def days(self, days: int, accounts: Collection[str] | None = None) -> list[JobDay]:
        """The jobs that ended on each of the last `days` days, by outcome."""
        today = self._clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        return await self._store.jobs.days(today - timedelta(days=days - 1), accounts)

    # --- the runners -----------------------------------------------------------

    async def _runner(self, name: str) -> None:
        while True:
            job = self._next()
            if job is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._execute(job, name)
            # A handler that never awaits must not keep the loop to itself.
            await asyncio.sleep(0)

    def _next(self) -> Job | None:
        while (job_id := self._ready.pop()) is not None:
            job = self._jobs.get(job_id)
            if job is not None and job.state in _WAITING:
                return job
        return None

    async def _execute(self, job: Job, runner: str) -> None:
        now = self._clock.now()
        job, _ = self._update(
            job,
            state=JobState.RUNNING,
            attempts=job.attempts + 1,
            started_at=now,
            finished_at=None,
            lease_until=now + timedelta(seconds=self.config.lease_seconds),
            runner=runner,
            progress=0.0,
            message="",
        )
        context = JobContext(job, self._services, self._clock, self._reporter(job.id))
        self._running[job.id] = _Run(job.id, context)
        try:
            spec = self.registry.get(job.handler)
            args = spec.args_model.model_validate(job.args)
            async with deadline(self._clock, job.timeout_seconds):
                result = to_jsonable_python(await spec.run(context, args))
        except JobCancelled:
            self._end(job.id, JobState.CANCELLED, message="cancelled while running")
            self._tally("cancelled", now)
        except TimeoutError:
            self._failed(
                job.id, f"timed out after {job.timeout_seconds:g} s", traceback.format_exc()
            )
            self._tally("failed", now)
        except asyncio.CancelledError:
            self._interrupted(job.id)
            raise
        except PermanentFailure as error:
            self._failed(job.id, str(error), traceback.format_exc(), permanent=True)
            self._tally("failed", now)
        except Exception as error:
            self._failed(job.id, f"{type(error).__name__}: {error}", traceback.format_exc())
            self._tally("failed", now)
        else:
            self._end(job.id, JobState.COMPLETED, result=result, progress=100.0)
            self._tally("succeeded", now)
        finally:
            del self._running[job.id]

    def _tally(self, outcome: str, began: datetime) -> None:
        self._outcomes[outcome] += 1
        self._busy_seconds += (self._clock.now() - began).total_seconds()

    def runner_stats(self) -> RunnerStats:
        """The runners' work since the engine started (not stored: a restart
        starts counting again)."""
        succeeded, failed, cancelled = (
            self._outcomes[k] for k in ("succeeded", "failed", "cancelled")
        )
        processed = succeeded + failed + cancelled
        return RunnerStats(
            since=self._started_at,
            runners=self.config.runners if self._started else 0,
            running=len(self._running),
            processed=processed,
            succeeded=succeeded,
            failed=failed,
            cancelled=cancelled,
            success_rate=round(100 * succeeded / processed, 2) if processed else 0.0,
            mean_duration_seconds=round(self._busy_seconds / processed, 3) if processed else 0.0,
        )

    def _reporter(self, job_id: int) -> ProgressReporter:
        async def report(percent: float, message: str) -> None:
            job = self._jobs.get(job_id)
            if job is not None and job.state is JobState.RUNNING:
                self._update(job, progress=percent, message=message)
            await asyncio.sleep(0)

        return report

    def _end(self, job_id: int, state: JobState, **changes: Any) -> None:
        self._update(
            self._jobs[job_id],
            state=state,
            finished_at=self._clock.now(),
            lease_until=None,
            **changes,
        )

    def _failed(self, job_id: int, error: str, trace: str, *, permanent: bool = False) -> None:
        job = self._jobs[job_id]
        if permanent or job.attempts > job.max_retries:
            self._end(job_id, JobState.DEAD, error=error, traceback=trace)
            self._services.alerts.raise_alert(
                "job_dead",
                Severity.HIGH,
                f"Job {job_id} ({job.handler}) failed {job.attempts} time(s) and is in the "
                f"dead-letter queue: {error}",
                account_id=job.account_id,
                dedup_key=f"job_dead:{job_id}",
                data={"job_id": job_id, "handler": job.handler, "error": error},
            )
            return
        run_at = self._clock.now() + timedelta(seconds=self._backoff(job.attempts))
        job, _ = self._update(
            job,
            state=JobState.FAILED,
            error=error,
            traceback=trace,
            run_at=run_at,
            lease_until=None,
            runner=None,
        )
        self._admit(job)

    def _interrupted(self, job_id: int) -> None:
        """The service is stopping: the job runs again at the next start, this
        attempt not counted (it was not the job's fault)."""
        job = self._jobs[job_id]
        self._update(
            job,
            state=JobState.PENDING,
            attempts=max(0, job.attempts - 1),
            run_at=self._clock.now(),
            lease_until=None,
            runner=None,
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential from `backoff_initial_seconds`, capped, plus up to
        `backoff_jitter` of itself so that jobs failing together spread out."""
        config = self.config
        return backoff(
            attempt,
            config.backoff_initial_seconds,
            config.backoff_max_seconds,
            config.backoff_jitter,
            self._random,
        )

    # --- time ------------------------------------------------------------------

    def _admit(self, job: Job) -> None:
        """Queue a stored job: ready now, or at its `run_at`."""
        if job.run_at <= self._clock.now():
            self._ready.push(job.id, job.priority)
            self._wake.set()
        else:
            self._timetable.add(job.id, job.run_at)
            self._rearm()

    def _rearm(self) -> None:
        """Sleep (on the engine clock) until the earliest waiting job is due."""
        if not self._started:
            return
        at = self._timetable.next_time()
        if at is None or (self._timer is not None and self._timer_at == at):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._tasks.spawn(self._wait_until(at), "timetable")

    async def _wait_until(self, at: datetime) -> None:
        await self._clock.sleep((at - self._clock.now()).total_seconds())
        self._timer = None
        self._timer_at = None
        for job_id in self._timetable.due(self._clock.now()):
            job = self._jobs.get(job_id)
            if job is not None and job.state in _WAITING:
                self._ready.push(job_id, job.priority)
                self._wake.set()
        self._rearm()

    async def _heartbeat(self) -> None:
        """Renew the lease of every running job, a third of a lease apart."""
        while True:
            lease = self.config.lease_seconds
            await self._clock.sleep(lease / 3)
            until = self._clock.now() + timedelta(seconds=lease)
            renewed = [
                self._jobs[run.job_id].model_copy(update={"lease_until": until})
                for run in self._running.values()
            ]
            for job in renewed:
                self._jobs[job.id] = job
            if renewed:
                self._store.jobs.save(renewed)

    async def _maintenance(self) -> None:
        """Forget finished jobs older than the retention time."""
        while True:
            await self._clock.sleep(_MAINTENANCE_SECONDS)
            cutoff = self._clock.now() - timedelta(hours=self.config.result_retention_hours)
            await self._store.jobs.delete_finished(cutoff)

    # --- state -----------------------------------------------------------------

    async def _recover(self) -> None:
        """Queue the stored jobs still to run. One left `running` lost its runner
        (the process died): it counts as a failed attempt and runs again once
        its lease lapses, or is dead if it has no retries left — a job that
        kills the process every time must not do so forever."""
        now = self._clock.now()
        changed = []
        for job in await self._store.jobs.active():
            if job.state is JobState.RUNNING:
                error = (
                    f"interrupted: its runner ({job.runner}) stopped without finishing "
                    f"(attempt {job.attempts})"
                )
                lapsed = job.lease_until if job.lease_until and job.lease_until > now else now
                dead = job.attempts > job.max_retries
                job = job.model_copy(
                    update={
                        "state": JobState.DEAD if dead else JobState.FAILED,
                        "error": error,
                        "run_at": lapsed,
                        "finished_at": now if dead else None,
                        "lease_until": None,
                        "runner": None,
                    }
                )
                changed.append(job)
                if dead:
                    continue
            self._remember(job)
            self._admit(job)
        if changed:
            await self._store.jobs.save(changed)

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        if job.dedup_key is not None:
            self._dedup[job.dedup_key] = job.id

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        if job.dedup_key is not None and self._dedup.get(job.dedup_key) == job.id:
            del self._dedup[job.dedup_key]

    def _update(self, job: Job, **changes: Any) -> tuple[Job, asyncio.Future[None]]:
        """Change a job, store it, and publish it once committed."""
        job = job.model_copy(update=changes)
        if job.state.is_active:
            self._jobs[job.id] = job
        else:
            self._forget(job)
        committed = self._store.jobs.save([job])
        after_commit(
            committed, lambda: self._bus.publish(JobEvent(time=self._clock.now(), job=job))
        )
        return job, committed

    async def _stored(self, job_id: int) -> Job:
        job = await self._store.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
