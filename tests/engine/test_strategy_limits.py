"""The limits every strategy checks before opening: each one blocks with a
signal naming it, counts what it should (and not what it should not), and
orders already submitted but not yet filled count too."""

from __future__ import annotations

from decimal import Decimal

from config.models import RiskSettings
from engine.models import Side
from engine.strategies import Strategy
from tests.engine.strategy_harness import RecordingContext, make_strategy, run_bars

# Donchian over 2 bars on single-tick bars: bar 2 breaks out upwards.
BREAKOUT = ["1.1000", "1.1000", "1.1010"]
REASON = "close 1.10100 broke above the 2-bar high 1.10000"


def donchian(ctx: RecordingContext, **risk: float) -> Strategy:
    return make_strategy(
        "donchian_breakout",
        {"period": 2},
        ctx,
        symbols=("EURUSD", "GBPUSD"),
        risk=RiskSettings().model_copy(update=risk),
    )


def test_max_positions_counts_every_position_of_the_account() -> None:
    ctx = RecordingContext()
    strategy = donchian(ctx, max_positions=2)
    ctx.add_position("XAUUSD", Side.BUY, Decimal("0.01"), Decimal(2000), strategy_id="manual")
    ctx.add_position("USDJPY", Side.SELL, Decimal("0.01"), Decimal(150))

    signals = run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert ctx.orders == []
    assert signals[2][0].reason == f"{REASON}; skipped: max_positions 2 reached"


def test_max_concurrent_trades_counts_only_this_strategys_positions() -> None:
    ctx = RecordingContext()
    strategy = donchian(ctx, max_concurrent_trades=1)
    ctx.add_position("XAUUSD", Side.BUY, Decimal("0.01"), Decimal(2000), strategy_id="other")

    run_bars(strategy, ctx, "GBPUSD", BREAKOUT)  # opens: one position, someone else's
    signals = run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert [o.symbol for o in ctx.orders] == ["GBPUSD"]
    assert signals[2][0].reason == f"{REASON}; skipped: max_concurrent_trades 1 reached"


def test_portfolio_risk_sums_open_risk_to_the_stops_with_the_new_trade() -> None:
    # Open: 0.5 lots GBPUSD with its stop 30 pips away = 150 USD (1.5%); the new
    # 0.33 lots at 30 pips add 99 USD: 2.49% of 10,000.
    ctx = RecordingContext()
    strategy = donchian(ctx, portfolio_risk_percent=2)
    ctx.add_position("GBPUSD", Side.SELL, Decimal("0.5"), Decimal("1.2500"), sl=Decimal("1.2530"))

    signals = run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert ctx.orders == []
    assert signals[2][0].reason == (
        f"{REASON}; skipped: portfolio_risk_percent 2 would be exceeded (2.49% of balance at risk)"
    )


def test_portfolio_risk_allows_a_trade_within_the_limit() -> None:
    ctx = RecordingContext()
    strategy = donchian(ctx, portfolio_risk_percent=2.5)
    ctx.add_position("GBPUSD", Side.SELL, Decimal("0.5"), Decimal("1.2500"), sl=Decimal("1.2530"))

    run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert [o.volume for o in ctx.orders] == [Decimal("0.33")]


def test_a_position_without_a_stop_counts_at_the_strategy_stop_distance() -> None:
    ctx = RecordingContext()
    strategy = donchian(ctx, portfolio_risk_percent=2)
    ctx.add_position("GBPUSD", Side.BUY, Decimal("0.5"), Decimal("1.2500"))  # manual, no SL

    signals = run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert ctx.orders == []
    assert "(2.49% of balance at risk)" in signals[2][0].reason


def test_a_stop_beyond_the_open_price_risks_nothing() -> None:
    ctx = RecordingContext()
    strategy = donchian(ctx, portfolio_risk_percent=1)
    # A long whose stop was moved above its open price: locked-in profit, no risk.
    ctx.add_position("GBPUSD", Side.BUY, Decimal(5), Decimal("1.2500"), sl=Decimal("1.2510"))

    run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert len(ctx.orders) == 1


def test_an_unfilled_order_counts_until_it_becomes_a_position_or_a_bar_passes() -> None:
    ctx = RecordingContext(fill=False)  # the worker has not sent anything yet
    strategy = donchian(ctx, max_concurrent_trades=1)

    run_bars(strategy, ctx, "EURUSD", BREAKOUT)
    blocked = run_bars(strategy, ctx, "GBPUSD", BREAKOUT)
    assert blocked[2][0].reason == f"{REASON}; skipped: max_concurrent_trades 1 reached"

    # A bar later the EURUSD order never showed up (rejected): it no longer counts.
    later = run_bars(strategy, ctx, "GBPUSD", ["1.1020"], first_index=3)
    assert later[3][0].reason.startswith("close 1.10200 broke above the 2-bar high 1.10100; buy")
    assert [o.symbol for o in ctx.orders] == ["EURUSD", "GBPUSD"]


def test_a_filled_order_is_counted_once() -> None:
    ctx = RecordingContext()
    strategy = donchian(ctx, max_concurrent_trades=2)

    run_bars(strategy, ctx, "EURUSD", BREAKOUT)
    run_bars(strategy, ctx, "GBPUSD", BREAKOUT)

    assert [o.symbol for o in ctx.orders] == ["EURUSD", "GBPUSD"]


def test_positions_being_closed_do_not_count() -> None:
    # max_positions 1 and our own short on EURUSD: the breakout closes the short
    # and may open the long in its place, even before the close is confirmed.
    ctx = RecordingContext(fill=False)
    strategy = donchian(ctx, max_positions=1)
    short = ctx.add_position(
        "EURUSD",
        Side.SELL,
        Decimal("0.1"),
        Decimal("1.1000"),
        sl=Decimal("1.1030"),
        strategy_id="s1",
    )

    signals = run_bars(strategy, ctx, "EURUSD", BREAKOUT)

    assert ctx.closes == [(short.ticket, REASON)]
    assert [o.side for o in ctx.orders] == [Side.BUY]
    assert f"closing short #{short.ticket}; buy 0.33 EURUSD" in signals[2][0].reason
