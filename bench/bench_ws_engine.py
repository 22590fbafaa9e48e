"""What 200 WebSocket clients cost the engine: its tick throughput, its lag and
the event loop's CPU with 0 and with 200 clients subscribed to `orders` and
`ticker`, same run, alternating, medians.

Two ways, both in the report:

- **production** (the figure): the engine on the real clock with its own
  market and mark loops (a step every 250 ms, a mark every 500 ms), 50 paper
  accounts trading 6 symbols, the simulated market scaled to 1,000 quotes per
  second in all (and ten times that). Achieved worker-ticks per second (one
  per quote and strategy trading its symbol); the engine's lag, from a
  quote's time in the market to its delivery to the strategies (the bus
  listener runs right after them, in the same call; waiting for the next
  250 ms step alone puts its p99 near 250 ms); how late a 10 ms timer fires
  (what any task on the loop waits); the loop thread's CPU share; and the
  share of wall time spent routing events to the clients on the engine's path.
- **virtual** (the worst case): as `bench/bench_engine.py`, the engine
  running flat out on the virtual clock, 600 simulated seconds as fast as it
  can; every event the clients subscribe to still has to be sent in wall time,
  so the attached run measures the fan-out's cost per simulated second.

The clients run in a subprocess (`bench/ws_clients.py`), as in `bench_ws`.

    python -m bench.bench_ws_engine [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench.bench_engine import SETTLE_ROUNDS, bench_settings
from bench.bench_risk import Stopwatch
from bench.bench_ws import CHANNELS, CLIENTS, serve_api
from bench.report import command_line
from bench.ws_clients import clients
from config.models import Settings
from engine.clock import RealClock, VirtualClock
from engine.engine import Engine
from engine.models import Event, QuoteEvent, WorkerState
from engine.server.ws import Hub

ACCOUNTS = 50
# Quotes per second over all symbols: production-like (as bench_risk), and ten
# times that to show where the headroom goes.
RATES = (1_000, 10_000)
GOAL_DROP = 0.2
WARM_UP = 3.0  # seconds before a production window opens
PROBE = 0.01  # the loop-lateness probe's timer


def production_settings(rate: float) -> Settings:
    """bench_engine's 50 accounts with the market scaled to `rate` quotes/s."""
    settings = bench_settings(ACCOUNTS)
    total = sum(i.ticks_per_second for i in settings.instruments.values())
    settings.instruments = {
        symbol: instrument.model_copy(
            update={"ticks_per_second": instrument.ticks_per_second * rate / total}
        )
        for symbol, instrument in settings.instruments.items()
    }
    return settings


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 8.0 if quick else 20.0
    simulated = 120 if quick else 600
    rounds = 1 if quick else 3
    samples: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="tradedeck-bench-ws-engine-") as tmp:
        folder = Path(tmp)
        for n in range(rounds):
            for rate in RATES:
                for attached in (0, CLIENTS):
                    path = folder / f"real-{n}-{rate}-{attached}"
                    figures = await _production(path, rate, seconds, attached)
                    samples.setdefault(f"real_{rate}_{attached}", []).append(figures)
        for n in range(rounds):
            for attached in (0, CLIENTS):
                path = folder / f"virtual-{n}-{attached}"
                figures = await _flat_out(path, simulated, attached)
                samples.setdefault(f"virtual_{attached}", []).append(figures)
    return _summary(samples, seconds, simulated)


_REAL_FIGURES = (  # (name, decimals)
    ("quotes_per_s", 0),
    ("worker_ticks_per_s", 0),
    ("lag_p50_ms", 1),
    ("lag_p99_ms", 1),
    ("late_p99_ms", 1),
    ("loop_cpu", 3),
    ("routing_share", 4),
    ("client_msgs_per_s", 0),
    ("client_p99_ms", 1),
)


def _summary(
    samples: dict[str, list[dict[str, Any]]], seconds: float, simulated: int
) -> dict[str, Any]:
    def median(name: str, figure: str) -> float:
        return float(statistics.median(s[figure] for s in samples[name]))

    result: dict[str, Any] = {
        "clients": CLIENTS,
        "channels": "+".join(CHANNELS),
        "rounds": len(samples["virtual_0"]),
        "real_accounts": ACCOUNTS,
        "real_window_s": seconds,
    }
    for rate in RATES:
        alone, attached = f"real_{rate}_0", f"real_{rate}_{CLIENTS}"
        for name in (alone, attached):
            for figure, digits in _REAL_FIGURES:
                result[f"{name}_{figure}"] = round(median(name, figure), digits)
        result[f"real_{rate}_tick_drop"] = round(
            1 - median(attached, "worker_ticks_per_s") / median(alone, "worker_ticks_per_s"), 3
        )
        result[f"real_{rate}_extra_loop_cpu"] = round(
            median(attached, "loop_cpu") - median(alone, "loop_cpu"), 3
        )
    result["goal"] = f"drop < {GOAL_DROP:.0%} at {RATES[0]} quotes/s"
    result["virtual_simulated_seconds"] = simulated
    for count in (0, CLIENTS):
        name = f"virtual_{count}"
        result[f"{name}_worker_ticks_per_s"] = round(median(name, "rate"))
        result[f"{name}_msgs_received"] = round(median(name, "received"))
    result["virtual_tick_drop"] = round(
        1 - median(f"virtual_{CLIENTS}", "rate") / median("virtual_0", "rate"), 3
    )
    return result


# --- production: the real clock at a production rate ------------------------------


async def _production(path: Path, rate: int, seconds: float, attached: int) -> dict[str, Any]:
    settings = production_settings(rate)
    async with (
        serve_api(settings, path, RealClock(), run_loops=True) as (engine, hub, url, key),
        _attached(url, key, attached) as stop,
        _timed_routing(engine, hub) as routing,
    ):
        await asyncio.sleep(WARM_UP)
        meter = _Meter(engine, settings)
        late = asyncio.create_task(_probe(meter.late))
        cpu, wall = time.thread_time(), time.perf_counter()
        routed = routing.seconds
        engine.bus.add_listener(meter.on_event)
        await asyncio.sleep(seconds)
        engine.bus.remove_listener(meter.on_event)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        routed = routing.seconds - routed
        late.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await late
        seen = await stop() if stop is not None else {"rate": 0, "p99_ms": 0.0}
    return {
        "quotes_per_s": meter.quotes / wall,
        "worker_ticks_per_s": meter.worker_ticks / wall,
        "lag_p50_ms": _percentile(meter.lags, 0.5) * 1000,
        "lag_p99_ms": _percentile(meter.lags, 0.99) * 1000,
        "late_p99_ms": _percentile(meter.late, 0.99) * 1000,
        "loop_cpu": cpu / wall,
        "routing_share": routed / wall,
        "client_msgs_per_s": seen["rate"],
        "client_p99_ms": seen["p99_ms"] or 0.0,
    }


class _Meter:
    """Counts the quotes the strategies got, and each one's lag, from the bus:
    the engine publishes a quote right after its strategies have it."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        running = [
            a for a in settings.accounts if engine.worker(a.id).status is WorkerState.RUNNING
        ]
        self.subscribers = {s: sum(s in a.symbols for a in running) for s in settings.instruments}
        self.quotes = 0
        self.worker_ticks = 0
        self.lags: list[float] = []
        self.late: list[float] = []

    def on_event(self, event: Event) -> None:
        if type(event) is QuoteEvent:
            quote = event.quote
            self.quotes += 1
            self.worker_ticks += self.subscribers[quote.symbol]
            self.lags.append(time.time() - quote.time.timestamp())


async def _probe(late: list[float]) -> None:
    """How late a `PROBE` timer fires: what the loop makes any task wait."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + PROBE
        await asyncio.sleep(PROBE)
        late.append(loop.time() - due)


@asynccontextmanager
async def _timed_routing(engine: Engine, hub: Hub) -> AsyncIterator[Stopwatch]:
    """The hub's bus listener (the fan-out work on the engine's path), timed."""
    stopwatch = Stopwatch()
    timed = stopwatch.wrap(hub._on_event)
    engine.bus.remove_listener(hub._on_event)
    engine.bus.add_listener(timed)
    try:
        yield stopwatch
    finally:
        engine.bus.remove_listener(timed)


@asynccontextmanager
async def _attached(url: str, key: str, count: int) -> AsyncIterator[Callable[[], Any] | None]:
    if not count:
        yield None
        return
    async with clients(url, key, count, CHANNELS) as stop:
        yield stop


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


# --- the worst case: the virtual clock, flat out -----------------------------------


async def _flat_out(path: Path, simulated: int, attached: int) -> dict[str, Any]:
    """Worker-ticks per second of the 50-account bench engine on the virtual
    clock, timed as in bench_engine, with `attached` stream clients subscribed."""
    settings = bench_settings(ACCOUNTS)
    clock = VirtualClock(settle_rounds=SETTLE_ROUNDS)
    subscribers = {
        symbol: sum(1 for a in settings.accounts if symbol in a.symbols)
        for symbol in settings.instruments
    }
    async with (
        serve_api(settings, path, clock) as (engine, _, url, key),
        _attached(url, key, attached) as stop,
    ):
        worker_ticks = 0

        def count(event: Event) -> None:
            nonlocal worker_ticks
            if type(event) is QuoteEvent:
                worker_ticks += subscribers[event.quote.symbol]

        engine.bus.add_listener(count)
        await engine.quiesce()
        began = time.perf_counter()
        for n in range(1, simulated + 1):
            await clock.advance(1.0)
            engine.step_market()
            if n % 60 == 0:
                engine.mark(sample_equity=True)
        await engine.quiesce()
        elapsed = time.perf_counter() - began
        received = (await stop())["received"] if stop is not None else 0
    return {"rate": worker_ticks / elapsed, "received": received}


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
