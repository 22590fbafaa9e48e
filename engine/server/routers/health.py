"""Unauthenticated probes: liveness, readiness, and what is running."""

from __future__ import annotations

import html
import logging
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from engine.domain import SystemMode
from engine.engine import Engine
from engine.models import EngineState
from engine.server.deps import get_engine
from engine.server.errors import ApiError
from engine.server.schemas import error_responses
from engine.version import version

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    uptime_seconds: float
    timestamp: datetime


class Info(BaseModel):
    name: str
    version: str
    environment: str = Field(description="`[server] environment`, else the engine's mode")
    mode: SystemMode
    debug: bool = Field(description="whether the engine logs at DEBUG")
    started_at: datetime | None
    uptime_seconds: float


_HOME = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tradedeck</title>
<style>body{{background:#0c181f;color:#e6edf3;font-family:Menlo,monospace;margin:48px}}
a{{color:#58a6ff}}li{{margin:8px 0}}</style></head>
<body><h1>tradedeck {version}</h1><ul>
{panel}<li><a href="/api/docs">API documentation</a> (<a href="/api/redoc">ReDoc</a>,
<a href="/api/openapi.json">OpenAPI</a>)</li>
<li><a href="/health">Health</a>, <a href="/ready">readiness</a>, <a href="/info">info</a></li>
</ul></body></html>"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    """A small page linking the panel (with `--web`), the API docs and health."""
    panel_url = getattr(request.app.state, "panel_url", None)
    panel = (
        f'<li><a href="{html.escape(panel_url)}/">The panel, in the browser</a></li>'
        if panel_url
        else "<li>The panel in a browser: <code>tradedeck serve --web</code></li>"
    )
    return HTMLResponse(_HOME.format(version=html.escape(version()), panel=panel))


@router.get("/health", response_model=Health)
async def health(engine: Engine = Depends(get_engine)) -> Health:
    """The process answers: `ok`, whatever the engine's state (see `/ready`)."""
    return _health(engine, "ok")


@router.get("/ready", response_model=Health, responses=error_responses(503))
async def ready(engine: Engine = Depends(get_engine)) -> Health:
    """`ready` while the engine runs, else 503."""
    if engine.state is not EngineState.RUNNING:
        raise ApiError(503, "SERVICE_UNAVAILABLE", f"The engine is {engine.state.value}.")
    return _health(engine, "ready")


@router.get("/info", response_model=Info)
async def info(engine: Engine = Depends(get_engine)) -> Info:
    return Info(
        name="tradedeck",
        version=version(),
        environment=engine.settings.server.environment or engine.settings.engine.mode.value,
        mode=engine.settings.engine.mode,
        debug=logging.getLogger("tradedeck").getEffectiveLevel() <= logging.DEBUG,
        started_at=engine.started_at,
        uptime_seconds=_uptime(engine),
    )


def _health(engine: Engine, status: str) -> Health:
    return Health(
        status=status,
        version=version(),
        uptime_seconds=_uptime(engine),
        timestamp=engine.clock.now(),
    )


def _uptime(engine: Engine) -> float:
    started = engine.started_at
    return round((engine.clock.now() - started).total_seconds(), 3) if started else 0.0
