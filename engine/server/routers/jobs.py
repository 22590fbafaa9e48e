"""Background jobs: list, enqueue, inspect, cancel; queue statistics; the
handlers; the dead-letter queue (retry one, clear all).

An unknown handler or bad arguments is a 422 naming the field, and nothing is
stored. Enqueue, cancel and retry need a trader; clearing the dead-letter
queue an admin. A key limited to some accounts sees and touches only jobs on
those accounts (others are 404).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from engine.engine import Engine
from engine.errors import Conflict, InvalidRequest
from engine.jobs import HandlerInfo, JobNotFound
from engine.models import Job, JobPriority, JobState, JobStats
from engine.security.principal import Principal
from engine.server.deps import admin, audited, get_engine, require_all_accounts, trader, viewer
from engine.server.errors import ApiError
from engine.server.schemas import Page, Paging, RowId, error_responses, paging, utc
from engine.server.schemas import Request as RequestBody

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=error_responses(401, 422, 429))

_paging = paging(
    "id",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "priority",
    "duration",
    "updated_at",
    default="id",
    order="desc",
)


class EnqueueJob(RequestBody):
    handler: str = Field(examples=["reconcile_account"])
    args: dict[str, Any] = Field(default_factory=dict, examples=[{"account_id": "account-001"}])
    priority: JobPriority | None = Field(default=None, description="default: the handler's")
    max_retries: int | None = Field(default=None, ge=0, le=100)
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)
    dedup_key: str | None = Field(
        default=None,
        max_length=200,
        description="while a job with this key is active, "
        "enqueueing again returns that job (200) instead of a new one (201)",
    )
    run_at: datetime | None = Field(default=None, description="not before this time")
    delay_seconds: float | None = Field(default=None, gt=0, le=366 * 86_400)
    description: str = Field(default="", max_length=1000, description="what it is for")


class JobResult(BaseModel):
    id: int
    state: JobState
    result: Any = None
    error: str | None = None
    finished_at: datetime | None = None


class Cleared(BaseModel):
    deleted: int


@router.get("", response_model=Page[Job])
async def list_jobs(
    paging: Paging = Depends(_paging),
    state: list[JobState] | None = Query(None, description="one or more states"),
    handler: str | None = Query(None),
    priority: JobPriority | None = Query(None),
    schedule: str | None = Query(None, description="jobs this schedule enqueued"),
    runner: str | None = Query(None, description="jobs this runner holds or ran last"),
    account: str | None = Query(None),
    since: datetime | None = Query(None, description="created at or after"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Job]:
    accounts = _scope(principal, account)
    if accounts is not None and not accounts:
        return Page[Job](items=[], total=0, skip=paging.skip, limit=paging.limit)
    items, total = await engine.jobs.list(
        states=state,
        handler=handler,
        priority=priority,
        schedule=schedule,
        runner=runner,
        accounts=accounts,
        since=utc(since, "since"),
        sort=paging.sort or "id",
        descending=paging.descending,
        skip=paging.skip,
        limit=paging.limit,
    )
    return Page[Job](items=items, total=total, skip=paging.skip, limit=paging.limit)


@router.post(
    "",
    response_model=Job,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Job, "description": "an active job with the same dedup_key"}}
    | error_responses(403),
)
async def enqueue(
    body: EnqueueJob,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Job:
    account = body.args.get("account_id")
    if principal.accounts is not None and not (
        isinstance(account, str) and account in principal.accounts
    ):
        raise ApiError(
            403,
            "FORBIDDEN",
            "A key limited to some accounts can enqueue only jobs on those accounts "
            "(args.account_id).",
        )
    run_at = utc(body.run_at, "run_at")
    if body.delay_seconds is not None:
        run_at = engine.clock.now() + timedelta(seconds=body.delay_seconds)
    async with audited(request, principal, "job.enqueue", f"handler:{body.handler}"):
        job, created = await invalid_as_422(
            engine.jobs.enqueue(
                body.handler,
                body.args,
                priority=body.priority,
                max_retries=body.max_retries,
                timeout_seconds=body.timeout_seconds,
                dedup_key=body.dedup_key,
                run_at=run_at,
                description=body.description,
            ),
            "body.args",
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return job


@router.get("/stats", response_model=JobStats)
async def stats(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> JobStats:
    """A key limited to some accounts counts the jobs of those accounts only."""
    return await engine.jobs.stats(principal.accounts)


@router.get("/handlers", response_model=list[HandlerInfo])
async def handlers(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> list[HandlerInfo]:
    return engine.jobs.registry.infos()


@router.get("/dlq", response_model=Page[Job])
async def dead_letters(
    paging: Paging = Depends(_paging),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Job]:
    """Jobs that failed every attempt, with their last error and traceback."""
    items, total = await engine.jobs.list(
        states=[JobState.DEAD],
        accounts=_scope(principal, None),
        sort=paging.sort or "id",
        descending=paging.descending,
        skip=paging.skip,
        limit=paging.limit,
    )
    return Page[Job](items=items, total=total, skip=paging.skip, limit=paging.limit)


@router.post("/dlq/{job_id}/retry", response_model=Job, responses=error_responses(403, 404, 409))
async def retry(
    job_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Job:
    await _visible_job(engine, principal, job_id)
    async with audited(request, principal, "job.retry", f"job:{job_id}"):
        return await engine.jobs.retry(job_id)


@router.delete("/dlq", response_model=Cleared, responses=error_responses(403))
async def clear_dead_letters(
    request: Request, engine: Engine = Depends(get_engine), principal: Principal = Depends(admin)
) -> Cleared:
    require_all_accounts(principal, "clear the dead-letter queue")
    async with audited(request, principal, "job.dlq.clear", "jobs:dlq"):
        return Cleared(deleted=await engine.jobs.clear_dead())


@router.get("/{job_id}", response_model=Job, responses=error_responses(404))
async def get_job(
    job_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> Job:
    """The job with its arguments, attempts, progress, error, traceback and result."""
    return await _visible_job(engine, principal, job_id)


@router.get("/{job_id}/result", response_model=JobResult, responses=error_responses(404, 409))
async def get_result(
    job_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> JobResult:
    """A finished job's result (or its error); 409 while it is still to run."""
    job = await _visible_job(engine, principal, job_id)
    if job.state.is_active:
        raise Conflict(f"Job {job_id} is {job.state.value}; it has no result yet.", job_id=job_id)
    return JobResult(
        id=job.id, state=job.state, result=job.result, error=job.error, finished_at=job.finished_at
    )


@router.post("/{job_id}/cancel", response_model=Job, responses=error_responses(403, 404, 409))
async def cancel(
    job_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Job:
    """A job still to run is cancelled at once; a running one is asked to stop
    at its next checkpoint (`cancel_requested`), then ends `cancelled`."""
    await _visible_job(engine, principal, job_id)
    async with audited(request, principal, "job.cancel", f"job:{job_id}"):
        return await engine.jobs.cancel(job_id)


@router.delete(
    "/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(403, 404, 409)
)
async def delete_job(
    job_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Response:
    """Forget a job that has ended; 409 for one still to run or running (cancel it first)."""
    await _visible_job(engine, principal, job_id)
    async with audited(request, principal, "job.delete", f"job:{job_id}"):
        await engine.jobs.delete(job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def invalid_as_422(call: Any, prefix: str) -> Any:
    """Run `call`; an invalid handler or arguments becomes a 422 naming the fields."""
    try:
        return await call
    except InvalidRequest as error:
        issues = error.details.get("issues", [])
        fields = [
            {"path": f"{prefix}.{i['path']}" if i["path"] else prefix, "message": i["message"]}
            for i in issues
        ]
        raise ApiError(
            422,
            "INVALID_REQUEST",
            error.message,
            **{k: v for k, v in error.details.items() if k != "issues"},
            **({"fields": fields} if fields else {}),
        ) from error


def visible(principal: Principal, account_id: str | None) -> bool:
    """Jobs on no account (system-wide) are not for account-scoped keys."""
    return principal.accounts is None or (
        account_id is not None and account_id in principal.accounts
    )


def _scope(principal: Principal, account: str | None) -> list[str] | None:
    if account is not None:
        return [account] if visible(principal, account) else []
    return None if principal.accounts is None else sorted(principal.accounts)


async def _visible_job(engine: Engine, principal: Principal, job_id: int) -> Job:
    job = await engine.jobs.get(job_id)
    if not visible(principal, job.account_id):
        raise JobNotFound(job_id)
    return job
