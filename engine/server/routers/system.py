"""The system as a whole: status, trading mode, start/stop/restart of every
worker, and the health of the engine's components.

The kill switch (which alone sets and clears `halted`) is not here: it is its
own issue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from engine.domain import SystemMode
from engine.engine import Engine
from engine.models import AlertStatus, EngineState, SystemStatus, WorkerInfo, WorkerState
from engine.security.principal import Principal
from engine.server.deps import admin, audited, get_engine, require_all_accounts, viewer
from engine.server.schemas import Request as Body
from engine.server.schemas import error_responses

router = APIRouter(prefix="/system", tags=["system"], responses=error_responses(401, 429))

Health = Literal["ok", "degraded", "down"]

# A market whose newest quote is older than this is reported as degraded.
MARKET_STALE_SECONDS = 60.0
# A writer queue longer than this many groups is falling behind.
WRITER_BACKLOG = 10_000

_ACTIVE = (WorkerState.STARTING, WorkerState.RUNNING, WorkerState.RECONNECTING)
_SEVERITY: dict[Health, int] = {"ok": 0, "degraded": 1, "down": 2}


class ModeChange(Body):
    mode: Literal["paper", "live"] = Field(
        description="`halted` is set and cleared only by the kill switch"
    )


class SystemCommandResult(BaseModel):
    """What a start, stop or restart of every worker did, worker by worker."""

    action: Literal["start", "stop", "restart"]
    succeeded: list[str] = Field(description="account ids it was done for")
    failed: dict[str, str] = Field(description="account id -> why it was not done")
    status: SystemStatus


class ComponentHealth(BaseModel):
    name: Literal["engine", "store", "market", "workers", "process"]
    status: Health
    message: str
    details: dict[str, Any]


class ComponentsHealth(BaseModel):
    status: Health = Field(description="the worst of the components")
    components: list[ComponentHealth]


@router.get("/status", response_model=SystemStatus)
async def system_status(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> SystemStatus:
    return _scoped_status(engine, principal)


@router.post("/mode", response_model=SystemStatus, responses=error_responses(400, 403, 409, 422))
async def set_mode(
    body: ModeChange,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> SystemStatus:
    require_all_accounts(principal, "change the system mode")
    async with audited(request, principal, "system.mode", "system", mode=body.mode):
        return engine.set_mode(SystemMode(body.mode))


@router.post("/start", response_model=SystemCommandResult, responses=error_responses(403))
async def start_all(
    request: Request, engine: Engine = Depends(get_engine), principal: Principal = Depends(admin)
) -> SystemCommandResult:
    """Start every enabled worker of the caller's accounts that is not running."""
    targets = [
        w.account_id for w in _visible(engine, principal) if w.enabled and w.status not in _ACTIVE
    ]
    async with audited(request, principal, "system.start", "workers"):
        return await _each(engine, principal, "start", targets, engine.start_worker)


@router.post("/stop", response_model=SystemCommandResult, responses=error_responses(403))
async def stop_all(
    request: Request, engine: Engine = Depends(get_engine), principal: Principal = Depends(admin)
) -> SystemCommandResult:
    """Stop every worker of the caller's accounts that is not stopped."""
    targets = [
        w.account_id
        for w in _visible(engine, principal)
        if w.status not in (WorkerState.STOPPED, WorkerState.STOPPING)
    ]
    async with audited(request, principal, "system.stop", "workers"):
        return await _each(engine, principal, "stop", targets, engine.stop_worker)


@router.post("/restart", response_model=SystemCommandResult, responses=error_responses(403))
async def restart_all(
    request: Request, engine: Engine = Depends(get_engine), principal: Principal = Depends(admin)
) -> SystemCommandResult:
    """Restart every running worker of the caller's accounts (stopped ones stay stopped)."""
    targets = [w.account_id for w in _visible(engine, principal) if w.status in _ACTIVE]
    async with audited(request, principal, "system.restart", "workers"):
        return await _each(engine, principal, "restart", targets, engine.restart_worker)


@router.get("/health/components", response_model=ComponentsHealth)
async def component_health(
    request: Request, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> ComponentsHealth:
    """The engine, the store's writer, the market feed, the workers, and the
    serving process (CPU, resident memory, open files, threads, event-loop lag)."""
    status, message, details = request.app.state.process.reading()
    components = [
        _engine_health(engine),
        _store_health(engine),
        _market_health(engine),
        _workers_health(engine, principal),
        ComponentHealth(name="process", status=status, message=message, details=details),
    ]
    if principal.accounts is not None:
        # The store's counters add up every account's writes, and the process
        # serves them all: a scoped key sees their status, not their figures.
        for index in (1, 4):
            components[index] = components[index].model_copy(update={"details": {}})
    worst = max((c.status for c in components), key=_SEVERITY.__getitem__)
    return ComponentsHealth(status=worst, components=components)


# --- helpers -----------------------------------------------------------------------------


def _visible(engine: Engine, principal: Principal) -> list[WorkerInfo]:
    return [w for w in engine.workers() if principal.sees(w.account_id)]


def _scoped_status(engine: Engine, principal: Principal) -> SystemStatus:
    """A key limited to some accounts sees counts and totals of those accounts only."""
    status = engine.status()
    if principal.accounts is None:
        return status
    return scoped_status(engine, status, principal.accounts)


def scoped_status(engine: Engine, status: SystemStatus, accounts: frozenset[str]) -> SystemStatus:
    """`status` with its counts and totals (workers, equity, balance, P&L,
    open alerts) over `accounts` only: what an account-scoped key may see.
    Shared by this router and the WebSocket `system` channel."""
    snapshot = engine.snapshot()
    workers = [w for w in snapshot.workers if w.account_id in accounts]
    books = [a for a in snapshot.accounts if a.account_id in accounts]
    return status.model_copy(
        update={
            "workers_total": len(workers),
            "workers_running": sum(1 for w in workers if w.status is WorkerState.RUNNING),
            "total_equity": sum((a.equity for a in books), Decimal(0)),
            "total_balance": sum((a.balance for a in books), Decimal(0)),
            "pnl_today": sum((a.pnl_today for a in books), Decimal(0)),
            "open_alerts": sum(
                1
                for a in snapshot.alerts
                if a.status is not AlertStatus.RESOLVED and a.account_id in accounts
            ),
        }
    )


async def _each(
    engine: Engine,
    principal: Principal,
    action: Literal["start", "stop", "restart"],
    targets: list[str],
    command: Callable[[str], Awaitable[WorkerInfo]],
) -> SystemCommandResult:
    """Run `command` for every target at once; one failure does not stop the others."""
    outcomes = await asyncio.gather(*(command(a) for a in targets), return_exceptions=True)
    succeeded: list[str] = []
    failed: dict[str, str] = {}
    for account_id, outcome in zip(targets, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            failed[account_id] = str(outcome) or type(outcome).__name__
        else:
            succeeded.append(account_id)
    return SystemCommandResult(
        action=action, succeeded=succeeded, failed=failed, status=_scoped_status(engine, principal)
    )


def _engine_health(engine: Engine) -> ComponentHealth:
    state = engine.state
    health: Health = {EngineState.RUNNING: "ok", EngineState.STOPPED: "down"}.get(state, "degraded")
    started = engine.started_at
    uptime = (engine.clock.now() - started).total_seconds() if started else 0.0
    return ComponentHealth(
        name="engine",
        status=health,
        message=f"the engine is {state.value}",
        details={"state": state.value, "started_at": _iso(started), "uptime_seconds": uptime},
    )


def _store_health(engine: Engine) -> ComponentHealth:
    writer = engine.store.db.writer
    stats = writer.stats
    health: Health
    if not writer.running:
        health, message = "down", "the storage writer has stopped: nothing can be saved"
    elif stats["failed"]:
        health, message = "degraded", f"{stats['failed']} write group(s) failed since start"
    elif stats["queued"] > WRITER_BACKLOG:
        health, message = "degraded", f"{stats['queued']} write groups are waiting"
    else:
        health, message = "ok", "writes are committed as they arrive"
    return ComponentHealth(name="store", status=health, message=message, details=stats)


def _market_health(engine: Engine) -> ComponentHealth:
    symbols = list(engine.settings.instruments)
    quotes = [q for q in (engine.quote(s) for s in symbols) if q is not None]
    newest = max((q.time for q in quotes), default=None)
    age = (engine.clock.now() - newest).total_seconds() if newest else None
    health: Health
    if newest is None or age is None:
        health, message = "down", "no quotes yet"
    elif age > MARKET_STALE_SECONDS:
        health, message = "degraded", f"the newest quote is {age:.0f} s old"
    else:
        health, message = "ok", f"{len(quotes)} of {len(symbols)} symbols quoted"
    return ComponentHealth(
        name="market",
        status=health,
        message=message,
        details={
            "symbols": len(symbols),
            "quoted": len(quotes),
            "last_quote_at": _iso(newest),
            "age_seconds": age,
        },
    )


def _workers_health(engine: Engine, principal: Principal) -> ComponentHealth:
    workers = _visible(engine, principal)
    counts = {state.value: 0 for state in WorkerState}
    for worker in workers:
        counts[worker.status.value] += 1
    errors = {w.account_id: w.error or "error" for w in workers if w.status is WorkerState.ERROR}
    health: Health = "degraded" if errors else "ok"
    message = (
        f"{len(errors)} worker(s) in error"
        if errors
        else f"{counts['running']} of {len(workers)} running"
    )
    return ComponentHealth(
        name="workers",
        status=health,
        message=message,
        details={"total": len(workers), "by_state": counts, "errors": errors},
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
