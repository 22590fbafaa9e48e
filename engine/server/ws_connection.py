"""One WebSocket client as the hub sees it: its subscriptions, its one bounded
queue (plus the latest frame per symbol of conflated channels), and the
sender task that drains them, stamping `seq` as it writes."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from starlette.websockets import WebSocket

from engine.clock import Clock
from engine.security.principal import Principal
from engine.server.ws_channels import Channel, View
from engine.server.ws_protocol import CLOSE_TRY_LATER, Frame, Framing


class Subscription:
    """One connection's interest in one channel. While its opening snapshot is
    being built, matching events wait in `pending` so none fall in the gap."""

    __slots__ = ("channel", "connection", "id", "pending", "view")

    def __init__(
        self, connection: Connection, channel: Channel, view: View, id: str | None
    ) -> None:
        self.connection = connection
        self.channel = channel
        self.view = view
        self.id = id
        self.pending: list[tuple[Frame, str | None]] | None = []

    def offer(self, frame: Frame, symbol: str | None) -> None:
        if self.pending is not None:
            self.pending.append((frame, symbol))
            if len(self.pending) > self.connection.queue_size:
                self.connection.overflow(len(self.pending))
                self.pending.clear()
        elif self.channel.conflate and symbol is not None:
            self.connection.push_latest((self.channel.name, symbol), frame)
        else:
            self.connection.push(frame)

    def go_live(self) -> None:
        pending, self.pending = self.pending or [], None
        for frame, symbol in pending:
            self.offer(frame, symbol)

    def describe(self) -> dict[str, Any]:
        view = self.view
        return {
            "channel": self.channel.name,
            "accounts": sorted(view.accounts) if view.accounts is not None else None,
            "symbols": sorted(view.symbols) if view.symbols is not None else None,
        }


class Connection:
    """One authenticated client: its subscriptions, its one bounded queue, and
    the sender task that drains it."""

    def __init__(
        self,
        websocket: WebSocket,
        principal: Principal,
        *,
        clock: Clock,
        queue_size: int,
        max_overflows: int,
        auth_method: str,
        framing: Framing | None = None,
        path: str = "",
    ) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.framing = framing  # None: the v1 protocol (SPEC 7)
        self.aliases: Mapping[str, str] = {}  # a dialect's channel names
        self.path = path
        self.websocket = websocket
        self.principal = principal
        self.auth_method = auth_method
        self.connected_at = clock.now()
        self.queue_size = queue_size
        self.max_overflows = max_overflows
        self._clock = clock
        client = websocket.client
        self.client = f"{client.host}:{client.port}" if client else ""
        self.subscriptions: dict[str, Subscription] = {}
        self.seq = 0
        self.sent = 0
        self.dropped = 0
        self.resyncs = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_label = "client"
        self.closed = asyncio.Event()
        self._queue: deque[Frame] = deque()
        self._latest: dict[tuple[str, str], Frame] = {}
        self._lost = 0
        self._overflows = 0
        self._waiter: asyncio.Future[None] | None = None
        self._sending_since: float | None = None
        self._errors: deque[float] = deque()
        self._sender: asyncio.Task[None] | None = None

    @property
    def queue_depth(self) -> int:
        return len(self._queue) + len(self._latest)

    # --- filled by the hub (synchronous, never blocks) --------------------------

    def push(self, frame: Frame) -> None:
        if len(self._queue) >= self.queue_size:
            self.overflow(len(self._queue))
            self._queue.clear()
        self._queue.append(frame)
        self._wake()

    def push_latest(self, key: tuple[str, str], frame: Frame) -> None:
        self._latest[key] = frame
        self._wake()

    def discard_latest(self, channel: str) -> None:
        """Forget unsent conflated frames of a channel the client left."""
        for key in [k for k in self._latest if k[0] == channel]:
            del self._latest[key]

    def overflow(self, lost: int) -> None:
        """The client fell `lost` messages behind: they are dropped and a
        `resync` goes out next; falling behind again before catching up
        `max_overflows` times disconnects it."""
        self.dropped += lost
        self._lost += lost
        self._overflows += 1
        if self._overflows >= self.max_overflows:
            self.close(CLOSE_TRY_LATER, "Too slow: fell behind repeatedly.", label="slow")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # --- the sender -------------------------------------------------------------

    async def send_loop(self) -> None:
        send = self.websocket.send_text
        framing = self.framing
        loop = asyncio.get_running_loop()
        while True:
            frames = self._take()
            if not frames:
                if self.close_code is not None:
                    return  # drained before closing
                self._overflows = 0  # caught up
                self._waiter = loop.create_future()
                await self._waiter
                continue
            for frame in frames:
                if framing is None:
                    text = frame.render(self.seq + 1)
                else:  # a seed's format: no seq, and some frames left out
                    shaped = frame.shaped(framing)
                    if shaped is None:
                        continue
                    text = shaped
                self.seq += 1
                self._sending_since = loop.time()
                await send(text)
                self.sent += 1
            self._sending_since = None

    def _take(self) -> list[Frame]:
        frames: list[Frame] = []
        if self._lost:
            self.resyncs += 1
            data = {"dropped": self._lost, "channels": sorted(self.subscriptions)}
            frames.append(Frame("resync", None, self._clock.now(), data))
            self._lost = 0
        if self._queue:
            frames.extend(self._queue)
            self._queue.clear()
        if self._latest:
            frames.extend(self._latest.values())
            self._latest.clear()
        return frames

    def stalled_for(self, now: float) -> float:
        """Seconds the current send has been blocked (0 when not sending)."""
        return 0.0 if self._sending_since is None else now - self._sending_since

    # --- closing ----------------------------------------------------------------

    def close(self, code: int, reason: str, *, label: str, drain: bool = False) -> None:
        """Ask the connection to close; the first reason wins. With `drain` the
        sender first sends what is queued (the errors that led to it, say);
        without, it stops now. Safe to call from the bus listener: it only sets
        fields and wakes or cancels the sender task."""
        if self.close_code is None:
            self.close_code, self.close_reason, self.close_label = code, reason, label
        if drain:
            self._wake()
        elif self._sender is not None:
            self._sender.cancel()

    def note_error(self, now: float, window: float) -> int:
        """Count a protocol error; returns how many fell in the last `window` seconds."""
        errors = self._errors
        errors.append(now)
        while errors and errors[0] < now - window:
            errors.popleft()
        return len(errors)

    def describe(self) -> dict[str, Any]:
        principal = self.principal
        return {
            "id": self.id,
            "principal": principal.name,
            "kind": principal.kind,
            "role": principal.role.value,
            "accounts": sorted(principal.accounts) if principal.accounts is not None else None,
            "auth": self.auth_method,
            "client": self.client,
            "path": self.path,
            "framing": self.framing.name if self.framing is not None else "v1",
            "subscriptions": [s.describe() for s in self.subscriptions.values()],
            "queue_depth": self.queue_depth,
            "sent": self.sent,
            "dropped": self.dropped,
            "resyncs": self.resyncs,
            "connected_at": self.connected_at,
        }
