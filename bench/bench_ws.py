"""WebSocket fan-out: 200 clients on loopback subscribed to `orders` and
`ticker`, messages delivered per second and p99 delivery delay, beside bare
per-client-queue broadcast servers fed the same events in the same run. (What
the clients cost the engine is `bench/bench_ws_engine.py`.)

Two yardsticks sit beside the API's stream: `bare_uvicorn`, a bare Starlette
WebSocket endpoint on the same uvicorn server (what the hub itself costs),
and `bare_websockets`, a plain `websockets` server (what uvicorn and ASGI
cost too). Both keep one bounded queue and one sender task per client and
serialise each event once, as the hub does, but with no authentication,
subscriptions, filters, conflation or statistics.

The clients run in a subprocess (`bench/ws_clients.py`) so their CPU is not
the server's; on one machine they still share its cores, with every server
alike. The producer publishes a batch of orders and quotes, then yields for
`TICK`: while the servers keep up that is the offered rate, and once they
cannot, the loop they share with the producer stretches the ticks, so the
delivered rate is the server's capacity. Rounds alternate between the
servers so a noisy machine slows them alike; figures are medians over the
rounds. `server_cpu` is the server process's CPU over wall time while
loaded, `client_cpu` the clients' (near 1.0: the clients were the limit).

    python -m bench.bench_ws [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import websockets
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.server import ServerConnection

from bench.report import command_line
from bench.ws_clients import clients
from config.loader import load_settings
from config.models import Settings
from engine.clock import Clock, RealClock
from engine.engine import Engine
from engine.models import Event, Order, OrderEvent, OrderStatus, OrderType, Quote, QuoteEvent, Side
from engine.security.principal import Role
from engine.security.service import Security
from engine.server.app import create_app
from engine.server.server import ServerHandle
from engine.server.ws import Hub

CLIENTS = 200
CHANNELS = ("orders", "ticker")
TICK = 0.01  # seconds the producer yields between batches
ORDERS_PER_TICK = 4
SYMBOLS = 6  # one quote per symbol per tick
QUEUE = 1000  # per-client bound, as `server.ws_queue_size` defaults
GOAL_RATIO = 0.7
BARE_PATH = "/bare/ws"

Publish = Callable[[Event], None]


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 3.0 if quick else 6.0
    rounds = 1 if quick else 3
    samples: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="tradedeck-bench-ws-") as tmp:
        folder = Path(tmp)
        bare = BareBroadcast()
        settings = load_settings(None, env={})
        # Every quote offered is sent, as the bare servers send it: this
        # measures sending capacity, not the ticker's interval.
        settings.server.ws_ticker_interval_ms = 0
        async with (
            serve_api(settings, folder / "fanout", RealClock(), bare=bare) as api,
            _bare_websockets(bare) as bare_url,
        ):
            engine, _, api_url, key = api
            symbols = list(settings.instruments)[:SYMBOLS]
            targets: dict[str, tuple[str, str | None, Publish]] = {
                "api": (api_url, key, engine.bus.publish),
                "bare_uvicorn": (api_url.replace("/api/v1/ws", BARE_PATH), None, bare.publish),
                "bare_websockets": (bare_url, None, bare.publish),
            }
            for _ in range(rounds):
                for name, (url, token, publish) in targets.items():
                    figures = await _measure(url, token, seconds, publish, symbols)
                    samples.setdefault(name, []).append(figures)
    return _summary(samples)


def _summary(samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def median(name: str, figure: str) -> float:
        return statistics.median(s[figure] for s in samples[name])

    result: dict[str, Any] = {
        "clients": CLIENTS,
        "channels": "+".join(CHANNELS),
        "offered_events_per_s": round((ORDERS_PER_TICK + SYMBOLS) / TICK),
        "rounds": len(samples["api"]),
    }
    for name in ("api", "bare_uvicorn", "bare_websockets"):
        result[f"{name}_msgs_per_s"] = round(median(name, "rate"))
        for figure in ("p50_ms", "p99_ms", "server_cpu", "client_cpu", "delivered_share"):
            result[f"{name}_{figure}"] = round(median(name, figure), 2)
        result[f"{name}_resyncs_closed"] = (
            f"{sum(s['resyncs'] for s in samples[name])}, "
            f"{sum(s['closed_early'] for s in samples[name])}"
        )
    for name in ("bare_uvicorn", "bare_websockets"):
        result[f"ratio_to_{name}"] = round(
            result["api_msgs_per_s"] / result[f"{name}_msgs_per_s"], 2
        )
    result["goal"] = f">= {GOAL_RATIO} of the bare rate"
    return result


# --- the servers -----------------------------------------------------------------


class Served(NamedTuple):
    engine: Engine
    hub: Hub
    url: str  # the stream's
    key: str  # a viewer's


@asynccontextmanager
async def serve_api(
    settings: Settings,
    path: Path,
    clock: Clock,
    *,
    bare: BareBroadcast | None = None,
    run_loops: bool = False,
) -> AsyncIterator[Served]:
    """The engine on the database at `path` (market loops off unless
    `run_loops`: the bench drives it), behind the real API on a free loopback
    port, and a viewer key. With `bare`, its endpoint is served at `BARE_PATH`
    by the same uvicorn."""
    engine = await Engine.open(settings, path.with_suffix(".db"), clock)
    await engine.start(run_loops=run_loops)
    security = await Security.open(
        engine.store, settings.server, secret_path=path.with_suffix(".secret"), clock=clock
    )
    _, key = await security.create_key(role=Role.VIEWER, name="bench")
    app = create_app(engine, security)
    handle = ServerHandle(app if bare is None else bare.beside(app), "127.0.0.1", 0)
    await handle.start()
    try:
        yield Served(engine, app.state.hub, f"ws://127.0.0.1:{handle.port}/api/v1/ws", key)
    finally:
        await app.state.hub.close()
        await handle.stop()
        await security.close()
        await engine.close()


class BareBroadcast:
    """The yardstick: one bounded queue and one sender per client, each event
    serialised once and stamped with a per-connection seq; nothing else. It
    serves the same clients through a plain `websockets` server (`handler`)
    or as a bare Starlette endpoint (`beside`)."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[tuple[str, str]]] = set()

    def publish(self, event: Event) -> None:
        channel = "ticker" if type(event) is QuoteEvent else "orders"
        head = f'{{"type":"event","channel":"{channel}","seq":'
        tail = f',"ts":"{event.time.isoformat()}","data":{event.model_dump_json()}}}'
        for queue in self.queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((head, tail))

    async def _serve(self, receive: Callable[[], Any], send: Callable[[str], Any]) -> None:
        """Answer each subscription with an empty snapshot, then stream until
        the client leaves (`receive` raises or returns None)."""
        seq = 0
        for _ in CHANNELS:
            request = json.loads(await receive())
            seq += 1
            snapshot = {"type": "snapshot", "channel": request["channel"], "seq": seq, "data": {}}
            await send(json.dumps(snapshot, separators=(",", ":")))
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE)

        async def sender() -> None:
            nonlocal seq
            while True:
                head, tail = await queue.get()
                seq += 1
                await send(head + str(seq) + tail)

        self.queues.add(queue)
        task = asyncio.create_task(sender())
        try:
            # Reading is how a server learns the client left: a sender waiting
            # on an empty queue would never find out, and shutdown would wait on it.
            while await receive() is not None:
                pass
        finally:
            self.queues.discard(queue)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def handler(self, ws: ServerConnection) -> None:
        async def receive() -> str | None:
            try:
                return str(await ws.recv())
            except websockets.ConnectionClosed:
                return None

        with contextlib.suppress(websockets.ConnectionClosed):
            await self._serve(receive, ws.send)

    def beside(self, app: Any) -> Any:
        """One ASGI app: `BARE_PATH` is this bare endpoint, the rest is `app`."""

        async def dispatch(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "websocket" or scope["path"] != BARE_PATH:
                await app(scope, receive, send)
                return
            ws = WebSocket(scope, receive, send)
            await ws.accept()

            async def read() -> str | None:
                try:
                    return await ws.receive_text()
                except (WebSocketDisconnect, RuntimeError):
                    return None

            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self._serve(read, ws.send_text)

        return dispatch


@asynccontextmanager
async def _bare_websockets(bare: BareBroadcast) -> AsyncIterator[str]:
    # Without compression, as the API serves (see engine/server/server.py).
    async with websockets.serve(
        bare.handler, "127.0.0.1", 0, max_size=64 * 1024, compression=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


# --- fan-out ---------------------------------------------------------------------


async def _measure(
    url: str, key: str | None, seconds: float, publish: Publish, symbols: list[str]
) -> dict[str, Any]:
    """Clients attached and subscribed, the producer runs for `seconds`; what
    the clients saw, and the server's CPU share meanwhile."""
    async with clients(url, key, CLIENTS, CHANNELS) as stop:
        published = [0]
        cpu, wall = time.process_time(), time.perf_counter()
        task = asyncio.create_task(_produce(publish, symbols, published))
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        figures = await stop()
    figures["server_cpu"] = cpu / wall
    # Below 1.0: quotes conflated (the API's ticker) or dropped from full queues.
    figures["delivered_share"] = figures["received"] / (published[0] * CLIENTS)
    return figures


async def _produce(publish: Publish, symbols: list[str], published: list[int]) -> None:
    """Orders and one quote per symbol every `TICK`, stamped on publication;
    counts the events in `published[0]`."""
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
        published[0] += ORDERS_PER_TICK + len(symbols)
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


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
