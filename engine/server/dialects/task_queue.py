"""The task queue API as its clients know it: `/api/v1/tasks`.

A task is a job: its `name` is a registered handler (an unknown one is a 422
and nothing is stored, never a task that waits for ever), its `payload` the
handler's arguments, its `worker_id` the runner that holds it or ran it last.
Every answer is in the seed's envelope, `{"status": "success", "data": ...,
"timestamp"}`, a list with `pagination`; errors on these paths carry
`"status": "error"` and `timestamp` beside v1's error. Each request is a call
into the v1 jobs handler, so roles, account scopes, rate limits and audit are
v1's.

The seed's priorities are `low`, `medium`, `high` (`medium` is v1's `normal`;
`critical` is accepted too). Its statuses: a job waiting (to run, for its
time, or to retry) is `pending`, a dead one `failed`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from engine.engine import Engine
from engine.models import Job, JobPriority, JobState
from engine.security.principal import Principal
from engine.server.deps import get_engine, trader, viewer
from engine.server.routers import jobs as v1_jobs
from engine.server.schemas import Paging, RowId, error_responses
from engine.server.schemas import Request as RequestBody

TITLE = "task queue"
TAG = "dialect: task queue"
PREFIX = "/api/v1/tasks"
router = APIRouter(prefix=PREFIX, tags=[TAG], responses=error_responses(401, 403, 404, 422, 429))

SeedPriority = Literal["low", "medium", "high", "critical"]
SeedStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
_PRIORITY: dict[JobPriority, SeedPriority] = {
    JobPriority.LOW: "low",
    JobPriority.NORMAL: "medium",
    JobPriority.HIGH: "high",
    JobPriority.CRITICAL: "critical",
}
_JOB_PRIORITY = {seed: job for job, seed in _PRIORITY.items()}
_STATUS: dict[JobState, SeedStatus] = {
    JobState.PENDING: "pending",
    JobState.SCHEDULED: "pending",
    JobState.FAILED: "pending",  # to retry
    JobState.RUNNING: "running",
    JobState.COMPLETED: "completed",
    JobState.DEAD: "failed",
    JobState.CANCELLED: "cancelled",
}
_STATES: dict[SeedStatus, list[JobState]] = {
    seed: [state for state, named in _STATUS.items() if named == seed]
    for seed in set(_STATUS.values())
}


class Task(BaseModel):
    id: str
    name: str = Field(description="the handler")
    description: str
    priority: SeedPriority
    status: SeedStatus
    payload: dict[str, Any]
    retry_count: int = Field(description="retries allowed after the first attempt")
    attempts: int
    timeout: float | None = Field(description="seconds")
    worker_id: str | None = Field(description="the runner holding it, or the last to run it")
    progress: float
    result: Any = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration: float | None = Field(description="seconds it ran, once ended")


class TaskData(BaseModel):
    status: Literal["success"] = "success"
    data: Task
    timestamp: datetime


class Pagination(BaseModel):
    skip: int
    limit: int
    total: int
    pages: int


class TaskList(BaseModel):
    status: Literal["success"] = "success"
    data: list[Task]
    pagination: Pagination
    timestamp: datetime


class CreateTask(RequestBody):
    name: str = Field(examples=["reconcile_account"], description="a registered handler")
    description: str = Field(default="", max_length=1000)
    priority: SeedPriority | None = Field(default=None, description="default: the handler's")
    retry_count: int | None = Field(default=None, ge=0, le=100)
    timeout: float | None = Field(default=None, gt=0, le=86_400, description="seconds")
    payload: dict[str, Any] = Field(default_factory=dict, examples=[{"account_id": "account-001"}])


class UpdateTask(RequestBody):
    status: Literal["cancelled", "pending"] = Field(
        description="`cancelled` cancels it; `pending` runs a failed (dead) task again"
    )


def seed_task(job: Job) -> Task:
    ended = job.finished_at
    duration = (
        round((ended - job.started_at).total_seconds(), 3)
        if ended is not None and job.started_at is not None
        else None
    )
    return Task(
        id=str(job.id),
        name=job.handler,
        description=job.description,
        priority=_PRIORITY[job.priority],
        status=_STATUS[job.state],
        payload=job.args,
        retry_count=job.max_retries,
        attempts=job.attempts,
        timeout=job.timeout_seconds,
        worker_id=job.runner,
        progress=job.progress,
        result=job.result,
        error=job.error,
        created_at=job.created_at,
        updated_at=ended or job.started_at or job.created_at,
        started_at=job.started_at,
        completed_at=ended,
        duration=duration,
    )


def _data(engine: Engine, job: Job) -> TaskData:
    return TaskData(data=seed_task(job), timestamp=engine.clock.now())


@router.get("", response_model=TaskList)
async def list_tasks(
    skip: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=100),
    status_filter: SeedStatus | None = Query(None, alias="status"),
    priority: SeedPriority | None = Query(None),
    worker_id: str | None = Query(None, description="the runner that holds or ran it"),
    sort: Literal["created_at", "updated_at", "duration"] = Query("created_at"),
    order: Literal["asc", "desc"] = Query("desc"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> TaskList:
    page = await v1_jobs.list_jobs(
        paging=Paging(skip, limit, sort, order),
        state=None if status_filter is None else _STATES[status_filter],
        handler=None,
        priority=None if priority is None else _JOB_PRIORITY[priority],
        schedule=None,
        runner=worker_id,
        account=None,
        since=None,
        engine=engine,
        principal=principal,
    )
    return TaskList(
        data=[seed_task(j) for j in page.items],
        pagination=Pagination(
            skip=skip, limit=limit, total=page.total, pages=math.ceil(page.total / limit)
        ),
        timestamp=engine.clock.now(),
    )


@router.post("", response_model=TaskData, status_code=status.HTTP_201_CREATED)
async def create_task(
    body: CreateTask,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> TaskData:
    """An unknown `name` or a `payload` its handler refuses is a 422 naming the
    field, and nothing is stored."""
    v1_body = v1_jobs.EnqueueJob(
        handler=body.name,
        args=body.payload,
        priority=None if body.priority is None else _JOB_PRIORITY[body.priority],
        max_retries=body.retry_count,
        timeout_seconds=body.timeout,
        description=body.description,
    )
    job = await v1_jobs.enqueue(v1_body, request, response, engine, principal)
    return _data(engine, job)


@router.get("/{task_id}", response_model=TaskData)
async def get_task(
    task_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> TaskData:
    return _data(engine, await v1_jobs.get_job(task_id, engine, principal))


@router.put("/{task_id}", response_model=TaskData, responses=error_responses(409))
async def update_task(
    task_id: RowId,
    body: UpdateTask,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> TaskData:
    """Only the status changes: to `cancelled` (409 once ended) or, for a failed
    task, back to `pending` (409 for any other)."""
    if body.status == "cancelled":
        job = await v1_jobs.cancel(task_id, request, engine, principal)
    else:
        job = await v1_jobs.retry(task_id, request, engine, principal)
    return _data(engine, job)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(409))
async def delete_task(
    task_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Response:
    """A task that has ended; 409 for one still to run or running."""
    return await v1_jobs.delete_job(task_id, request, engine, principal)
