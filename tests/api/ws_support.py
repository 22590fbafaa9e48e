"""A small `websockets` client for the stream tests: JSON in and out, reading
until a message matches, and the close code when the server hangs up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

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


def ws_url(http_url: str, query: str = "", path: str = "/api/v1/ws") -> str:
    return http_url.replace("http://", "ws://", 1) + path + (f"?{query}" if query else "")


@asynccontextmanager
async def connect(
    http_url: str,
    token: str | None = None,
    *,
    query: str = "",
    path: str = "/api/v1/ws",
    welcome: bool = True,
    **options: Any,
) -> AsyncIterator[Stream]:
    """A stream authenticated by header with `token` (if given); with `welcome`,
    the server's auth ack is read first."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Unread messages never pause the client's reading, so closing never waits on them.
    options.setdefault("max_queue", None)
    async with websockets.connect(
        ws_url(http_url, query, path), additional_headers=headers, open_timeout=WAIT, **options
    ) as ws:
        stream = Stream(ws)
        if welcome:
            ack = await stream.recv()
            assert ack["type"] == "ack" and ack["data"]["action"] == "auth", ack
        yield stream
