"""The seeds' dialects: the APIs that clients were written against, answered
at their own paths beside `/api/v1`.

Each module is one API, a thin adapter that maps the seed's requests onto the
same handlers and services as `/api/v1` and their results onto the seed's
shapes, so validation, roles, account scopes, rate limits and audit are v1's.
Each can be switched off under `[server.dialects]`; docs/dialects.md has one
table per dialect: its paths, the v1 twin, and what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from config.models import DialectSettings
from engine.server.dialects import (
    control_panel,
    market_cache,
    portfolio_api,
    risk_jobs,
    task_queue,
    task_workers,
    workers_api,
)


@dataclass(frozen=True)
class Dialect:
    name: str  # the switch under [server.dialects]
    title: str
    routers: tuple[APIRouter, ...]  # served after v1, so v1 answers where a path is both
    # Served before v1: literal paths beside v1's parameterised ones
    # (`/api/v1/jobs/health` beside `/api/v1/jobs/{job_id}`); none is a path v1 has.
    # Kept few: every request to v1 is matched against these first.
    early: tuple[APIRouter, ...] = ()
    root_groups: tuple[str, ...] = ()  # endpoint groups at the root, for rate limits and audit
    # Paths whose errors carry the seed's `"status": "error"` and `timestamp` too.
    enveloped: tuple[str, ...] = ()
    setup: Callable[[FastAPI], None] | None = None  # state its routes need


DIALECTS = (
    Dialect("workers", workers_api.TITLE, (workers_api.router,)),
    Dialect("control_panel", control_panel.TITLE, (control_panel.router, control_panel.sockets)),
    Dialect(
        "risk_jobs",
        risk_jobs.TITLE,
        (market_cache.router,),
        early=(risk_jobs.router,),
        setup=market_cache.setup,
    ),
    Dialect(
        "task_queue",
        task_queue.TITLE,
        (task_queue.router, task_workers.router),
        early=(task_workers.early,),  # `/api/v1/workers/heartbeat` beside `/workers/{id}`
        enveloped=(task_queue.PREFIX + "/", "/api/v1/workers/heartbeat", "/workers/status"),
        setup=task_workers.setup,
        root_groups=("workers", "webhooks"),
    ),
    Dialect(
        "portfolio",
        portfolio_api.TITLE,
        (portfolio_api.router,),
        root_groups=portfolio_api.GROUPS,
    ),
)


def enabled(settings: DialectSettings) -> list[Dialect]:
    return [d for d in DIALECTS if getattr(settings, d.name)]


def early_routers(settings: DialectSettings) -> list[APIRouter]:
    """The enabled dialects' routers that go before v1's (the caller places them)."""
    return [router for dialect in enabled(settings) for router in dialect.early]


def install(app: FastAPI, settings: DialectSettings, *, before_v1: bool) -> tuple[str, ...]:
    """Serve the enabled dialects' routers that go after v1 (`before_v1=False`),
    or set up their state and groups (`before_v1=True`: their early routers are
    placed by the caller, from `early_routers`); returns the root groups they
    add. The enveloped paths go to `app.state.enveloped` (see `errors.envelope`)."""
    groups: list[str] = []
    enveloped = list(getattr(app.state, "enveloped", ()))
    for dialect in enabled(settings):
        if not before_v1:
            for router in dialect.routers:
                app.include_router(router)
        else:
            if dialect.setup is not None:
                dialect.setup(app)
            groups.extend(dialect.root_groups)
            enveloped.extend(dialect.enveloped)
    app.state.enveloped = tuple(enveloped)
    return tuple(groups)
