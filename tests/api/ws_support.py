"""Stream test support: a small `websockets` client (JSON in and out, reading
until a message matches, the close code when the server hangs up) and a way
to serve an engine built with non-default server settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from config.models import Settings
from engine.api.app import create_app
from engine.api.server import ServerHandle
from engine.engine import Engine
from engine.security.principal import Role
from engine.security.service import Security

Message = dict[str, Any]
WAIT = 5.0  # seconds of real time a message may take before a test fails


class Stream:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Message] = []

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = WAIT) -> Message:
        message: Message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(message)
        return message

    async def until(self, match: Callable[[Message], bool], timeout: float = WAIT) -> Message:
        """The first message that matches, reading past the rest."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if match(message):
                    return message

    async def expect(self, type_: str, channel: str | None = None) -> Message:
        return await self.until(
            lambda m: m["type"] == type_ and (channel is None or m["channel"] == channel)
        )

    async def subscribe(self, channel: str, **filters: Any) -> Message:
        """Subscribe and return the opening snapshot (after its ack)."""
        await self.send(action="subscribe", channel=channel, **filters)
        ack = await self.expect("ack", channel)
        assert ack["data"]["action"] == "subscribe", ack
        return await self.expect("snapshot", channel)

    async def closed(self, timeout: float = WAIT) -> tuple[int | None, str]:
        """Read until the server closes; its close code and reason."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self.seen.append(json.loads(await self.ws.recv()))
        except websockets.ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame else (None, "")


def ws_url(http_url: str, query: str = "") -> str:
    return http_url.replace("http://", "ws://", 1) + "/api/v1/ws" + (f"?{query}" if query else "")


@asynccontextmanager
async def connect(
    http_url: str,
    token: str | None = None,
    *,
    query: str = "",
    welcome: bool = True,
    **options: Any,
) -> AsyncIterator[Stream]:
    """A stream authenticated by header with `token` (if given); with `welcome`,
    the server's auth ack is read first."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with websockets.connect(
        ws_url(http_url, query), additional_headers=headers, open_timeout=WAIT, **options
    ) as ws:
        stream = Stream(ws)
        if welcome:
            ack = await stream.recv()
            assert ack["type"] == "ack" and ack["data"]["action"] == "auth", ack
        yield stream


@dataclass
class Served:
    """The real API on a loopback port for an engine a test built itself
    (for settings the shared `api` fixture does not use)."""

    engine: Engine
    app: Any
    handle: ServerHandle
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.handle.port}"

    async def stop(self) -> None:
        """As the service does: WebSocket clients first, then the server."""
        await self.app.state.hub.close()
        await self.handle.stop()


async def serve(engine: Engine, secret: Path, *, port: int = 0) -> Served:
    security = await Security.open(
        engine.store, engine.settings.server, secret_path=secret, clock=engine.clock
    )
    keys = {}
    for role in Role:
        _, keys[role.value] = await security.create_key(role=role, name=f"ws-{role.value}")
    app = create_app(engine, security)
    handle = ServerHandle(app, "127.0.0.1", port)
    await handle.start()
    return Served(engine, app, handle, keys)


def with_server(settings: Settings, **server: Any) -> Settings:
    """`settings` with some `[server]` values replaced."""
    return settings.model_copy(update={"server": settings.server.model_copy(update=server)})
