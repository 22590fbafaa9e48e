"""WebSocket connections: who is connected and to what, stats, and the
administrator's broadcast and disconnect.

Everyone may look; a non-admin sees only its own connections, since the list
names other callers and their addresses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from engine.models import LogRecord
from engine.security.principal import Principal, Role
from engine.server.deps import admin, audited, viewer
from engine.server.errors import ApiError
from engine.server.schemas import Page, Paging
from engine.server.schemas import Request as RequestBody
from engine.server.ws import Connection, Hub

router = APIRouter(prefix="/connections", tags=["connections"])


class SubscriptionInfo(BaseModel):
    channel: str
    accounts: list[str] | None
    symbols: list[str] | None


class ConnectionInfo(BaseModel):
    id: str
    principal: str
    kind: str
    role: Role
    accounts: list[str] | None = Field(description="the key's account scope; null for all")
    auth: str = Field(description="how it authenticated: header, message, ticket or query")
    client: str
    path: str = Field(description="the path it connected to")
    framing: str = Field(description="the wire format it speaks: v1, or a seed dialect's")
    subscriptions: list[SubscriptionInfo]
    queue_depth: int
    sent: int
    dropped: int
    resyncs: int
    connected_at: datetime


class ConnectionStats(BaseModel):
    clients: int
    clients_by_role: dict[str, int]
    subscriptions: dict[str, int] = Field(description="clients subscribed, per channel")
    connections_total: int
    auth_failures: int
    events_routed: int
    messages_sent: int
    dropped: int
    resyncs: int
    queued: int
    disconnects: dict[str, int] = Field(description="closed connections by reason")


class Broadcast(RequestBody):
    message: str = Field(min_length=1, max_length=2000)
    level: Literal["info", "warning", "error"] = "info"


class Broadcasted(BaseModel):
    delivered: int = Field(description="connections the message was queued for")


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _info(conn: Connection) -> ConnectionInfo:
    return ConnectionInfo.model_validate(conn.describe())


def _visible(principal: Principal, conn: Connection) -> bool:
    return principal.role is Role.ADMIN or conn.principal.rate_key == principal.rate_key


@router.get("", response_model=Page[ConnectionInfo])
async def list_connections(
    paging: Paging = Depends(),
    channel: str | None = Query(None, description="only connections subscribed to it"),
    role: Role | None = Query(None),
    hub: Hub = Depends(_hub),
    principal: Principal = Depends(viewer),
) -> Page[ConnectionInfo]:
    rows = [
        _info(conn)
        for conn in hub.connections.values()
        if _visible(principal, conn)
        and (channel is None or channel in conn.subscriptions)
        and (role is None or conn.principal.role is role)
    ]
    return paging.page(rows, key=lambda c: c.connected_at)


@router.get("/stats", response_model=ConnectionStats)
async def connection_stats(
    hub: Hub = Depends(_hub), principal: Principal = Depends(viewer)
) -> ConnectionStats:
    return ConnectionStats.model_validate(hub.stats())


@router.post("/broadcast", response_model=Broadcasted)
async def broadcast(
    body: Broadcast,
    request: Request,
    hub: Hub = Depends(_hub),
    principal: Principal = Depends(admin),
) -> Broadcasted:
    """Send a notice to every connected client: a `logs` event (`LogEvent`) that
    names the sender, whatever the client subscribed to."""
    record = LogRecord(
        time=hub.engine.clock.now(),
        level=body.level,
        message=f"Broadcast from {principal.name}: {body.message}",
    )
    async with audited(request, principal, "connection.broadcast", "connections"):
        delivered = hub.broadcast(record)
    return Broadcasted(delivered=delivered)


@router.delete("/{connection_id}", response_model=ConnectionInfo)
async def disconnect(
    connection_id: str,
    request: Request,
    hub: Hub = Depends(_hub),
    principal: Principal = Depends(admin),
) -> ConnectionInfo:
    """Close one connection (code 1008, after what is queued for it); returns
    it as it was."""
    async with audited(request, principal, "connection.disconnect", f"connection:{connection_id}"):
        conn = hub.connections.get(connection_id)
        if conn is None:
            raise ApiError(404, "NOT_FOUND", f"No connection {connection_id!r}.", id=connection_id)
        info = _info(conn)
        hub.disconnect(connection_id)
    return info
