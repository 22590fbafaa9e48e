"""The FastAPI application: middleware, error envelope, and the routers.

Adding an endpoint group is one module in `engine/server/routers/` and one line
in `ROUTERS`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.engine import Engine
from engine.server import dialects, errors
from engine.server.audit import AuditMiddleware
from engine.server.metrics import install as install_metrics
from engine.server.paths import ApiPaths
from engine.server.process import ProcessProbe
from engine.server.ratelimit import RateLimitMiddleware
from engine.server.routers import (
    alerts,
    analytics,
    audit,
    auth,
    catalog,
    config_routes,
    connections,
    health,
    instruments,
    jobs,
    kill_switch,
    market,
    metrics,
    models,
    order_check,
    orders,
    panel,
    performance,
    portfolio,
    price_alerts,
    risk,
    schedules,
    signals,
    strategies,
    stream,
    system,
    webhooks,
    workers,
)
from engine.server.schemas import error_responses
from engine.server.ws import Hub
from engine.version import version

log = logging.getLogger("tradedeck.api")

API_PREFIX = "/api/v1"

# (router module, prefix): every group the API serves.
ROUTERS = [
    (health, ""),
    (auth, API_PREFIX),
    (workers, API_PREFIX),
    (panel, API_PREFIX),
    (system, API_PREFIX),
    (config_routes, API_PREFIX),
    (strategies, API_PREFIX),
    (instruments, API_PREFIX),
    (market, API_PREFIX),
    (price_alerts, API_PREFIX),
    (signals, API_PREFIX),
    (portfolio, API_PREFIX),
    (alerts, API_PREFIX),
    (risk, API_PREFIX),
    (kill_switch, API_PREFIX),
    (order_check, API_PREFIX),
    (orders, API_PREFIX),
    (performance, API_PREFIX),
    (stream, API_PREFIX),
    (connections, API_PREFIX),
    (audit, API_PREFIX),
    (jobs, API_PREFIX),
    (schedules, API_PREFIX),
    (models, API_PREFIX),
    (analytics, API_PREFIX),
    (catalog, API_PREFIX),
    (webhooks, API_PREFIX),
    (metrics, ""),
]

# The most polled reads, matched first: FastAPI tries routes in order, one
# regular expression each, so a route's place is part of its cost (the 34
# routes once before `/workers` cost about 0.1 ms a request).
HOT = (workers, panel, system, portfolio, orders, alerts)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(engine: Engine, security: Any) -> FastAPI:
    app = FastAPI(
        title="tradedeck",
        version=version(),
        # The documentation's routes are added last (`app.setup()` below), after
        # every route a client polls.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Every 422 is the error envelope, not FastAPI's default `{"detail": [...]}`.
        responses=error_responses(422),
        # The engine exports its own metrics (`/metrics`, Prometheus); FastAPI's
        # native OpenTelemetry would look for global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.engine = engine
    app.state.security = security
    app.state.url_token_socket = None  # the framing of `/api/v1/ws?token=` (a dialect's)
    errors.install(app)
    chosen = security.settings.dialects
    # Dialects sharing v1's paths declare only what v1 lacks, literal paths among
    # them, so they go first; the others go after, so that v1 answers where a
    # seed's path is also a v1 path.
    groups = dialects.install(app, chosen, before_v1=True)
    _include(app, dialects.early_routers(chosen))
    groups += dialects.install(app, chosen, before_v1=False)
    app.openapi_url, app.docs_url, app.redoc_url = "/api/openapi.json", "/api/docs", "/api/redoc"
    app.setup()
    app.state.paths = ApiPaths(groups)
    # The stream's clients; the server's owner calls `app.state.hub.close()` first on shutdown.
    app.state.hub = hub = Hub(engine, security.settings, security)
    app.state.process = ProcessProbe()
    hub.on_close(app.state.process.stop)
    # The last added runs first: request id, latency metrics, rate limit, audit.
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RateLimitMiddleware)
    install_metrics(app, engine, app.state.hub)
    origins = security.settings.cors_origins
    if origins:
        # Outside the rate limit and authentication: a preflight carries no credentials.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
            ],
            max_age=600,
        )
    app.add_middleware(RequestIdMiddleware)
    return app


def _include(app: FastAPI, early: list[APIRouter]) -> None:
    """The routers in their order of old (the dialects' early ones, then
    `ROUTERS`), except that the HOT ones go first, and with them every router
    whose paths share a first segment with theirs (in the order of old among
    themselves): a route can only take another's request when both start with
    the same segment, so no literal path (`/workers/validate-all`,
    `/api/v1/workers/heartbeat`) ever falls to a parameter it did not before."""
    ordered = [(router, "") for router in early] + [(m.router, p) for m, p in ROUTERS]
    segments = [_segments(router, prefix) for router, prefix in ordered]
    front = set().union(*(segments[i] for i, (r, _) in enumerate(ordered) if _hot(r)))
    grown = True
    while grown:  # every router sharing a segment with one in front joins it
        grown = False
        for own in segments:
            if own & front and not own <= front:
                front |= own
                grown = True
    first = [i for i, own in enumerate(segments) if own & front]
    for i in first + [i for i in range(len(ordered)) if i not in first]:
        router, prefix = ordered[i]
        app.include_router(router, prefix=prefix)


def _hot(router: APIRouter) -> bool:
    return any(module.router is router for module in HOT)


def _segments(router: APIRouter, prefix: str) -> set[str]:
    """The first path segment under the API's prefix of each of the router's
    routes (`workers` for `/api/v1/workers/{account_id}`); `*` for one that is
    a parameter, which shares a segment with everything."""
    found = set()
    for route in router.routes:
        path = prefix + router.prefix + getattr(route, "path", "")
        rest = path.removeprefix(API_PREFIX + "/") if path.startswith(API_PREFIX + "/") else path
        segment = rest.strip("/").split("/")[0]
        found.add("*" if segment.startswith("{") else segment)
    return found


class RequestIdMiddleware:
    """Every response carries `X-Request-ID` (the client's, if sane, else a new
    one), unexpected errors included: this sits outside everything else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = json.dumps(
                {
                    "error": {
                        "code": "INTERNAL_ERROR",
                        "message": "An internal error occurred.",
                        "details": {},
                    },
                    "request_id": request_id,
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
