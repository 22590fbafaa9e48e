"""The WebSocket hub: fans the engine's events out to every connected client.

The hub listens on the engine's bus synchronously and does the least it can
there: route the event to the subscriptions that match it and append one
shared `Frame` to each client's bounded queue. Conflated channels (`ticker`)
cost one dict write per event on that path: the hub keeps the latest event per
symbol and hands those to the matching clients at most once per
`ws_ticker_interval_ms` (then each client keeps the latest frame per symbol
until its sender takes it), so the clients' count multiplies the few flushed
quotes, never the market's tick rate. Each client has one sender task that
stamps `seq` and writes; the JSON is built once per event, on first send. A
client whose queue overflows loses its backlog and gets a `resync`; one that
overflows `max_overflows` times without catching up, or whose socket stays
blocked for `send_timeout` seconds, is disconnected (1013). Nothing a client
does can make the engine wait.

Timers (the auth timeout, heartbeats, send stalls, the ticker's interval) run
on the event loop's clock: they pace sockets, not trading, so the engine's
(possibly virtual) clock only stamps `ts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from config.models import ServerSettings
from engine.engine import Engine
from engine.market.prints import TradePrints
from engine.models import EVENT_CHANNELS, Event, LogEvent, LogRecord, MarketTradeEvent
from engine.security.principal import Principal
from engine.server.ws_channels import (
    CHANNELS,
    Channel,
    Rescope,
    View,
    event_channel,
    event_keys,
)
from engine.server.ws_connection import Connection, Subscription
from engine.server.ws_protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TRY_LATER,
    FORBIDDEN,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    UNKNOWN_CHANNEL,
    Auth,
    Frame,
    Framing,
    MessageType,
    Ping,
    ProtocolError,
    Subscribe,
    parse,
)

log = logging.getLogger("tradedeck.api.ws")

# Query parameters that would carry a long-lived credential: refused, but for
# `token` where the operator allows it ([server.dialects] ws_query_token).
_URL_CREDENTIALS = ("token", "access_token", "api_key", "apikey", "key", "jwt")


@dataclasses.dataclass(frozen=True)
class SocketDialect:
    """A seed's WebSocket path served by the same hub: the same authentication,
    queues and back-pressure, with the seed's wire format (`framing`; None for
    v1's), channels subscribed on connect, and optionally a `companion` that
    runs beside the connection (a periodic push) until it closes."""

    name: str
    framing: Framing | None = None
    channels: tuple[str, ...] = ()
    companion: Callable[[Hub, Connection], Awaitable[None]] | None = None
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)  # seed name -> channel


# How long an orderly close waits for the client's queue to flush.
_DRAIN_SECONDS = 2.0


class Hub:
    """Every WebSocket client of one API app. `close()` disconnects them all
    (1001) and detaches from the engine; the server's owner calls it before
    stopping uvicorn."""

    def __init__(
        self,
        engine: Engine,
        settings: ServerSettings,
        security: Any,
        *,
        max_overflows: int = 3,
        send_timeout: float = 10.0,
        error_limit: int = 20,
        error_window: float = 60.0,
    ) -> None:
        self.engine = engine
        self.security = security
        self.settings = settings
        self.heartbeat_seconds = settings.ws_heartbeat_seconds
        self.auth_timeout = settings.ws_auth_timeout_seconds
        self.query_token = settings.dialects.ws_query_token
        self.queue_size = settings.ws_queue_size
        self.ticker_interval = settings.ws_ticker_interval_ms / 1000
        self.max_overflows = max_overflows
        self.send_timeout = send_timeout
        self.error_limit = error_limit
        self.error_window = error_window
        self.connections: dict[str, Connection] = {}
        self.connections_total = 0
        self.auth_failures = 0
        self.events = 0
        self.disconnects: Counter[str] = Counter()
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        # Conflated channels' latest (event, account) per (channel, symbol), not yet handed out.
        self._latest: dict[tuple[str, str], tuple[Event, str | None]] = {}
        self._flush: asyncio.Handle | None = None
        self._flushed_at = -math.inf
        self._gone = Counter[str]()  # sent/dropped/resyncs of closed connections
        self._housekeeper: asyncio.Task[None] | None = None
        self._closed = False
        self._on_close: list[Callable[[], None]] = []
        self._prints = TradePrints()  # the `trades` channel's, while it has subscribers
        engine.bus.add_listener(self._on_event)

    # --- the bus listener: the only code on the engine's path ------------------

    def _on_event(self, event: Event) -> None:
        if event.kind == "quote" and self._routes.get("trades"):
            trade = self._prints.on_quote(event.quote)  # type: ignore[union-attr]
            if trade is not None:
                self._on_event(MarketTradeEvent(time=trade.time, trade=trade))
        channel = event_channel(event)
        if channel is None:
            return
        routes = self._routes.get(channel)
        if not routes:
            return
        self.events += 1
        account, symbol = event_keys(event)
        if symbol is not None and channel in CHANNELS.conflated:
            self._latest[channel, symbol] = (event, account)
            if self._flush is None:
                self._schedule_flush()
            return
        self._route(routes, channel, event, account, symbol)

    def _route(
        self,
        routes: tuple[Subscription, ...],
        channel: str,
        event: Event,
        account: str | None,
        symbol: str | None,
    ) -> None:
        frame = Frame.for_event(channel, event)
        rescope = CHANNELS.rescopes.get(channel)
        if rescope is not None:
            self._offer_rescoped(routes, channel, event, frame, rescope)
            return
        for subscription in routes:
            if subscription.view.matches(account, symbol):
                subscription.offer(frame, symbol)

    def _schedule_flush(self) -> None:
        """Hand the conflated events out at the end of this loop turn (all the
        quotes of one market step at once), or, if the last hand-out was less
        than `ticker_interval` ago, when that interval is up."""
        loop = asyncio.get_running_loop()
        due = self._flushed_at + self.ticker_interval
        if due <= loop.time():
            self._flush = loop.call_soon(self._flush_latest)
        else:
            self._flush = loop.call_at(due, self._flush_latest)

    def _flush_latest(self) -> None:
        self._flush = None
        self._flushed_at = asyncio.get_running_loop().time()
        latest, self._latest = self._latest, {}
        for (channel, symbol), (event, account) in latest.items():
            routes = self._routes.get(channel)
            if routes:
                self._route(routes, channel, event, account, symbol)

    def _offer_rescoped(
        self,
        routes: tuple[Subscription, ...],
        channel: str,
        event: Event,
        frame: Frame,
        rescope: Rescope,
    ) -> None:
        """An event of a channel with totals over every account (`system`):
        subscribers limited to some accounts get it narrowed to theirs, built
        once per distinct set of accounts."""
        account, symbol = event_keys(event)
        narrowed: dict[frozenset[str], Frame] = {}
        for subscription in routes:
            view = subscription.view
            if not view.matches(account, symbol):
                continue
            if view.accounts is None:
                subscription.offer(frame, symbol)
                continue
            scoped = narrowed.get(view.accounts)
            if scoped is None:
                scoped = Frame.for_event(channel, rescope(self.engine, event, view.accounts))
                narrowed[view.accounts] = scoped
            subscription.offer(scoped, symbol)

    # --- serving one client -----------------------------------------------------

    async def serve(self, websocket: WebSocket, dialect: SocketDialect | None = None) -> None:
        """The whole life of one connection: accept, authenticate, then run its
        receiver and its sender (and a dialect's companion) until one ends."""
        await websocket.accept()
        if self._closed:
            await _close(websocket, CLOSE_GOING_AWAY, "The server is shutting down.")
            return
        authenticated = await self._authenticate(websocket)
        if authenticated is None:
            return
        principal, method, auth_id = authenticated
        conn = Connection(
            websocket,
            principal,
            clock=self.engine.clock,
            queue_size=self.queue_size,
            max_overflows=self.max_overflows,
            auth_method=method,
            framing=dialect.framing if dialect is not None else None,
            path=websocket.url.path,
        )
        if dialect is not None:
            conn.aliases = dialect.aliases
        self.connections[conn.id] = conn
        self.connections_total += 1
        self._start_housekeeping()
        conn.push(self.frame("ack", None, self._welcome(conn, auth_id)))
        sender = asyncio.create_task(conn.send_loop(), name=f"ws:{conn.id}:send")
        conn._sender = sender
        receiver = asyncio.create_task(self._receive_loop(conn), name=f"ws:{conn.id}:receive")
        tasks = [sender, receiver]
        try:
            if dialect is not None:
                await self._preset(conn, dialect, tasks)
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if conn.close_code is not None and not sender.done():
                # An orderly close (abuse, an administrator): flush the queue first.
                await asyncio.wait((sender,), timeout=_DRAIN_SECONDS)
        finally:
            for task in tasks:
                task.cancel()
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect):
                    log.error("websocket %s failed", conn.id, exc_info=result)
            self._forget(conn)
            if conn.close_code is not None:
                await _close(websocket, conn.close_code, conn.close_reason)
            conn.closed.set()

    async def _preset(
        self, conn: Connection, dialect: SocketDialect, tasks: list[asyncio.Task[None]]
    ) -> None:
        """What a dialect's path does for its clients on connect: subscribe them
        to its channels, start its companion."""
        for name in dialect.channels:
            try:
                await self._open(conn, Subscribe(action="subscribe", channel=name))
            except ProtocolError as exc:
                conn.push(self.frame("error", name, exc.data()))
        if dialect.companion is not None:
            push = asyncio.create_task(dialect.companion(self, conn), name=f"ws:{conn.id}:push")
            tasks.append(push)

    async def _authenticate(self, websocket: WebSocket) -> tuple[Principal, str, str | None] | None:
        """Header, ticket, first message, or `?token=` where the operator allows
        it; None after closing with 1008."""
        params = websocket.query_params
        in_url = [name for name in _URL_CREDENTIALS if name in params]
        if in_url and (in_url != ["token"] or not self.query_token):
            # A close reason holds 123 bytes: the switch's name must fit.
            return await self._refuse(
                websocket,
                "URL tokens are off here ([server.dialects] ws_query_token): use the "
                "Authorization header, an auth message or a ticket."
                if "token" in in_url
                else "Tokens are not accepted in the URL (URLs end up in logs): send the "
                "Authorization header, an auth message, or a ticket from POST /api/v1/ws/ticket.",
            )
        token = _header_token(websocket.headers)
        auth_id: str | None = None
        if in_url:
            method = "query"
            principal = await self.security.authenticate(params["token"])
        elif token is not None:
            method = "header"
            principal = await self.security.authenticate(token)
        elif "ticket" in params:
            method = "ticket"
            principal = await self.security.redeem_ws_ticket(params["ticket"])
        else:
            method = "message"
            try:
                async with asyncio.timeout(self.auth_timeout):
                    message = await websocket.receive()
            except TimeoutError:
                return await self._refuse(websocket, "No authentication within the time allowed.")
            if message["type"] == "websocket.disconnect":
                return None
            try:
                first = parse(message.get("text") or "")
            except ProtocolError as exc:
                return await self._refuse(websocket, f"Authenticate first: {exc.message}")
            if not isinstance(first, Auth):
                return await self._refuse(
                    websocket, 'The first message must be {"action": "auth", "token": "..."}.'
                )
            auth_id = first.id
            principal = await self.security.authenticate(first.token)
        if principal is None:
            reason = "The ticket is invalid, used or expired." if method == "ticket" else ""
            return await self._refuse(
                websocket, reason or "The token is invalid, expired or revoked."
            )
        return principal, method, auth_id

    async def _refuse(self, websocket: WebSocket, reason: str) -> None:
        self.auth_failures += 1
        await _close(websocket, CLOSE_POLICY, reason)

    def _welcome(self, conn: Connection, auth_id: str | None) -> dict[str, Any]:
        principal = conn.principal
        return {
            "action": "auth",
            "id": auth_id,
            "connection_id": conn.id,
            "principal": principal.name,
            "role": principal.role.value,
            "accounts": sorted(principal.accounts) if principal.accounts is not None else None,
            "channels": CHANNELS.names,
            "heartbeat_seconds": self.heartbeat_seconds,
        }

    async def _receive_loop(self, conn: Connection) -> None:
        websocket = conn.websocket
        loop = asyncio.get_running_loop()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                code = message.get("code", 1000)
                conn.close_label = "oversize" if code == CLOSE_TOO_BIG else "client"
                return
            try:
                text = message.get("text")
                if text is None:
                    raise ProtocolError(INVALID_REQUEST, "Send JSON text frames, not binary.")
                await self._handle(conn, text)
            except ProtocolError as exc:
                channel = exc.channel if exc.channel and CHANNELS.get(exc.channel) else None
                conn.push(self.frame("error", channel, exc.data()))
                if conn.note_error(loop.time(), self.error_window) >= self.error_limit:
                    conn.close(
                        CLOSE_POLICY, "Too many invalid messages.", label="abuse", drain=True
                    )
                    return

    async def _handle(self, conn: Connection, text: str) -> None:
        message = parse(text)
        if isinstance(message, Ping):
            conn.push(self.frame("ack", None, {"action": "ping", "id": message.id}))
            return
        if isinstance(message, Auth):
            raise ProtocolError(INVALID_REQUEST, "This connection is already authenticated.")
        if message.channel in conn.aliases:
            message = message.model_copy(update={"channel": conn.aliases[message.channel]})
        channel = _channel(message)
        if message.action == "unsubscribe":
            kept = self._narrow(conn, channel.name, message.symbols)
            conn.push(self.frame("ack", channel.name, _ack_data(message, kept)))
            return
        await self._open(conn, message)

    async def _open(self, conn: Connection, message: Subscribe) -> None:
        """A subscription (ack, snapshot, then live events) or a snapshot."""
        channel = _channel(message)
        filtered = bool(message.accounts or message.symbols)
        current = conn.subscriptions.get(channel.name)
        if message.action == "snapshot" and current is not None and not filtered:
            view = current.view
        else:
            view = _view(conn.principal, channel, message)
        if message.action == "snapshot":
            conn.push(
                self.frame("snapshot", channel.name, await self._snapshot(channel, view, message))
            )
            return
        subscription = Subscription(conn, channel, view, message.id)
        self._subscribe(conn, subscription)
        conn.push(self.frame("ack", channel.name, _ack_data(message, subscription)))
        try:
            data = await self._snapshot(channel, view, message)
        except ProtocolError:
            self._unsubscribe(conn, channel.name)
            raise
        conn.push(self.frame("snapshot", channel.name, data))
        subscription.go_live()

    async def _snapshot(self, channel: Channel, view: View, message: Subscribe) -> dict[str, Any]:
        try:
            return await channel.snapshot(self.engine, view)
        except Exception:
            log.exception("snapshot of %s failed", channel.name)
            raise ProtocolError(
                INTERNAL_ERROR,
                f"The {channel.name} snapshot could not be built.",
                channel=channel.name,
                id=message.id,
            ) from None

    # --- subscriptions ----------------------------------------------------------

    def _subscribe(self, conn: Connection, subscription: Subscription) -> None:
        name = subscription.channel.name
        conn.subscriptions[name] = subscription
        self._reroute(name)

    def _narrow(
        self, conn: Connection, name: str, symbols: list[str] | None
    ) -> Subscription | None:
        """Unsubscribe from some symbols of a channel (all when None, or when
        none would be left); the subscription that remains, if any."""
        current = conn.subscriptions.get(name)
        if current is None or not symbols or current.view.symbols is None:
            self._unsubscribe(conn, name)
            return None
        left = current.view.symbols - set(symbols)
        if not left:
            self._unsubscribe(conn, name)
            return None
        current.view = dataclasses.replace(current.view, symbols=frozenset(left))
        return current

    def _unsubscribe(self, conn: Connection, name: str) -> None:
        if conn.subscriptions.pop(name, None) is not None:
            self._reroute(name)
            conn.discard_latest(name)

    def _reroute(self, name: str) -> None:
        """Rebuild one channel's route table (a tuple, so the listener never sees
        it change while iterating)."""
        self._routes[name] = tuple(
            c.subscriptions[name] for c in self.connections.values() if name in c.subscriptions
        )
        if name == "trades" and not self._routes[name]:
            self._prints.forget()

    def _forget(self, conn: Connection) -> None:
        if self.connections.pop(conn.id, None) is None:
            return
        for name in conn.subscriptions:
            self._reroute(name)
        self._gone.update(sent=conn.sent, dropped=conn.dropped, resyncs=conn.resyncs)
        self.disconnects[conn.close_label] += 1

    # --- for the endpoints ------------------------------------------------------

    def frame(self, type_: MessageType, channel: str | None, data: Any) -> Frame:
        return Frame(type_, channel, self.engine.clock.now(), data)

    def disconnect(
        self, connection_id: str, reason: str = "Disconnected by an administrator."
    ) -> bool:
        conn = self.connections.get(connection_id)
        if conn is None:
            return False
        conn.close(CLOSE_POLICY, reason, label="admin", drain=True)
        return True

    def broadcast(self, record: LogRecord) -> int:
        """A notice to every client, subscribed or not, as a `logs` event: an
        ordinary `LogEvent`, so any client that reads events can show it."""
        event = LogEvent(time=record.time, record=record)
        frame = Frame.for_event(EVENT_CHANNELS[event.kind], event)
        for conn in self.connections.values():
            conn.push(frame)
        return len(self.connections)

    def stats(self) -> dict[str, Any]:
        live = list(self.connections.values())
        subscriptions: Counter[str] = Counter()
        for conn in live:
            subscriptions.update(conn.subscriptions.keys())
        return {
            "clients": len(live),
            "clients_by_role": dict(Counter(c.principal.role.value for c in live)),
            "subscriptions": {name: subscriptions.get(name, 0) for name in CHANNELS.names},
            "connections_total": self.connections_total,
            "auth_failures": self.auth_failures,
            "events_routed": self.events,
            "messages_sent": self._gone["sent"] + sum(c.sent for c in live),
            "dropped": self._gone["dropped"] + sum(c.dropped for c in live),
            "resyncs": self._gone["resyncs"] + sum(c.resyncs for c in live),
            "queued": sum(c.queue_depth for c in live),
            "disconnects": dict(self.disconnects),
        }

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the hub closes (the app's other bus listeners)."""
        self._on_close.append(callback)

    async def close(self, timeout: float = 5.0) -> None:
        """Close every client with 1001 and stop listening to the engine."""
        if self._closed:
            return
        self._closed = True
        self.engine.bus.remove_listener(self._on_event)
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._latest.clear()
        for callback in self._on_close:
            callback()
        live = list(self.connections.values())
        for conn in live:
            conn.close(CLOSE_GOING_AWAY, "The server is shutting down.", label="shutdown")
        if live:
            waits = [asyncio.ensure_future(c.closed.wait()) for c in live]
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for waiter in pending:
                waiter.cancel()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None

    # --- heartbeats and stalled senders ------------------------------------------

    def _start_housekeeping(self) -> None:
        if self._housekeeper is None or self._housekeeper.done():
            self._housekeeper = asyncio.create_task(self._housekeeping(), name="ws:housekeeping")

    async def _housekeeping(self) -> None:
        """One timer for all clients: a shared heartbeat frame every
        `heartbeat_seconds`, and disconnection of senders blocked too long."""
        loop = asyncio.get_running_loop()
        tick = min(self.heartbeat_seconds, self.send_timeout / 4, 1.0)
        next_beat = loop.time() + self.heartbeat_seconds
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            heartbeat = None
            if now >= next_beat:
                next_beat = now + self.heartbeat_seconds
                heartbeat = self.frame("heartbeat", None, {})
            for conn in list(self.connections.values()):
                if conn.stalled_for(now) > self.send_timeout:
                    conn.close(
                        CLOSE_TRY_LATER, "Too slow: the socket stopped draining.", label="slow"
                    )
                elif heartbeat is not None:
                    conn.push(heartbeat)


def _view(principal: Principal, channel: Channel, message: Subscribe) -> View:
    """The subscription's filters within the principal's account scope; asking
    for an account outside the scope is refused."""
    scope = principal.accounts
    accounts = frozenset(message.accounts) if message.accounts else None
    if scope is not None:
        if accounts is None:
            accounts = scope
        elif outside := accounts - scope:
            raise ProtocolError(
                FORBIDDEN,
                f"This token may not see account(s) {', '.join(sorted(outside))}.",
                channel=channel.name,
                id=message.id,
            )
    return View(
        accounts=accounts,
        symbols=frozenset(message.symbols) if message.symbols else None,
        require_account=channel.account_bound and scope is not None,
    )


def _channel(message: Subscribe) -> Channel:
    channel = CHANNELS.get(message.channel)
    if channel is None:
        raise ProtocolError(
            UNKNOWN_CHANNEL,
            f"Unknown channel {message.channel!r}; expected one of {', '.join(CHANNELS.names)}.",
            id=message.id,
        )
    return channel


def _ack_data(message: Subscribe, subscription: Subscription | None) -> dict[str, Any]:
    data: dict[str, Any] = {"action": message.action, "id": message.id}
    if subscription is not None:
        data.update(subscription.describe())
    return data


def _header_token(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <token>` or `X-API-Key`, as for REST requests."""
    header = headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = headers.get("x-api-key")
    return key.strip() if key else None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close if the socket is still open; a peer that stopped reading cannot
    receive a close frame, so give up after a second (uvicorn then drops it)."""
    if (
        websocket.application_state is not WebSocketState.CONNECTED
        or websocket.client_state is WebSocketState.DISCONNECTED
    ):
        return
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
        async with asyncio.timeout(1.0):
            await websocket.close(code, reason[:120])
