"""The seeds' dialects: the APIs that clients were written against, answered
at their own paths beside `/api/v1`.

Each module is one API, a thin adapter that maps the seed's requests onto the
same handlers and services as `/api/v1` and their results onto the seed's
shapes, so validation, roles, account scopes, rate limits and audit are v1's.
Each can be switched off under `[server.dialects]`; docs/dialects.md has one
table per dialect: its paths, the v1 twin, and what differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from config.models import DialectSettings
from engine.server.dialects import control_panel, risk_jobs, task_queue, workers_api


@dataclass(frozen=True)
class Dialect:
    name: str  # the switch under [server.dialects]
    title: str
    router: APIRouter
    root_groups: tuple[str, ...] = ()  # endpoint groups at the root, for rate limits and audit
    # Served before v1: its literal paths sit beside v1's parameterised ones
    # (`/api/v1/jobs/health` beside `/api/v1/jobs/{job_id}`); it declares no path v1 has.
    before_v1: bool = False
    # Paths whose errors carry the seed's `"status": "error"` and `timestamp` too.
    enveloped: tuple[str, ...] = ()


DIALECTS = (
    Dialect("workers", workers_api.TITLE, workers_api.router),
    Dialect("control_panel", control_panel.TITLE, control_panel.router),
    Dialect("risk_jobs", risk_jobs.TITLE, risk_jobs.router, before_v1=True),
    Dialect(
        "task_queue", task_queue.TITLE, task_queue.router, enveloped=(task_queue.PREFIX + "/",)
    ),
)


def enabled(settings: DialectSettings) -> list[Dialect]:
    return [d for d in DIALECTS if getattr(settings, d.name)]


def install(app: FastAPI, settings: DialectSettings, *, before_v1: bool) -> tuple[str, ...]:
    """Serve the enabled dialects of one side of v1; returns the root groups they
    add. The enveloped paths go to `app.state.enveloped` (see `errors.envelope`)."""
    groups: list[str] = []
    enveloped = list(getattr(app.state, "enveloped", ()))
    for dialect in enabled(settings):
        if dialect.before_v1 is before_v1:
            app.include_router(dialect.router)
            groups.extend(dialect.root_groups)
            enveloped.extend(dialect.enveloped)
    app.state.enveloped = tuple(enveloped)
    return tuple(groups)
