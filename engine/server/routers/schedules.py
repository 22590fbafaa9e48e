"""Schedules: named interval or cron rules that enqueue a job. Reading is for
every role; creating, replacing, deleting, enabling and disabling are for
admins; running one now (an enqueue) is for traders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import Field

from engine.engine import Engine
from engine.models import Job, JobPriority, Schedule
from engine.security.principal import Principal
from engine.server.deps import admin, audited, get_engine, require_all_accounts, trader, viewer
from engine.server.routers.jobs import invalid_as_422
from engine.server.schemas import Request as RequestBody
from engine.server.schemas import error_responses

router = APIRouter(prefix="/schedules", tags=["jobs"], responses=error_responses(401, 422, 429))

_NAME = r"^[A-Za-z0-9_.:-]{1,64}$"


class PutSchedule(RequestBody):
    name: str = Field(pattern=_NAME, examples=["reconcile-5m"])
    handler: str = Field(examples=["reconcile_account"])
    args: dict[str, Any] = Field(default_factory=dict)
    every_seconds: float | None = Field(default=None, gt=0, le=366 * 86_400)
    cron: str | None = Field(
        default=None, max_length=100, description="UTC: minute hour day month day-of-week"
    )
    priority: JobPriority = JobPriority.NORMAL
    enabled: bool = True
    misfire_grace_seconds: int = Field(
        default=3600, gt=0, le=7 * 86_400, description="a run later than this is skipped"
    )
    max_retries: int | None = Field(default=None, ge=0, le=100)
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)


@router.get("", response_model=list[Schedule])
async def list_schedules(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> list[Schedule]:
    """Every schedule with its next run time (None while disabled). A key limited
    to some accounts sees the schedules on those accounts only: one without an
    account runs over every account."""
    schedules = engine.jobs.schedules.list()
    if principal.accounts is None:
        return schedules
    return [s for s in schedules if s.args.get("account_id") in principal.accounts]


@router.post(
    "",
    response_model=Schedule,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Schedule, "description": "replaced"}} | error_responses(403),
)
async def put_schedule(
    body: PutSchedule,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Schedule:
    """Create a schedule, or replace the one with this name (200)."""
    require_all_accounts(principal, "edit schedules")
    async with audited(request, principal, "schedule.put", f"schedule:{body.name}"):
        schedule, created = await invalid_as_422(
            engine.jobs.schedules.put(
                body.name,
                body.handler,
                body.args,
                every_seconds=body.every_seconds,
                cron=body.cron,
                priority=body.priority,
                enabled=body.enabled,
                misfire_grace_seconds=body.misfire_grace_seconds,
                max_retries=body.max_retries,
                timeout_seconds=body.timeout_seconds,
            ),
            "body.args",
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return schedule


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(403, 404)
)
async def delete_schedule(
    name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Response:
    require_all_accounts(principal, "edit schedules")
    async with audited(request, principal, "schedule.delete", f"schedule:{name}"):
        await engine.jobs.schedules.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/enable", response_model=Schedule, responses=error_responses(403, 404, 409))
async def enable(
    name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Schedule:
    require_all_accounts(principal, "edit schedules")
    async with audited(request, principal, "schedule.enable", f"schedule:{name}"):
        return await engine.jobs.schedules.enable(name)


@router.post("/{name}/disable", response_model=Schedule, responses=error_responses(403, 404, 409))
async def disable(
    name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Schedule:
    require_all_accounts(principal, "edit schedules")
    async with audited(request, principal, "schedule.disable", f"schedule:{name}"):
        return await engine.jobs.schedules.disable(name)


@router.post(
    "/{name}/run",
    response_model=Job,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Job, "description": "the schedule's job is already active"}}
    | error_responses(403, 404),
)
async def run_now(
    name: str,
    request: Request,
    response: Response,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Job:
    """Enqueue the schedule's job now; its rule is unchanged."""
    require_all_accounts(principal, "run a schedule")
    async with audited(request, principal, "schedule.run", f"schedule:{name}"):
        job, created = await engine.jobs.schedules.run_now(name)
    if not created:
        response.status_code = status.HTTP_200_OK
    return job
