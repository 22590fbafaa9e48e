"""A slow client never slows the engine or the other clients: its queue is
bounded, it gets `resync` when it overflows and is disconnected when it stays
behind, while a fast client keeps receiving everything in order. Also: the
server's shutdown closes clients with 1001, and they can reconnect after a
restart."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from engine.models import Order, OrderEvent, OrderStatus, OrderType, Side
from engine.server.app import create_app
from engine.server.server import ServerHandle
from tests.api.ws_support import Stream, connect, ws_url
from tests.conftest import EngineFactory


def _order(ticket: int, when: Any) -> OrderEvent:
    order = Order(
        ticket=ticket,
        account_id="account-001",
        client_order_id=f"bp-{ticket}",
        symbol="EURUSD",
        side=Side.BUY,
        type=OrderType.LIMIT,
        volume=Decimal("0.10"),
        status=OrderStatus.CANCELLED,  # closed: the engine keeps only recent closed orders
        price=Decimal("1.00000"),
        comment="x" * 400,  # big enough that a stalled socket fills quickly
        created_at=when,
        updated_at=when,
    )
    return OrderEvent(time=when, order=order)


BURST = 25  # events published between two turns of the loop: half the queue


async def _stalled_client(api: Any) -> tuple[ClientConnection, Stream]:
    """A client that reads nothing until the test says so: its socket takes
    little, its library buffers one message, and without compression every
    message costs its full size. Subscribed to `orders`."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting, or no effect
    sock.connect(("127.0.0.1", api.handle.port))
    headers = {"Authorization": f"Bearer {api.keys['viewer']}"}
    ws = await websockets.connect(
        ws_url(api.url), sock=sock, additional_headers=headers, max_queue=1, compression=None
    )
    stream = Stream(ws)
    await stream.recv()
    await stream.subscribe("orders")
    return ws, stream


async def _publish_until(
    engine: Any, fast: Stream, received: list[int], published: int, done: Any
) -> int:
    """Publish bursts of orders, yielding between them as the engine does,
    until `done()`; the fast client is read meanwhile (up to the last burst),
    so its queue never holds more than two bursts. No wall-clock waits: every
    step is driven by what the server has done."""
    when = engine.clock.now()
    while not done():
        assert published < 20_000, "the slow client never fell behind"
        for _ in range(BURST):
            published += 1
            engine.bus.publish(_order(published, when + timedelta(microseconds=published)))
        while len(received) < published - BURST:
            received.append((await fast.expect("event", "orders"))["data"]["order"]["ticket"])
    return published


async def _read_all(fast: Stream, received: list[int], published: int) -> None:
    while len(received) < published:
        received.append((await fast.expect("event", "orders"))["data"]["order"]["ticket"])


def _assert_complete(fast: Stream, received: list[int], published: int) -> None:
    """Every event, in order, with gapless `seq` and never a resync."""
    assert received == list(range(1, published + 1))
    assert not [m for m in fast.seen if m["type"] == "resync"]
    seqs = [m["seq"] for m in fast.seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_a_slow_client_gets_resync_while_a_fast_one_misses_nothing(
    engine_factory: EngineFactory, api_factory: Any
) -> None:
    engine = await engine_factory(run_loops=False)
    api = await api_factory(engine, ws_queue_size=50)
    hub = api.app.state.hub
    _, slow = await _stalled_client(api)
    async with connect(api.url, api.keys["viewer"]) as fast:
        await fast.subscribe("orders")
        received: list[int] = []
        # Until the slow client's queue overflows once (a burst is half the
        # queue, so it cannot overflow twice before the check).
        published = await _publish_until(
            engine, fast, received, 0, lambda: hub.stats()["dropped"] > 0
        )
        # It reads again: what its socket held, then the resync, then the rest.
        resync = await slow.until(lambda m: m["type"] == "resync", timeout=60)
        assert resync["data"]["dropped"] > 0 and resync["data"]["channels"] == ["orders"]
        for _ in range(BURST):  # one burst more, after catching up: no loss
            published += 1
            engine.bus.publish(_order(published, engine.clock.now()))
        await slow.until(
            lambda m: m["type"] == "event" and m["data"]["order"]["ticket"] == published,
            timeout=60,
        )
        await _read_all(fast, received, published)

    _assert_complete(fast, received, published)
    # The slow one: gapless seq throughout, events in order on both sides of
    # the resync, the last burst complete, and it was never disconnected.
    seqs = [m["seq"] for m in slow.seen]
    assert seqs == list(range(1, len(seqs) + 1))
    at = slow.seen.index(resync)
    before = [m["data"]["order"]["ticket"] for m in slow.seen[:at] if m["type"] == "event"]
    after = [m["data"]["order"]["ticket"] for m in slow.seen[at + 1 :] if m["type"] == "event"]
    assert before == sorted(before) and after == sorted(after) and before[-1] < after[0]
    assert after[-BURST:] == list(range(published - BURST + 1, published + 1))
    assert len(before) + len(after) + resync["data"]["dropped"] == published
    assert hub.stats()["disconnects"].get("slow", 0) == 0


async def test_a_client_that_stays_behind_is_cut_off_while_a_fast_one_gets_everything(
    engine_factory: EngineFactory, api_factory: Any
) -> None:
    engine = await engine_factory(run_loops=False)
    api = await api_factory(engine, ws_queue_size=50)
    hub = api.app.state.hub
    slow_ws, _ = await _stalled_client(api)
    async with connect(api.url, api.keys["viewer"]) as fast:
        await fast.subscribe("orders")
        received: list[int] = []
        published = await _publish_until(
            engine, fast, received, 0, lambda: hub.stats()["disconnects"].get("slow", 0) > 0
        )
        await _read_all(fast, received, published)

    _assert_complete(fast, received, published)
    # The slow one lost its backlog and was cut off; what it had buffered
    # is in order, and it is short of what was published.
    stats = hub.stats()
    assert stats["disconnects"]["slow"] == 1 and stats["dropped"] > 0
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(10):
            async for raw in slow_ws:
                frames.append(json.loads(raw))
    except websockets.ConnectionClosed:
        pass
    tickets = [f["data"]["order"]["ticket"] for f in frames if f["type"] == "event"]
    assert tickets == sorted(tickets) and len(tickets) < published


async def test_a_burst_beyond_the_queue_gets_resync_then_the_stream_goes_on(
    engine_factory: EngineFactory, api_factory: Any
) -> None:
    engine = await engine_factory(run_loops=False)
    api = await api_factory(engine, ws_queue_size=20)
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("orders")
        when = engine.clock.now()
        for ticket in range(1, 51):  # at once: no sender can run in between
            engine.bus.publish(_order(ticket, when))
        resync = await stream.expect("resync")
        assert resync["data"]["dropped"] >= 30
        assert resync["data"]["channels"] == ["orders"]
        engine.bus.publish(_order(51, when))
        await stream.until(lambda m: m["type"] == "event" and m["data"]["order"]["ticket"] == 51)
        # What survived the overflow arrives in order after the resync, then the new event.
        after = stream.seen[stream.seen.index(resync) + 1 :]
        tickets = [m["data"]["order"]["ticket"] for m in after]
        assert tickets == list(range(tickets[0], 52)) and len(tickets) <= 21
        assert [m["seq"] for m in after] == list(range(resync["seq"] + 1, after[-1]["seq"] + 1))
        await stream.send(action="snapshot", channel="orders")
        assert (await stream.expect("snapshot", "orders"))["data"]["orders"]


async def test_shutdown_closes_with_1001_and_clients_reconnect_after_a_restart(
    api: Any,
) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("workers")
        await api.app.state.hub.close()
        await api.handle.stop()
        code, _ = await stream.closed()
    assert code == 1001

    # The same engine and security behind a new app on the port the stopped
    # server had bound (it was started on port 0), which it still reports.
    port = api.handle.port
    assert port != 0 and port == int(api.url.rsplit(":", 1)[1])
    app = create_app(api.engine, api.security)
    api.app, api.handle = app, ServerHandle(app, "127.0.0.1", port)
    await api.handle.start()
    async with connect(api.url, api.keys["viewer"]) as stream:
        snapshot = await stream.subscribe("workers")
        assert len(snapshot["data"]["workers"]) == 4
        await stream.subscribe("ticker")
        await api.engine.clock.advance(5)
        event = await stream.expect("event", "ticker")
        assert event["data"]["kind"] == "quote"


async def test_a_server_has_no_port_before_it_starts(api: Any) -> None:
    handle = ServerHandle(api.app, "127.0.0.1", 0)
    with pytest.raises(RuntimeError, match="has not started"):
        _ = handle.port
