"""The WebSocket stream (`/api/v1/ws`) and the single-use tickets that let a
browser open it without putting a long-lived token in the URL."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, WebSocket, status
from pydantic import BaseModel, Field

from engine.security.principal import Principal
from engine.security.service import TICKET_SECONDS
from engine.server.deps import viewer
from engine.server.ws import Hub

router = APIRouter(tags=["stream"])


class WsTicket(BaseModel):
    ticket: str = Field(description="single use; pass it as `?ticket=` when opening the stream")
    expires_in: int = Field(description="seconds the ticket stays valid")
    path: str = Field(description="the stream path with the ticket, relative to the server")


@router.post("/ws/ticket", response_model=WsTicket, status_code=status.HTTP_201_CREATED)
async def ws_ticket(request: Request, principal: Principal = Depends(viewer)) -> WsTicket:
    """A ticket for opening the stream as the caller, valid once within 30 s."""
    ticket = await request.app.state.security.issue_ws_ticket(principal)
    path = request.app.url_path_for("stream")
    return WsTicket(ticket=ticket, expires_in=TICKET_SECONDS, path=f"{path}?ticket={ticket}")


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    """v1's stream (SPEC 7). A client that authenticates with `?token=` (where
    the operator allows it) is seed 003's, and gets that API's flat messages."""
    hub: Hub = websocket.app.state.hub
    dialect = websocket.app.state.url_token_socket if "token" in websocket.query_params else None
    await hub.serve(websocket, dialect)
