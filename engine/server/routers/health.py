"""Unauthenticated probes: liveness, readiness, and what is running."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from engine.engine import Engine
from engine.models import EngineState
from engine.server.deps import get_engine
from engine.server.errors import ApiError
from engine.version import version

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Info(BaseModel):
    name: str
    version: str
    started_at: datetime | None
    uptime_seconds: float


@router.get("/health", response_model=Health)
async def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Health)
async def ready(engine: Engine = Depends(get_engine)) -> Health:
    if engine.state is not EngineState.RUNNING:
        raise ApiError(503, "SERVICE_UNAVAILABLE", f"The engine is {engine.state.value}.")
    return Health(status="ready")


@router.get("/info", response_model=Info)
async def info(engine: Engine = Depends(get_engine)) -> Info:

    started = engine.started_at
    uptime = (engine.clock.now() - started).total_seconds() if started else 0.0
    return Info(name="tradedeck", version=version(), started_at=started, uptime_seconds=uptime)
