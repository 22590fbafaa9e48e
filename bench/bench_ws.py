"""WebSocket fan-out: 200 clients on loopback subscribed to `orders` and
`ticker`, messages delivered per second and p99 delivery delay, beside a bare
per-client-queue broadcast server (a plain `websockets` server) fed the same
events in the same run; then the engine's tick throughput with and without
the 200 clients attached.

The clients run in a subprocess so their CPU is not the server's (on one
machine they still share its cores, with both servers alike). The producer
offers more than either server can send, so delivered rates are capacities;
delays are measured from the event's time stamp to its arrival.

    python -m bench.bench_ws [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection

from bench.bench_engine import bench_settings
from config.loader import load_settings
from config.models import Settings
from engine.api.app import create_app
from engine.api.server import ServerHandle
from engine.clock import Clock, RealClock, VirtualClock
from engine.engine import Engine
from engine.models import (
    Event,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    Quote,
    QuoteEvent,
    Side,
)
from engine.security.principal import Role
from engine.security.service import Security

CLIENTS = 200
CHANNELS = ("orders", "ticker")
TICK = 0.01  # seconds between producer batches
ORDERS_PER_TICK = 4
QUEUE = 1000  # per-client bound, as `server.ws_queue_size` defaults


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 4 if quick else 10
    ticks = 120 if quick else 600
    with tempfile.TemporaryDirectory() as tmp:
        ours = await _fanout_ours(Path(tmp), seconds)
        bare = await _fanout_bare(seconds)
        alone = await _tick_rate(Path(tmp) / "alone", ticks, clients=0)
        attached = await _tick_rate(Path(tmp) / "attached", ticks, clients=CLIENTS)
    return {
        "clients": CLIENTS,
        "offered_events_per_s": round((ORDERS_PER_TICK + 6) / TICK),
        "api_delivered_msgs_per_s": ours["rate"],
        "api_p99_delay_ms": ours["p99_ms"],
        "api_p50_delay_ms": ours["p50_ms"],
        "api_resyncs": ours["resyncs"],
        "bare_delivered_msgs_per_s": bare["rate"],
        "bare_p99_delay_ms": bare["p99_ms"],
        "bare_p50_delay_ms": bare["p50_ms"],
        "api_vs_bare_rate": round(ours["rate"] / bare["rate"], 3) if bare["rate"] else None,
        "engine_worker_ticks_per_s_alone": round(alone["rate"]),
        "engine_worker_ticks_per_s_with_clients": round(attached["rate"]),
        "engine_tick_drop": round(1 - attached["rate"] / alone["rate"], 3),
        "clients_msgs_during_ticks": attached["received"],
    }


# --- fan-out: our API ------------------------------------------------------------


async def _fanout_ours(tmp: Path, seconds: float) -> dict[str, Any]:
    async with _api(load_settings(None, env={}), tmp / "fanout", RealClock()) as (engine, url, key):
        symbols = list(engine.settings.instruments)[:6]
        return await _measure(url, key, seconds, lambda: _produce(engine.bus.publish, symbols))


@asynccontextmanager
async def _api(settings: Settings, path: Path, clock: Clock) -> AsyncIterator[Any]:
    """The engine (market loops off: the bench drives it) on the database at
    `path`, behind the real API on a free loopback port, and a viewer key."""
    engine = await Engine.open(settings, path.with_suffix(".db"), clock)
    await engine.start(run_loops=False)
    security = await Security.open(
        engine.store, settings.server, secret_path=path.with_suffix(".secret"), clock=clock
    )
    _, key = await security.create_key(role=Role.VIEWER, name="bench")
    app = create_app(engine, security)
    handle = ServerHandle(app, "127.0.0.1", 0)
    await handle.start()
    try:
        yield engine, f"ws://127.0.0.1:{handle.port}/api/v1/ws", key
    finally:
        await app.state.hub.close()
        await handle.stop()
        await security.close()
        await engine.close()


async def _produce(publish: Callable[[Event], None], symbols: list[str]) -> None:
    """Orders and one quote per symbol every `TICK`, time-stamped on publication."""
    ticket = 0
    template = _order()
    while True:
        now = datetime.now(UTC)
        for _ in range(ORDERS_PER_TICK):
            ticket += 1
            order = template.model_copy(update={"ticket": ticket, "updated_at": now})
            publish(OrderEvent(time=now, order=order))
        for n, symbol in enumerate(symbols):
            price = Decimal(100 + n) + Decimal(ticket % 100) / 100
            quote = Quote(symbol=symbol, bid=price, ask=price + 1, time=now, mid=float(price))
            publish(QuoteEvent(time=now, quote=quote))
        await asyncio.sleep(TICK)


def _order() -> Order:
    now = datetime.now(UTC)
    return Order(
        ticket=0,
        account_id="account-001",
        client_order_id="bench",
        symbol="EURUSD",
        side=Side.BUY,
        type=OrderType.MARKET,
        volume=Decimal("0.10"),
        status=OrderStatus.FILLED,  # closed: the engine keeps only recent closed orders
        created_at=now,
        updated_at=now,
    )


# --- fan-out: the bare server ------------------------------------------------------


class BareBroadcast:
    """The yardstick: a plain `websockets` server, one bounded queue and one
    sender per client, each event serialised once and stamped with a seq."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[tuple[str, str]]] = set()

    def publish(self, event: Event) -> None:
        channel = "ticker" if event.kind == "quote" else "orders"
        head = f'{{"type":"event","channel":"{channel}","seq":'
        tail = f',"ts":"{event.time.isoformat()}","data":{event.model_dump_json()}}}'
        for queue in self.queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((head, tail))

    async def handler(self, ws: ServerConnection) -> None:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE)
        seq = 0
        for _ in CHANNELS:
            request = json.loads(await ws.recv())
            seq += 1
            snapshot = {"type": "snapshot", "channel": request["channel"], "seq": seq, "data": {}}
            await ws.send(json.dumps(snapshot, separators=(",", ":")))
        self.queues.add(queue)
        try:
            while True:
                head, tail = await queue.get()
                seq += 1
                await ws.send(head + str(seq) + tail)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.queues.discard(queue)


async def _fanout_bare(seconds: float) -> dict[str, Any]:
    bare = BareBroadcast()
    symbols = list(load_settings(None, env={}).instruments)[:6]
    async with websockets.serve(bare.handler, "127.0.0.1", 0, max_size=64 * 1024) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}/"
        return await _measure(url, None, seconds, lambda: _produce(bare.publish, symbols))


# --- measuring -------------------------------------------------------------------


async def _measure(
    url: str, key: str | None, seconds: float, producer: Callable[[], Any]
) -> dict[str, Any]:
    """Start the clients, run the producer for `seconds`, and collect what they saw."""
    async with _clients(url, key, CLIENTS) as stop:
        task = asyncio.create_task(producer())
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return await stop()


@asynccontextmanager
async def _clients(url: str, key: str | None, count: int) -> AsyncIterator[Any]:
    """`count` clients in a subprocess, connected and subscribed when this
    yields; the yielded function stops them and returns their figures."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_ws",
        "--clients",
        json.dumps({"url": url, "key": key, "count": count}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    ready = await asyncio.wait_for(stdout.readline(), 120)
    if ready.strip() != b"ready":
        process.kill()
        raise RuntimeError(f"the clients did not start: {ready!r}")

    async def stop() -> dict[str, Any]:
        await asyncio.sleep(0.5)  # let the last queued messages arrive
        stdin.close()
        result: dict[str, Any] = json.loads(await asyncio.wait_for(stdout.readline(), 60))
        await process.wait()
        return result

    try:
        yield stop
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _client_main(url: str, key: str | None, count: int) -> dict[str, Any]:
    """The subprocess: connect, subscribe, report ready, count until stdin closes."""
    delays: list[float] = []
    counts = {"events": 0, "resyncs": 0, "closed": 0}
    first: list[float] = []
    last = [0.0]
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def client() -> websockets.ClientConnection:
        ws = await websockets.connect(url, additional_headers=headers, open_timeout=60)
        for channel in CHANNELS:
            await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        snapshots = 0
        while snapshots < len(CHANNELS):
            snapshots += '"type":"snapshot"' in str(await ws.recv())
        return ws

    async def consume(ws: websockets.ClientConnection) -> None:
        try:
            async for raw in ws:
                text = str(raw)
                if text.startswith('{"type":"event"'):
                    now = time.time()
                    start = text.index('"ts":"') + 6
                    stamp = datetime.fromisoformat(text[start : text.index('"', start)])
                    delays.append(now - stamp.timestamp())
                    counts["events"] += 1
                    if not first:
                        first.append(now)
                    last[0] = now
                elif text.startswith('{"type":"resync"'):
                    counts["resyncs"] += 1
        except websockets.ConnectionClosed:
            counts["closed"] += 1

    connections = []
    for n in range(0, count, 20):
        connections += await asyncio.gather(*(client() for _ in range(min(20, count - n))))
    tasks = [asyncio.create_task(consume(ws)) for ws in connections]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    elapsed = (last[0] - first[0]) if first else 0.0
    for ws in connections:
        await ws.close()
    for task in tasks:
        task.cancel()
    delays.sort()
    return {
        "received": counts["events"],
        "rate": round(counts["events"] / elapsed) if elapsed else 0,
        "p50_ms": round(statistics.median(delays) * 1000, 1) if delays else None,
        "p99_ms": round(delays[int(len(delays) * 0.99)] * 1000, 1) if delays else None,
        "resyncs": counts["resyncs"],
        "closed": counts["closed"],
    }


# --- the engine's tick throughput ------------------------------------------------


async def _tick_rate(path: Path, ticks: int, clients: int) -> dict[str, Any]:
    """Worker-ticks per second of the 50-account bench engine on the virtual
    clock (as in bench_engine), with `clients` stream clients attached."""
    settings = bench_settings(50)
    clock = VirtualClock()
    subscribers = {
        symbol: sum(1 for a in settings.accounts if symbol in a.symbols)
        for symbol in settings.instruments
    }
    async with _api(settings, path, clock) as (engine, url, key):
        worker_ticks = 0

        def count(event: Event) -> None:
            nonlocal worker_ticks
            if type(event) is QuoteEvent:
                worker_ticks += subscribers[event.quote.symbol]

        engine.bus.add_listener(count)
        async with contextlib.AsyncExitStack() as stack:
            stop = await stack.enter_async_context(_clients(url, key, clients)) if clients else None
            await engine.quiesce()
            began = time.perf_counter()
            for n in range(1, ticks + 1):
                await clock.advance(1.0)
                engine.step_market()
                if n % 60 == 0:
                    engine.mark(sample_equity=True)
            await engine.quiesce()
            elapsed = time.perf_counter() - began
            received = (await stop())["received"] if stop else 0
    return {"rate": worker_ticks / elapsed, "received": received}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients:
        spec = json.loads(args.clients)
        print(json.dumps(asyncio.run(_client_main(spec["url"], spec["key"], spec["count"]))))
        return
    result = asyncio.run(run(args.quick))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
