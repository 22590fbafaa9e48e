"""Workers: list, inspect, start, stop, restart, validate.

Fixed paths (`/workers/start-all`, `/workers/validate-all`) are declared
before `/workers/{account_id}` so the parameter never captures them.
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status
from pydantic import Field

from config.issues import ValidationReport
from engine.engine import Engine
from engine.models import WorkerInfo, WorkerState
from engine.security.principal import Principal
from engine.server.deps import check_account, get_engine, trader, viewer
from engine.server.schemas import (
    BatchStarted,
    BatchStopped,
    BatchValidation,
    Page,
    StartWorker,
    StopWorker,
    ValidationResult,
    list_query,
)

router = APIRouter(prefix="/workers", tags=["workers"])

JSON = "application/json"
WORKER_SORT = ("account_id", "status", "name", "broker", "started_at", "restarts")
# The most polled route's query, validated as one model (see `QueryModel`).
WORKERS_QUERY = list_query(
    "WorkersQuery",
    *WORKER_SORT,
    default="account_id",
    filters={"status": (WorkerState | None, Field(None, description="only workers in this state"))},
)


def _result(account_id: str, report: ValidationReport) -> ValidationResult:
    return ValidationResult(
        valid=report.valid,
        account_id=account_id,
        errors=[f"{i.path}: {i.message}" for i in report.errors],
        warnings=[f"{i.path}: {i.message}" for i in report.warnings],
        has_errors=bool(report.errors),
        has_warnings=bool(report.warnings),
    )


@router.get("", response_model=Page[WorkerInfo], openapi_extra=WORKERS_QUERY.openapi)
async def list_workers(request: Request) -> Response:
    # The most polled route, so it spares per-request work that buys nothing
    # here. FastAPI resolves no dependency for it: the caller is checked (the
    # viewer role, a 401 or 403 otherwise) and the query validated as one model
    # by the same functions the dependencies would run, called here, first; a
    # dependency costs FastAPI a resolution pass per request. The engine is
    # read from the app, and the page, built from validated `WorkerInfo`s, is
    # serialised once as it is (by alias, like FastAPI) instead of validated
    # again against `response_model`, which still documents it.
    principal = await viewer(request)
    query = await WORKERS_QUERY.parse(request)
    engine: Engine = request.app.state.engine
    status_filter = query.status
    workers = [
        w
        for w in engine.workers()
        if principal.sees(w.account_id) and (status_filter is None or w.status is status_filter)
    ]
    return Response(query.paging.page(workers).model_dump_json(by_alias=True), media_type=JSON)


@router.post("/start-all", response_model=BatchStarted, status_code=status.HTTP_201_CREATED)
async def start_all(
    apply_defaults: bool = Query(True, description="accepted; defaults always apply"),
    validate: bool = Query(True, description="refuse accounts whose configuration has errors"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> BatchStarted:
    if principal.accounts is None:
        started = await engine.start_all(validate=validate)
    else:
        started = []
        for worker in engine.workers():
            if principal.sees(worker.account_id) and worker.status is WorkerState.STOPPED:
                started.append(await engine.start_worker(worker.account_id, validate=validate))
    return BatchStarted(
        started_count=len(started),
        started_workers={w.account_id: w.model_dump(mode="json") for w in started},
    )


@router.post("/stop-all", response_model=BatchStopped)
async def stop_all(
    timeout: float | None = Query(None, gt=0, le=300, description="seconds per worker"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> BatchStopped:
    if principal.accounts is None:
        return BatchStopped(stopped_count=await engine.stop_all(timeout))
    stopped = 0
    for worker in engine.workers():
        if principal.sees(worker.account_id) and worker.status is not WorkerState.STOPPED:
            await engine.stop_worker(worker.account_id, timeout)
            stopped += 1
    return BatchStopped(stopped_count=stopped)


@router.get("/validate-all", response_model=BatchValidation)
async def validate_all(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> BatchValidation:
    results = {
        account_id: _result(account_id, report)
        for account_id, report in engine.validate_all().items()
        if principal.sees(account_id)
    }
    valid = sum(1 for r in results.values() if r.valid)
    return BatchValidation(
        total_count=len(results),
        valid_count=valid,
        invalid_count=len(results) - valid,
        results=results,
    )


@router.get("/{account_id}", response_model=WorkerInfo)
async def get_worker(
    account_id: str = Path(description="an account id, or the worker_id of its current run"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> WorkerInfo:
    workers = engine.workers()
    if not any(w.account_id == account_id for w in workers):
        account_id = next((w.account_id for w in workers if w.worker_id == account_id), account_id)
    check_account(principal, account_id)
    return engine.worker(account_id)


@router.post("/{account_id}/start", response_model=WorkerInfo, status_code=status.HTTP_201_CREATED)
async def start_worker(
    account_id: str,
    body: StartWorker | None = Body(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> WorkerInfo:
    check_account(principal, account_id)
    options = body or StartWorker()
    return await engine.start_worker(account_id, validate=options.validate_config)


@router.post("/{account_id}/stop", response_model=WorkerInfo)
async def stop_worker(
    account_id: str,
    body: StopWorker | None = Body(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> WorkerInfo:
    check_account(principal, account_id)
    return await engine.stop_worker(account_id, (body or StopWorker()).timeout)


@router.post("/{account_id}/restart", response_model=WorkerInfo)
async def restart_worker(
    account_id: str, engine: Engine = Depends(get_engine), principal: Principal = Depends(trader)
) -> WorkerInfo:
    check_account(principal, account_id)
    return await engine.restart_worker(account_id)


@router.get("/{account_id}/validate", response_model=ValidationResult)
async def validate_worker(
    account_id: str, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> ValidationResult:
    check_account(principal, account_id)
    return _result(account_id, engine.validate_worker(account_id))
