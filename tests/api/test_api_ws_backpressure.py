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

import websockets

from engine.api.app import create_app
from engine.api.server import ServerHandle
from engine.models import Order, OrderEvent, OrderStatus, OrderType, Side
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


async def test_a_stalled_client_is_cut_off_while_a_fast_one_gets_everything(
    engine_factory: EngineFactory, api_factory: Any
) -> None:
    engine = await engine_factory(run_loops=False)
    api = await api_factory(engine, ws_queue_size=50)
    hub = api.app.state.hub
    # The slow client's socket takes little, its library buffers one message,
    # and without compression every message costs its full size.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting, or no effect
    sock.connect(("127.0.0.1", api.handle.port))
    headers = {"Authorization": f"Bearer {api.keys['viewer']}"}
    slow_ws = await websockets.connect(
        ws_url(api.url), sock=sock, additional_headers=headers, max_queue=1, compression=None
    )
    slow = Stream(slow_ws)
    await slow.recv()
    await slow.subscribe("orders")

    async with connect(api.url, api.keys["viewer"]) as fast:
        await fast.subscribe("orders")
        received: list[int] = []
        published = 0
        when = engine.clock.now()
        # Publish in small bursts, yielding between them as the engine does;
        # read the fast client meanwhile so its socket never stalls.
        while hub.stats()["disconnects"].get("slow", 0) == 0:
            assert published < 20_000, hub.stats()
            for _ in range(25):
                published += 1
                engine.bus.publish(_order(published, when + timedelta(microseconds=published)))
            while len(received) < published - 25:
                received.append((await fast.expect("event", "orders"))["data"]["order"]["ticket"])
        while len(received) < published:
            received.append((await fast.expect("event", "orders"))["data"]["order"]["ticket"])

    assert received == list(range(1, published + 1))
    assert not [m for m in fast.seen if m["type"] == "resync"]
    seqs = [m["seq"] for m in fast.seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

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
    port = api.handle.port
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("workers")
        await api.app.state.hub.close()
        await api.handle.stop()
        code, _ = await stream.closed()
    assert code == 1001

    # The same engine and security behind a new app on the same port.
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
