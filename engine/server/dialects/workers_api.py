"""The worker manager API as its clients know it: `/api/workers`.

Nine endpoints, each the `/api/v1/workers` handler under the seed's path, with
the seed's shapes where they differ: the list is a bare array (v1 pages it),
and stopping answers `{"success": true, "message": ...}` (v1 answers the
worker). Roles, account scopes, rate limits and audit are v1's.
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query, status
from pydantic import BaseModel

from engine.engine import Engine
from engine.models import WorkerInfo
from engine.security.principal import Principal
from engine.server.deps import get_engine, trader, viewer
from engine.server.routers import workers as v1
from engine.server.schemas import (
    BatchStarted,
    BatchStopped,
    BatchValidation,
    StartWorker,
    StopWorker,
    ValidationResult,
    error_responses,
)

TITLE = "worker manager"
TAG = "dialect: worker manager"
router = APIRouter(prefix="/api/workers", tags=[TAG], responses=error_responses(401, 403, 404))


class Stopped(BaseModel):
    success: bool
    message: str


@router.get("", response_model=list[WorkerInfo])
async def list_workers(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> list[WorkerInfo]:
    return [w for w in engine.workers() if principal.sees(w.account_id)]


@router.post("/start-all", response_model=BatchStarted, status_code=status.HTTP_201_CREATED)
async def start_all(
    apply_defaults: bool = Query(True),
    validate: bool = Query(True),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> BatchStarted:
    return await v1.start_all(apply_defaults, validate, engine, principal)


@router.post("/stop-all", response_model=BatchStopped)
async def stop_all(
    timeout: float | None = Query(None, gt=0, le=300),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> BatchStopped:
    return await v1.stop_all(timeout, engine, principal)


@router.get("/validate-all", response_model=BatchValidation)
async def validate_all(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> BatchValidation:
    return await v1.validate_all(engine, principal)


@router.get("/{account_id}", response_model=WorkerInfo)
async def get_worker(
    account_id: str, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> WorkerInfo:
    return await v1.get_worker(account_id, engine, principal)


@router.post(
    "/{account_id}/start",
    response_model=WorkerInfo,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 409),
)
async def start_worker(
    account_id: str,
    body: StartWorker | None = Body(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> WorkerInfo:
    return await v1.start_worker(account_id, body, engine, principal)


@router.post("/{account_id}/stop", response_model=Stopped, responses=error_responses(409))
async def stop_worker(
    account_id: str,
    body: StopWorker | None = Body(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Stopped:
    await v1.stop_worker(account_id, body, engine, principal)
    return Stopped(success=True, message=f"Worker stopped for account {account_id}")


@router.post("/{account_id}/restart", response_model=WorkerInfo)
async def restart_worker(
    account_id: str, engine: Engine = Depends(get_engine), principal: Principal = Depends(trader)
) -> WorkerInfo:
    return await v1.restart_worker(account_id, engine, principal)


@router.get("/{account_id}/validate", response_model=ValidationResult)
async def validate_worker(
    account_id: str, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> ValidationResult:
    return await v1.validate_worker(account_id, engine, principal)
