"""Moving-average crossover on a fixed series: signals and orders at exactly the
bars where the fast SMA crosses the slow one, and nowhere else."""

from __future__ import annotations

from decimal import Decimal

from engine.models import OrderSource, Side
from tests.engine.strategy_harness import (
    RecordingContext,
    bar_time,
    history,
    make_strategy,
    run_bars,
)

# fast=2, slow=4: below until bar 5 (fast 1.09810 > slow 1.09780), above until
# bar 8 (fast 1.09750 < slow 1.09980).
CLOSES = "1.1000 1.0990 1.0980 1.0970 1.0960 1.1002 1.1040 1.1000 1.0950 1.0900".split()
PARAMS = {"fast": 2, "slow": 4}


def epoch(index: int) -> int:
    return int(bar_time(index).timestamp())


def test_cross_up_buys_and_cross_down_reverses() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx)

    signals = run_bars(strategy, ctx, "EURUSD", CLOSES)

    assert sorted(signals) == [5, 8]
    (up,), (down,) = signals[5], signals[8]
    assert up.side is Side.BUY and up.strategy_id == "s1" and up.symbol == "EURUSD"
    # Bar 5 closes on bar 6's first tick (mid 1.1040): the entry is its ask.
    assert up.reason == (
        "fast SMA 1.09810 crossed above slow SMA 1.09780; "
        "buy 0.33 EURUSD at 1.10410, SL 1.10110, TP 1.11010"
    )
    assert down.side is Side.SELL
    assert down.reason == (
        "fast SMA 1.09750 crossed below slow SMA 1.09980; closing long #1; "
        "sell 0.33 EURUSD at 1.08990, SL 1.09290, TP 1.08390"
    )

    buy, sell = ctx.orders
    assert (buy.side, buy.volume, buy.sl, buy.tp) == (
        Side.BUY,
        Decimal("0.33"),
        Decimal("1.10110"),
        Decimal("1.11010"),
    )
    assert buy.client_order_id == f"s1:EURUSD:{epoch(5)}"
    assert buy.source is OrderSource.STRATEGY and buy.strategy_id == "s1"
    assert buy.account_id == "account-test" and buy.price is None
    assert (sell.side, sell.sl, sell.tp) == (Side.SELL, Decimal("1.09290"), Decimal("1.08390"))
    assert sell.client_order_id == f"s1:EURUSD:{epoch(8)}"
    # The long is closed before the short goes out, by ticket and with the reason.
    assert ctx.closes == [(1, "fast SMA 1.09750 crossed below slow SMA 1.09980")]
    assert [(p.side, p.strategy_id) for p in ctx.open] == [(Side.SELL, "s1")]


def test_warm_up_feeds_the_averages_without_trading() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx)

    # The warm-up history itself crosses (bars 0-5 contain the cross up at 5).
    strategy.warm_up(history("EURUSD", CLOSES[:6]))
    assert ctx.signals == [] and ctx.orders == []

    # Live bars carry on from the warmed state: the next cross is at bar 8.
    signals = run_bars(strategy, ctx, "EURUSD", CLOSES[6:], first_index=6)
    assert sorted(signals) == [8]
    assert signals[8][0].side is Side.SELL
    assert [o.client_order_id for o in ctx.orders] == [f"s1:EURUSD:{epoch(8)}"]


def test_a_bar_already_seen_in_warm_up_is_not_fed_twice() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx)
    strategy.warm_up(history("EURUSD", CLOSES[:5]))

    # History overlapping live data: bars 3-4 again, then the crossing bar 5.
    strategy.warm_up(history("EURUSD", CLOSES[3:5], first_index=3))
    signals = run_bars(strategy, ctx, "EURUSD", CLOSES[5:6], first_index=5)

    assert sorted(signals) == [5]
    assert signals[5][0].reason.startswith("fast SMA 1.09810 crossed above slow SMA 1.09780")


def test_symbols_keep_separate_averages() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx, symbols=("EURUSD", "GBPUSD"))

    # GBPUSD only rises, so it never crosses; EURUSD's cross is unaffected by it.
    run_bars(strategy, ctx, "GBPUSD", [f"1.2{n:03d}" for n in range(10)])
    signals = run_bars(strategy, ctx, "EURUSD", CLOSES)

    assert sorted(signals) == [5, 8]
    assert {s.symbol for s in ctx.signals} == {"EURUSD"}


def test_a_touch_without_crossing_is_not_a_signal() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", {"fast": 1, "slow": 3}, ctx)

    # Binary-exact prices: fast is above from bar 2, touches slow at bar 3
    # (1.375 == (1.25 + 1.5 + 1.375) / 3) and is above again at bar 4.
    signals = run_bars(strategy, ctx, "EURUSD", "1.0000 1.2500 1.5000 1.3750 1.5000".split())

    assert signals == {}
