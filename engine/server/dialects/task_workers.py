"""The task queue's workers and streams: `POST /api/v1/workers/heartbeat`,
`GET /workers/status`, and the `/ws/tasks` and `/ws/metrics` sockets.

The seed's workers are processes that run tasks and report a heartbeat. The
engine runs its jobs on its own runners; a process outside it that takes part
(a script that watches the queue, say) reports here and is listed with them.
Those reports are kept in memory, not stored: they describe processes that
report again within seconds, and a worker silent for `STALE_SECONDS` shows as
`offline`. A heartbeat may not name a trading worker (its account id or
worker_id): the engine keeps those heartbeats itself.

The sockets are the hub's, with the seed's messages: `/ws/tasks` sends
`{"type": "task_update", "data": <task>, "timestamp"}` for every change of a
job the caller may see (after `{"type": "tasks", "data": [...]}`, the running
and recent ones), `/ws/metrics` the dashboard's task figures
(`{"type": "metrics", "data": {...}, "timestamp"}`) on connect and every
`[server.dialects] ws_metrics_seconds`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, WebSocket
from pydantic import BaseModel, Field

from engine.engine import Engine
from engine.models import JobEvent, WorkerState
from engine.security.principal import Principal
from engine.server.deps import audited, get_engine, require_all_accounts, trader, viewer
from engine.server.dialects.task_queue import seed_task
from engine.server.errors import ApiError
from engine.server.routers import webhooks as v1_webhooks
from engine.server.routers.analytics import task_figures
from engine.server.schemas import Request as RequestBody
from engine.server.schemas import error_responses
from engine.server.ws import Connection, Hub, SocketDialect
from engine.server.ws_protocol import Frame, Framing

TAG = "dialect: task queue"
router = APIRouter(tags=[TAG], responses=error_responses(401, 403, 422, 429))
# Before v1: `/api/v1/workers/heartbeat` would be v1's `/workers/{account_id}`.
early = APIRouter(tags=[TAG], responses=error_responses(401, 403, 422, 429))

STALE_SECONDS = 60.0
MAX_WORKERS = 1000  # reporting processes kept at once
_FORGET_AFTER = timedelta(hours=1)  # a worker silent this long is dropped

ReportedStatus = Literal["active", "idle", "busy", "draining", "offline"]


class Heartbeat(RequestBody):
    worker_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["worker-001"])
    status: ReportedStatus = "active"
    current_load: int = Field(default=0, ge=0, description="tasks it runs now")
    max_capacity: int = Field(default=1, ge=1, le=100_000, description="tasks it can run at once")


class WorkerHealth(BaseModel):
    worker_id: str
    kind: Literal["trading", "runners", "external"] = Field(
        description="a trading worker, the engine's job runners, or a process that reports here"
    )
    account_id: str | None = None
    status: str
    healthy: bool
    current_load: int | None = None
    max_capacity: int | None = None
    last_heartbeat: datetime | None = None


class HeartbeatData(BaseModel):
    status: Literal["success"] = "success"
    data: WorkerHealth
    timestamp: datetime


class WorkersSummary(BaseModel):
    total: int
    healthy: int
    unhealthy: int


class WorkersStatusData(BaseModel):
    workers: list[WorkerHealth]
    summary: WorkersSummary


class WorkersStatus(BaseModel):
    status: Literal["success"] = "success"
    data: WorkersStatusData
    timestamp: datetime


@dataclass
class _Reported:
    body: Heartbeat
    at: datetime


class Reports:
    """The processes that report a heartbeat, by worker_id."""

    def __init__(self) -> None:
        self._workers: dict[str, _Reported] = {}

    def known(self, worker_id: str) -> bool:
        return worker_id in self._workers

    def report(self, body: Heartbeat, now: datetime) -> WorkerHealth:
        fresh = {k: r for k, r in self._workers.items() if now - r.at < _FORGET_AFTER}
        self._workers = fresh
        if body.worker_id not in self._workers and len(self._workers) >= MAX_WORKERS:
            raise ApiError(
                409,
                "CONFLICT",
                f"{MAX_WORKERS} workers already report here; a new one waits until one has "
                "been silent for an hour.",
            )
        self._workers[body.worker_id] = _Reported(body, now)
        return self._health(self._workers[body.worker_id], now)

    def health(self, now: datetime) -> list[WorkerHealth]:
        return [self._health(r, now) for _, r in sorted(self._workers.items())]

    @staticmethod
    def _health(reported: _Reported, now: datetime) -> WorkerHealth:
        body = reported.body
        stale = (now - reported.at).total_seconds() > STALE_SECONDS
        status = "offline" if stale else body.status
        return WorkerHealth(
            worker_id=body.worker_id,
            kind="external",
            status=status,
            healthy=status != "offline",
            current_load=body.current_load,
            max_capacity=body.max_capacity,
            last_heartbeat=reported.at,
        )


def setup(app: Any) -> None:
    app.state.task_workers = Reports()


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.task_workers
    return reports


@early.post("/api/v1/workers/heartbeat", response_model=HeartbeatData)
async def heartbeat(
    body: Heartbeat,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> HeartbeatData:
    """A process that runs tasks says it is alive, with its load. The first
    report of a worker is audited; later ones are not (they come every few
    seconds)."""
    require_all_accounts(principal, "report a task worker, which serves every account")
    if body.current_load > body.max_capacity:
        raise ApiError(
            422,
            "VALIDATION_ERROR",
            f"current_load {body.current_load} exceeds max_capacity {body.max_capacity}.",
            field="current_load",
        )
    if any(body.worker_id in (w.account_id, w.worker_id) for w in engine.workers()):
        raise ApiError(
            409,
            "CONFLICT",
            f"{body.worker_id!r} is a trading worker; the engine keeps its heartbeat itself.",
            worker_id=body.worker_id,
        )
    reports = _reports(request)
    now = engine.clock.now()
    if reports.known(body.worker_id):
        health = reports.report(body, now)
    else:
        async with audited(request, principal, "task_worker.register", body.worker_id):
            health = reports.report(body, now)
    return HeartbeatData(data=health, timestamp=now)


@router.get("/workers/status", response_model=WorkersStatus)
async def workers_status(
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> WorkersStatus:
    """Every worker's health: the trading workers the caller may see, and, for
    a key over all accounts, the engine's job runners and the processes that
    report here."""
    now = engine.clock.now()
    workers = [
        WorkerHealth(
            worker_id=w.worker_id or w.account_id,
            kind="trading",
            account_id=w.account_id,
            status=w.status.value,
            healthy=w.status is not WorkerState.ERROR,
            last_heartbeat=w.heartbeat_at,
        )
        for w in engine.workers()
        if principal.sees(w.account_id)
    ]
    if principal.accounts is None:
        runners = engine.jobs.runner_stats()
        workers.append(
            WorkerHealth(
                worker_id="engine-runners",
                kind="runners",
                status="active" if runners.since is not None else "stopped",
                healthy=runners.since is not None,
                current_load=runners.running,
                max_capacity=runners.runners,
            )
        )
        workers.extend(_reports(request).health(now))
    healthy = sum(w.healthy for w in workers)
    summary = WorkersSummary(total=len(workers), healthy=healthy, unhealthy=len(workers) - healthy)
    return WorkersStatus(data=WorkersStatusData(workers=workers, summary=summary), timestamp=now)


# The seed's `POST /webhooks`: v1's handler at the root.
router.add_api_route(
    "/webhooks",
    v1_webhooks.create_webhook,
    methods=["POST"],
    response_model=v1_webhooks.RegisteredWebhook,
    status_code=201,
    responses=error_responses(404),
)


# --- the sockets ------------------------------------------------------------------


def _common(frame: Frame) -> dict[str, Any]:
    """A frame that is not a task or metrics message: its type and data."""
    data = frame.data
    if frame.type == "ack" and isinstance(data, dict) and data.get("action") == "auth":
        keep = ("connection_id", "principal", "role", "accounts", "heartbeat_seconds")
        return {"type": "connected", "data": {k: data[k] for k in keep}, "timestamp": frame.time}
    return {"type": frame.type, "data": data or {}, "timestamp": frame.time}


def _task_shape(frame: Frame) -> dict[str, Any] | None:
    if frame.type == "event":
        event = frame.event
        if not isinstance(event, JobEvent):
            return None  # schedules travel on the jobs channel too
        return {"type": "task_update", "data": seed_task(event.job), "timestamp": frame.time}
    if frame.type == "snapshot" and frame.channel == "jobs":
        running = frame.data["running"]
        ids = {job.id for job in running}
        jobs = running + [job for job in frame.data["recent"] if job.id not in ids]
        return {"type": "tasks", "data": [seed_task(j) for j in jobs], "timestamp": frame.time}
    if frame.type == "ack" and frame.channel is not None:
        return None  # the subscription the path made for the client
    return _common(frame)


def _metrics_shape(frame: Frame) -> dict[str, Any] | None:
    if frame.channel == "metrics":
        return {"type": "metrics", "data": frame.data, "timestamp": frame.time}
    return _common(frame)


async def _push_metrics(hub: Hub, conn: Connection) -> None:
    interval = hub.settings.dialects.ws_metrics_seconds
    while True:
        figures = await task_figures(hub.engine, conn.principal)
        conn.push(hub.frame("event", "metrics", figures))
        await asyncio.sleep(interval)


TASKS = SocketDialect("task_queue.tasks", Framing("task_queue.tasks", _task_shape), ("jobs",))
METRICS = SocketDialect(
    "task_queue.metrics", Framing("task_queue.metrics", _metrics_shape), companion=_push_metrics
)


@router.websocket("/ws/tasks")
async def tasks_stream(websocket: WebSocket) -> None:
    await websocket.app.state.hub.serve(websocket, TASKS)


@router.websocket("/ws/metrics")
async def metrics_stream(websocket: WebSocket) -> None:
    await websocket.app.state.hub.serve(websocket, METRICS)
