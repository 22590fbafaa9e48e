"""The risk, market-data and jobs API as its clients know it: its job paths
under `/api/v1/jobs`.

The seed shares v1's base path, so only its paths that v1 lacks are served
here, and this router goes in before v1's: `/jobs/health`, `/jobs/pending`,
`/jobs/scheduled`, `/jobs/enqueue` are literal paths that v1's
`/jobs/{job_id}` would otherwise capture (a 422 for a non-numeric id). Where
the seed names a v1 path (`/jobs/stats`, `/jobs/handlers`, `/jobs/dlq`,
`/jobs/dlq/{job_id}/retry`), v1 answers with its own shape.

Every request is a call into the v1 handler (roles, account scopes, audit)
with the answer in the seed's words: a job's `handler` is its `name`,
`attempts - 1` its `retry_count`, `finished_at` its `completed_at`. A job
waiting to retry after a failed attempt is `retrying` (the seed's clients
stop polling at `failed`), and a dead one is `failed`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from engine.engine import Engine
from engine.errors import Conflict
from engine.models import Job, JobPriority, JobState, JobStats, Schedule, ScheduleKind
from engine.security.principal import Principal
from engine.server.deps import admin, get_engine, require_all_accounts, trader, viewer
from engine.server.routers import jobs as v1_jobs
from engine.server.routers import schedules as v1_schedules
from engine.server.schemas import Paging, RowId, error_responses
from engine.server.schemas import Request as RequestBody

TITLE = "risk, market data and jobs"
TAG = "dialect: risk, market data and jobs"
router = APIRouter(
    prefix="/api/v1/jobs", tags=[TAG], responses=error_responses(401, 403, 404, 422, 429)
)

SeedStatus = Literal[
    "pending", "scheduled", "running", "completed", "retrying", "failed", "cancelled"
]
_STATUS: dict[JobState, SeedStatus] = {
    JobState.PENDING: "pending",
    JobState.SCHEDULED: "scheduled",
    JobState.RUNNING: "running",
    JobState.COMPLETED: "completed",
    JobState.FAILED: "retrying",
    JobState.DEAD: "failed",
    JobState.CANCELLED: "cancelled",
}


# --- shapes ------------------------------------------------------------------------------


class SeedJob(BaseModel):
    id: int
    name: str
    args: dict[str, Any]
    status: SeedStatus
    priority: JobPriority
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    result: Any = None
    error: str | None = None
    retry_count: int
    max_retries: int


class PendingJobs(BaseModel):
    count: int = Field(description="every pending job, not only those listed")
    jobs: list[SeedJob]


class Enqueue(RequestBody):
    name: str = Field(examples=["reconcile_account"], description="a registered handler")
    args: dict[str, Any] = Field(default_factory=dict)
    priority: JobPriority | None = None
    max_retries: int | None = Field(default=None, ge=0, le=100)
    timeout: float | None = Field(default=None, gt=0, le=86_400, description="seconds")


class Enqueued(BaseModel):
    job_id: int
    status: Literal["enqueued", "already_enqueued"]


class JobOutcome(BaseModel):
    job_id: int
    status: SeedStatus
    result: Any = None
    error: str | None = None


class Cancelled(BaseModel):
    job_id: int
    status: Literal["cancelled", "cancelling"]


class QueueStats(BaseModel):
    total_pending: int
    pending: dict[JobPriority, int]
    scheduled: int
    processing: int
    dead_letter: int


class SchedulerStats(BaseModel):
    enabled: bool
    running: bool
    total_tasks: int
    enabled_tasks: int
    disabled_tasks: int
    due_tasks: int = Field(description="enabled tasks whose next run is now or past")
    run_count: int = Field(description="runs of these tasks, together")


class WorkerStats(BaseModel):
    worker_id: str = Field(description="the runners of this engine, as one worker")
    status: Literal["processing", "idle", "stopped"]
    runners: int
    jobs_processed: int
    jobs_succeeded: int
    jobs_failed: int
    jobs_cancelled: int
    success_rate: float = Field(description="percent")
    average_processing_time: float = Field(description="seconds")


class JobsHealth(BaseModel):
    running: bool
    timestamp: datetime
    scheduler: SchedulerStats
    workers: WorkerStats
    queue: QueueStats


class ScheduledTask(BaseModel):
    name: str
    job_name: str
    schedule_type: ScheduleKind
    interval_seconds: float | None
    cron: str | None
    args: dict[str, Any]
    priority: JobPriority
    enabled: bool
    last_run: datetime | None
    next_run: datetime | None
    run_count: int


class ScheduledTasks(BaseModel):
    tasks: list[ScheduledTask]


class Register(RequestBody):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    job_name: str = Field(description="a registered handler")
    schedule_type: ScheduleKind
    interval_seconds: float | None = Field(default=None, gt=0, le=366 * 86_400)
    cron: str | None = Field(default=None, max_length=100, description="UTC, five fields")
    args: dict[str, Any] = Field(default_factory=dict)
    priority: JobPriority = JobPriority.NORMAL
    enabled: bool = True


class Triggered(BaseModel):
    task_name: str
    job_id: int
    status: Literal["triggered", "already_active"]


def seed_job(job: Job) -> SeedJob:
    return SeedJob(
        id=job.id,
        name=job.handler,
        args=job.args,
        status=_STATUS[job.state],
        priority=job.priority,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.finished_at,
        result=job.result,
        error=job.error,
        retry_count=max(0, job.attempts - 1),
        max_retries=job.max_retries,
    )


def seed_task(schedule: Schedule) -> ScheduledTask:
    return ScheduledTask(
        name=schedule.name,
        job_name=schedule.handler,
        schedule_type=schedule.kind,
        interval_seconds=schedule.every_seconds,
        cron=schedule.cron,
        args=schedule.args,
        priority=schedule.priority,
        enabled=schedule.enabled,
        last_run=schedule.last_run_at,
        next_run=schedule.next_run_at,
        run_count=schedule.run_count,
    )


def _queue(stats: JobStats) -> QueueStats:
    pending = {p: stats.queued.get(p, 0) for p in JobPriority}
    return QueueStats(
        total_pending=sum(pending.values()),
        pending=pending,
        scheduled=stats.states.get(JobState.SCHEDULED, 0),
        processing=stats.running,
        dead_letter=stats.dead,
    )


def _scheduler(engine: Engine, schedules: list[Schedule]) -> SchedulerStats:
    now = engine.clock.now()
    enabled = [s for s in schedules if s.enabled]
    return SchedulerStats(
        enabled=True,
        running=engine.jobs.schedules.running,
        total_tasks=len(schedules),
        enabled_tasks=len(enabled),
        disabled_tasks=len(schedules) - len(enabled),
        due_tasks=sum(1 for s in enabled if s.next_run_at is not None and s.next_run_at <= now),
        run_count=sum(s.run_count for s in schedules),
    )


def _workers(engine: Engine) -> WorkerStats:
    stats = engine.jobs.runner_stats()
    status: Literal["processing", "idle", "stopped"] = (
        "stopped" if not stats.runners else "processing" if stats.running else "idle"
    )
    return WorkerStats(
        worker_id="runners",
        status=status,
        runners=stats.runners,
        jobs_processed=stats.processed,
        jobs_succeeded=stats.succeeded,
        jobs_failed=stats.failed,
        jobs_cancelled=stats.cancelled,
        success_rate=stats.success_rate,
        average_processing_time=stats.mean_duration_seconds,
    )


# --- the routes --------------------------------------------------------------------------


@router.get("/health", response_model=JobsHealth)
async def health(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> JobsHealth:
    """The queue (scoped to the key's accounts), the scheduler and the runners;
    the runners' counts cover every account, so a scoped key is refused."""
    require_all_accounts(principal, "read the runners' counts, which cover every account")
    schedules = await v1_schedules.list_schedules(engine, principal)
    return JobsHealth(
        running=engine.jobs.started,
        timestamp=engine.clock.now(),
        scheduler=_scheduler(engine, schedules),
        workers=_workers(engine),
        queue=_queue(await engine.jobs.stats(principal.accounts)),
    )


@router.post("/enqueue", response_model=Enqueued, responses=error_responses(403))
async def enqueue(
    body: Enqueue,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Enqueued:
    """An unknown `name` is a 422 and nothing is stored."""
    v1_body = v1_jobs.EnqueueJob(
        handler=body.name,
        args=body.args,
        priority=body.priority,
        max_retries=body.max_retries,
        timeout_seconds=body.timeout,
    )
    job = await v1_jobs.enqueue(v1_body, request, response, engine, principal)
    created = response.status_code != 200
    response.status_code = 200
    return Enqueued(job_id=job.id, status="enqueued" if created else "already_enqueued")


@router.get("/job/{job_id}", response_model=SeedJob)
async def get_job(
    job_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> SeedJob:
    return seed_job(await v1_jobs.get_job(job_id, engine, principal))


@router.get("/job/{job_id}/result", response_model=JobOutcome, responses=error_responses(409))
async def get_result(
    job_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> JobOutcome:
    """409 while the job is still to run, as in v1."""
    result = await v1_jobs.get_result(job_id, engine, principal)
    return JobOutcome(
        job_id=result.id, status=_STATUS[result.state], result=result.result, error=result.error
    )


@router.post("/job/{job_id}/cancel", response_model=Cancelled, responses=error_responses(409))
async def cancel(
    job_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Cancelled:
    """A running job is asked to stop at its next checkpoint: `cancelling`."""
    job = await v1_jobs.cancel(job_id, request, engine, principal)
    return Cancelled(
        job_id=job.id, status="cancelled" if job.state is JobState.CANCELLED else "cancelling"
    )


@router.get("/pending", response_model=PendingJobs)
async def pending(
    priority: JobPriority | None = Query(None),
    limit: int = Query(100, ge=1, le=500),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> PendingJobs:
    page = await v1_jobs.list_jobs(
        paging=Paging(0, limit, "id", "asc"),
        state=[JobState.PENDING],
        handler=None,
        priority=priority,
        schedule=None,
        runner=None,
        account=None,
        since=None,
        engine=engine,
        principal=principal,
    )
    return PendingJobs(count=page.total, jobs=[seed_job(j) for j in page.items])


@router.get("/queue/stats", response_model=QueueStats)
async def queue_stats(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> QueueStats:
    """A key limited to some accounts counts the jobs of those accounts only."""
    return _queue(await v1_jobs.stats(engine, principal))


@router.get("/workers/stats", response_model=WorkerStats)
async def worker_stats(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> WorkerStats:
    """Attempts the runners ended since the engine started, by outcome."""
    require_all_accounts(principal, "read the runners' counts, which cover every account")
    return _workers(engine)


@router.get("/scheduler/stats", response_model=SchedulerStats)
async def scheduler_stats(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> SchedulerStats:
    return _scheduler(engine, await v1_schedules.list_schedules(engine, principal))


@router.get("/scheduled", response_model=ScheduledTasks)
async def scheduled(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> ScheduledTasks:
    schedules = await v1_schedules.list_schedules(engine, principal)
    return ScheduledTasks(tasks=[seed_task(s) for s in schedules])


@router.post("/scheduled/register", response_model=ScheduledTask, responses=error_responses(409))
async def register(
    body: Register,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> ScheduledTask:
    """A new schedule; one with this name already is a 409 (v1's `PUT`-like
    `POST /schedules` replaces)."""
    if any(s.name == body.name for s in engine.jobs.schedules.list()):
        raise Conflict(f"A scheduled task named {body.name!r} exists.", name=body.name)
    interval = body.interval_seconds if body.schedule_type is ScheduleKind.INTERVAL else None
    cron = body.cron if body.schedule_type is ScheduleKind.CRON else None
    v1_body = v1_schedules.PutSchedule(
        name=body.name,
        handler=body.job_name,
        args=body.args,
        every_seconds=interval,
        cron=cron,
        priority=body.priority,
        enabled=body.enabled,
    )
    schedule = await v1_schedules.put_schedule(v1_body, request, response, engine, principal)
    response.status_code = 200
    return seed_task(schedule)


@router.post("/scheduled/{task_name}/run", response_model=Triggered)
async def run(
    task_name: str,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Triggered:
    job = await v1_schedules.run_now(task_name, request, response, engine, principal)
    created = response.status_code != 200
    response.status_code = 200
    return Triggered(
        task_name=task_name, job_id=job.id, status="triggered" if created else "already_active"
    )


@router.post("/scheduled/{task_name}/enable", response_model=ScheduledTask)
async def enable(
    task_name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> ScheduledTask:
    return seed_task(await v1_schedules.enable(task_name, request, engine, principal))


@router.post("/scheduled/{task_name}/disable", response_model=ScheduledTask)
async def disable(
    task_name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> ScheduledTask:
    return seed_task(await v1_schedules.disable(task_name, request, engine, principal))


@router.delete("/scheduled/{task_name}", status_code=204)
async def unregister(
    task_name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Response:
    return await v1_schedules.delete_schedule(task_name, request, engine, principal)
