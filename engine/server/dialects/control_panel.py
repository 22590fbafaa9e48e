"""The control-panel API as its clients know it: the same groups under `/api`.

The seed documents paths, not shapes, so each of its 25 endpoints is the v1
handler under the seed's path and answers v1's shapes: the system, config,
instruments, signals and models groups whole, `POST /api/auth/login`,
`/api/health`, `/api/health/components` and `/api/metrics`. Three exist only
here, as thin calls into the same services: `GET /api/auth/status` (who the
token is, or that there is none; never a 401), and `POST /api/signals/filter`
(the signal query with its filters in a JSON body). Its stream, `/ws`, is
v1's protocol with the connection subscribed on connect to what the seed
lists: system status, signals, alerts (health and risk) and jobs (model
training progress); configuration changes come as `system` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from engine.engine import Engine
from engine.models import Signal
from engine.security.models import TokenPair
from engine.security.principal import Principal, Role
from engine.server.deps import bearer_token, get_engine, viewer
from engine.server.routers import (
    auth,
    config_routes,
    health,
    instruments,
    metrics,
    models,
    signals,
    system,
)
from engine.server.schemas import MAX_SKIP, Page, Paging, error_responses
from engine.server.ws import SocketDialect

TITLE = "control panel"
TAG = "dialect: control panel"
PREFIX = "/api"

router = APIRouter(prefix=PREFIX)
for group in (system, config_routes, instruments, signals, models):
    router.include_router(group.router, tags=[TAG])

extra = APIRouter(tags=[TAG])


class AuthStatus(BaseModel):
    authenticated: bool
    kind: Literal["key", "user"] | None = None
    name: str | None = None
    role: Role | None = None
    accounts: list[str] | None = None
    login: str = Field(description="where a user gets a token")


class SignalFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str | None = None
    strategy: str | None = Field(None, description="a strategy id")
    symbol: str | None = None
    since: datetime | None = None
    skip: int = Field(0, ge=0, le=MAX_SKIP)
    limit: int = Field(50, ge=1, le=500)
    sort: Literal["id", "time", "account_id", "strategy_id", "symbol", "strength"] = "id"
    order: Literal["asc", "desc"] = "desc"


@extra.get("/auth/status", response_model=AuthStatus)
async def auth_status(request: Request) -> AuthStatus:
    """Whether the request's token is good, and whose; a missing or bad token
    is `authenticated: false`, not an error."""
    login = f"{PREFIX}/auth/login"
    token = bearer_token(request)
    principal = None if token is None else await request.app.state.security.authenticate(token)
    if principal is None:
        return AuthStatus(authenticated=False, login=login)
    accounts = None if principal.accounts is None else sorted(principal.accounts)
    return AuthStatus(
        authenticated=True,
        kind=principal.kind,
        name=principal.name,
        role=principal.role,
        accounts=accounts,
        login=login,
    )


extra.add_api_route(
    "/auth/login", auth.login, methods=["POST"], response_model=TokenPair, name="login"
)
extra.add_api_route("/health", health.health, methods=["GET"], response_model=health.Health)
extra.add_api_route(
    "/health/components",
    system.component_health,
    methods=["GET"],
    response_model=system.ComponentsHealth,
)
extra.add_api_route(
    "/metrics", metrics.metrics, methods=["GET"], response_class=Response, name="metrics"
)


@extra.post("/signals/filter", response_model=Page[Signal], responses=error_responses(401, 422))
async def filter_signals(
    body: SignalFilter,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Signal]:
    paging = Paging(body.skip, body.limit, body.sort, body.order)
    return await signals.list_signals(
        paging, body.account, body.strategy, body.symbol, body.since, engine, principal
    )


router.include_router(extra)

STREAM = SocketDialect(
    "control_panel",
    channels=("system", "signals", "alerts", "jobs"),
    # The strategies/portfolio API's channel names (seed 004) on the same path.
    aliases={
        "portfolio_updates": "portfolio",
        "trade_notifications": "fills",
        "order_fills": "orders",
    },
)
sockets = APIRouter()


@sockets.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    await websocket.app.state.hub.serve(websocket, STREAM)
