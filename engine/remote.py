"""`RemoteEngineClient`: the panel's `EngineClient` for an engine on another
machine, over the REST + WebSocket API.

Commands and snapshots are REST calls (httpx); events come over one WebSocket.
When the stream drops, the client reconnects with exponential backoff and
hands the panel a `ResyncEvent`, so it repaints from a fresh snapshot. The
token's role decides `permissions`, and the panel disables the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets
from pydantic import TypeAdapter

from config.issues import ValidationReport
from engine.client import ACTIONS
from engine.errors import Conflict, EngineError, InvalidRequest, NotFound, Unavailable
from engine.models import (
    Alert,
    Event,
    ResyncEvent,
    Snapshot,
    WorkerDetail,
    WorkerInfo,
)

log = logging.getLogger("tradedeck.remote")

CHANNELS = (
    "system",
    "workers",
    "orders",
    "fills",
    "positions",
    "portfolio",
    "alerts",
    "ticker",
    "logs",
)
_EVENT = TypeAdapter(Event)
_ERRORS: dict[str, type[EngineError]] = {
    "NOT_FOUND": NotFound,
    "CONFLICT": Conflict,
    "INVALID_REQUEST": InvalidRequest,
    "SERVICE_UNAVAILABLE": Unavailable,
}


class RemoteError(EngineError):
    """An error the server reported, with its code and the server's sentence."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message, status=status)
        self.code = code


class RemoteEngineClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self._reconnect = (reconnect_initial, reconnect_max)
        self.role: str | None = None
        self.connected = False
        self._streams: set[_Stream] = set()

    @property
    def description(self) -> str:
        return self.url

    @property
    def permissions(self) -> frozenset[str]:
        return ACTIONS if self.role in ("trader", "admin") else frozenset()

    async def connect(self) -> None:
        """Check the token and learn its role; raises `RemoteError` when refused."""
        me = await self._call("GET", "/auth/me")
        self.role = str(me["role"])
        self.connected = True

    async def snapshot(self) -> Snapshot:
        return Snapshot.model_validate(await self._call("GET", "/snapshot"))

    def subscribe(self) -> _Stream:
        stream = _Stream(self)
        self._streams.add(stream)
        return stream

    async def start_worker(self, account_id: str) -> WorkerInfo:
        return WorkerInfo.model_validate(await self._call("POST", f"/workers/{account_id}/start"))

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        body = {"timeout": timeout} if timeout is not None else None
        data = await self._call("POST", f"/workers/{account_id}/stop", json=body)
        return WorkerInfo.model_validate(data)

    async def restart_worker(self, account_id: str) -> WorkerInfo:
        return WorkerInfo.model_validate(await self._call("POST", f"/workers/{account_id}/restart"))

    async def start_all(self) -> list[WorkerInfo]:
        data = await self._call("POST", "/workers/start-all")
        return [WorkerInfo.model_validate(w) for w in data["started_workers"].values()]

    async def stop_all(self) -> int:
        return int((await self._call("POST", "/workers/stop-all"))["stopped_count"])

    async def validate_worker(self, account_id: str) -> ValidationReport:
        detail = await self.worker_detail(account_id)
        return detail.validation

    async def worker_detail(self, account_id: str) -> WorkerDetail:
        return WorkerDetail.model_validate(await self._call("GET", f"/workers/{account_id}/detail"))

    async def acknowledge_alert(self, alert_id: int) -> Alert:
        return Alert.model_validate(
            await self._call("POST", f"/risk/alerts/{alert_id}/acknowledge")
        )

    async def close(self) -> None:
        for stream in list(self._streams):
            await stream.close()
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            self.connected = False
            raise Unavailable(f"Cannot reach {self.url}: {error}") from error
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "INTERNAL_ERROR", f"{response.status_code} {response.reason_phrase}"
        kind = _ERRORS.get(code)
        if kind is not None:
            raise kind(message)
        raise RemoteError(code, message, response.status_code)

    def _ws_url(self) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/api/v1/ws"


class _Stream:
    """Events from the WebSocket, reconnecting with backoff; each reconnect
    is announced with a `ResyncEvent`."""

    def __init__(self, client: RemoteEngineClient) -> None:
        self._client = client
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=10_000)
        self._task = asyncio.create_task(self._run(), name="remote:stream")

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._client._streams.discard(self)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # The panel fell behind: drop the backlog and ask it to resnapshot.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(ResyncEvent(time=event.time))

    async def _run(self) -> None:
        client = self._client
        initial, ceiling = client._reconnect
        delay = initial
        first = True
        while True:
            try:
                async with websockets.connect(
                    client._ws_url(),
                    additional_headers={"Authorization": f"Bearer {client._token}"},
                    max_size=4 * 1024 * 1024,
                    open_timeout=10,
                ) as ws:
                    for channel in CHANNELS:
                        await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
                    client.connected = True
                    delay = initial
                    if not first:
                        self._put(ResyncEvent(time=_now()))
                    first = False
                    async for raw in ws:
                        self._handle(raw)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.info(
                    "stream from %s lost (%s); reconnecting in %.1fs", client.url, error, delay
                )
            client.connected = False
            await asyncio.sleep(delay)
            delay = min(ceiling, delay * 2)

    def _handle(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "event":
            self._put(_EVENT.validate_python(message["data"]))
        elif kind == "resync":
            self._put(ResyncEvent(time=_now()))


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
