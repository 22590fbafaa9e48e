"""Engine throughput: market ticks through simulator, bus, strategies and paper
broker for 50 accounts x 6 symbols on the virtual clock, as worker-ticks per
second, beside a plain loop doing the same strategy arithmetic on the same
quotes with no engine around it.

After an untimed warm-up of both, the engine and the plain loop run three times
each, interleaved in one process so a noisy machine slows both alike; the
figures are the medians and their ratio.

The virtual clock settles one event-loop turn per timer (`SETTLE_ROUNDS`), as a
real clock wakes a sleeper once: its default of eight turns, there so tests see
chained wake-ups before time moves on, would charge the engine ~100 idle turns
per simulated second for the workers' heartbeats alone. Every order, fill and
store write still happens (the output counts the fills).

    python -m bench.bench_engine [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.plain_loop import plain_loop_rate
from bench.report import command_line
from config.loader import load_settings
from config.models import AccountConfig, Settings, StrategyConfig
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import Event, FillEvent, Quote, QuoteEvent

KINDS = ("ma_crossover", "donchian_breakout", "bollinger_reversion")
ACCOUNTS = 50
RUNS = 3
SETTLE_ROUNDS = 1
WARM_UP_SECONDS = 60
MARK_EVERY_SECONDS = 60


def bench_settings(accounts: int = ACCOUNTS) -> Settings:
    """The demo's six instruments traded by `accounts` paper accounts."""
    demo = load_settings(None, env={})
    symbols = list(demo.instruments)[:6]
    return demo.model_copy(
        update={
            "accounts": [
                AccountConfig(
                    id=f"bench-{n:03d}",
                    starting_balance=demo.accounts[0].starting_balance,
                    symbols=symbols,
                    strategies=[StrategyConfig(kind=KINDS[n % 3], timeframe="S15")],
                )
                for n in range(accounts)
            ]
        }
    )


@dataclass(slots=True)
class EngineRun:
    rate: float  # worker-ticks per second
    quotes: list[Quote]
    fills: int


async def engine_rate(settings: Settings, seconds: int, db: Path) -> EngineRun:
    """Run a fresh engine for `seconds` of simulated time, one market step per
    second and a mark (with an equity sample) every minute; time it from the
    first step until every write is committed."""
    clock = VirtualClock(settle_rounds=SETTLE_ROUNDS)
    engine = await Engine.open(settings, db, clock)
    await engine.start(run_loops=False)
    quotes: list[Quote] = []
    fills = 0
    subscribers = {
        symbol: sum(1 for a in settings.accounts if symbol in a.symbols)
        for symbol in settings.instruments
    }

    def record(event: Event) -> None:
        nonlocal fills
        if type(event) is QuoteEvent:
            quotes.append(event.quote)
        elif type(event) is FillEvent:
            fills += 1

    engine.bus.add_listener(record)
    await engine.quiesce()
    began = time.perf_counter()
    for n in range(1, seconds + 1):
        await clock.advance(1.0)
        engine.step_market()
        if n % MARK_EVERY_SECONDS == 0:
            engine.mark(sample_equity=True)
    await engine.quiesce()
    elapsed = time.perf_counter() - began
    await engine.close()
    worker_ticks = sum(subscribers[q.symbol] for q in quotes)
    return EngineRun(worker_ticks / elapsed, quotes, fills)


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 120 if quick else 600
    settings = bench_settings(ACCOUNTS)
    symbols = list(settings.instruments)[:6]
    engine_rates: list[float] = []
    plain_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        warm = await engine_rate(settings, WARM_UP_SECONDS, Path(tmp) / "warm-up.db")
        plain_loop_rate(warm.quotes, ACCOUNTS, symbols)
        for n in range(RUNS):
            result = await engine_rate(settings, seconds, Path(tmp) / f"bench-{n}.db")
            engine_rates.append(result.rate)
            plain_rates.append(plain_loop_rate(result.quotes, ACCOUNTS, symbols))
    engine = statistics.median(engine_rates)
    plain = statistics.median(plain_rates)
    return {
        "accounts": ACCOUNTS,
        "symbols": len(symbols),
        "simulated_seconds": seconds,
        "quotes": len(result.quotes),
        "fills": result.fills,
        "runs": RUNS,
        "engine_worker_ticks_per_s": round(engine),
        "plain_loop_worker_ticks_per_s": round(plain),
        "engine_vs_plain": round(engine / plain, 3),
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
