"""Engine throughput: market ticks through simulator, bus, strategies and paper
broker for 50 accounts x 6 symbols on the virtual clock, as worker-ticks per
second, beside a plain loop doing the same strategy arithmetic on the same
quotes with no engine around it. Both run in the same process, one after the
other, so a noisy machine slows both alike.

    python -m bench.bench_engine [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.plain_loop import plain_loop_rate
from config.loader import load_settings
from config.models import AccountConfig, Settings, StrategyConfig
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import Event, Quote, QuoteEvent

KINDS = ("ma_crossover", "donchian_breakout", "bollinger_reversion")


def bench_settings(accounts: int = 50) -> Settings:
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


async def engine_rate(settings: Settings, seconds: int, db: Path) -> tuple[float, list[Quote]]:
    clock = VirtualClock()
    engine = await Engine.open(settings, db, clock)
    await engine.start(run_loops=False)
    quotes: list[Quote] = []
    subscribers = {
        symbol: sum(1 for a in settings.accounts if symbol in a.symbols)
        for symbol in settings.instruments
    }

    def record(event: Event) -> None:
        if type(event) is QuoteEvent:
            quotes.append(event.quote)

    engine.bus.add_listener(record)
    await engine.quiesce()
    began = time.perf_counter()
    for n in range(1, seconds + 1):
        await clock.advance(1.0)
        engine.step_market()
        if n % 60 == 0:
            engine.mark(sample_equity=True)
    await engine.quiesce()
    elapsed = time.perf_counter() - began
    await engine.close()
    worker_ticks = sum(subscribers[q.symbol] for q in quotes)
    return worker_ticks / elapsed, quotes


async def run(quick: bool = False) -> dict[str, Any]:
    accounts = 50
    seconds = 120 if quick else 600
    settings = bench_settings(accounts)
    with tempfile.TemporaryDirectory() as tmp:
        rate, quotes = await engine_rate(settings, seconds, Path(tmp) / "bench.db")
    symbols = list(settings.instruments)[:6]
    plain = plain_loop_rate(quotes, accounts, symbols)
    return {
        "accounts": accounts,
        "symbols": len(symbols),
        "simulated_seconds": seconds,
        "quotes": len(quotes),
        "engine_worker_ticks_per_s": round(rate),
        "plain_loop_worker_ticks_per_s": round(plain),
        "engine_vs_plain": round(rate / plain, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    result = asyncio.run(run(parser.parse_args().quick))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
