"""The market-data cache: bars are served from memory until the current bar
closes, trades from memory once read and kept current by new fills; every
read is counted as a hit or a miss, and invalidating sends the next read back
to the source."""

from __future__ import annotations

from config.models import Settings
from engine.domain import Timeframe
from engine.engine import Engine
from engine.models import MarketCacheStats
from tests.conftest import EngineFactory
from tests.strategies_runtime.helpers import ACCOUNT, one_account, run_until

SYMBOL = "EURUSD"


def counts(stats: MarketCacheStats) -> dict[str, tuple[int, int]]:
    return {
        kind: (getattr(stats, kind).hits, getattr(stats, kind).misses)
        for kind in ("quotes", "bars", "trades")
    }


async def test_bars_are_kept_until_the_current_bar_closes(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)
    await engine.clock.advance(5)  # type: ignore[attr-defined]

    first = await engine.market_view(SYMBOL, Timeframe.M1, bars=10, trades=0)
    again = await engine.market_view(SYMBOL, Timeframe.M1, bars=3, trades=0)

    assert len(first.bars) == 10 and again.bars == first.bars[-3:]
    assert counts(engine.cache_stats())["bars"] == (1, 1)
    assert engine.cache_stats().bars.hit_rate == 0.5

    await engine.clock.advance(60)  # type: ignore[attr-defined]
    later = await engine.market_view(SYMBOL, Timeframe.M1, bars=3, trades=0)

    assert counts(engine.cache_stats())["bars"] == (1, 2)
    assert later.bars[-1].time > first.bars[-1].time
    await engine.market_view(SYMBOL, Timeframe.S5, bars=3, trades=0)  # another series
    assert engine.cache_stats().bar_series == 2


async def test_quotes_count_a_symbol_without_one_as_a_miss(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)

    view = await engine.market_view(SYMBOL, Timeframe.M1, bars=0, trades=0)
    assert view.quote == engine.quote(SYMBOL)
    assert engine.market_cache.quote("NOSUCH") is None

    assert counts(engine.cache_stats())["quotes"] == (1, 1)


async def test_trades_are_read_once_then_kept_current_by_new_fills(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)
    await engine.add_strategy(ACCOUNT, "donchian_breakout", {"period": 3}, [SYMBOL])

    async def fills(count: int) -> bool:
        return len(await engine.store.trades.recent(SYMBOL, 100)) >= count

    await run_until(engine, lambda: fills(1), limit=1800)
    stored = await engine.store.trades.recent(SYMBOL, 100)

    view = await engine.market_view(SYMBOL, Timeframe.M1, bars=0, trades=100)
    assert view.trades == stored
    assert counts(engine.cache_stats())["trades"] == (0, 1)

    await run_until(engine, lambda: fills(len(stored) + 1), limit=3600)
    view = await engine.market_view(SYMBOL, Timeframe.M1, bars=0, trades=100)

    # Served from memory (a hit), yet it has the fills made since.
    assert counts(engine.cache_stats())["trades"] == (1, 1)
    assert view.trades == await engine.store.trades.recent(SYMBOL, 100)
    assert [f.ticket for f in view.trades] == sorted((f.ticket for f in view.trades), reverse=True)


async def test_invalidate_sends_the_next_read_to_the_source(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine: Engine = await engine_factory(demo_settings, run_loops=False)
    for symbol in (SYMBOL, "GBPUSD"):
        await engine.market_view(symbol, Timeframe.M1, bars=5, trades=5)
    assert counts(engine.cache_stats())["bars"] == (0, 2)

    assert engine.invalidate_cache(SYMBOL, "bars") == 1
    await engine.market_view(SYMBOL, Timeframe.M1, bars=5, trades=5)
    await engine.market_view("GBPUSD", Timeframe.M1, bars=5, trades=5)
    stats = engine.cache_stats()
    assert counts(stats)["bars"] == (1, 3)
    assert counts(stats)["trades"] == (2, 2)  # trades of EURUSD were kept

    assert engine.invalidate_cache() == 4  # 2 bar series + 2 trade lists
    stats = engine.cache_stats()
    assert (stats.bar_series, stats.trade_symbols, stats.invalidations) == (0, 0, 2)
