"""Bollinger mean reversion on a fixed series: in beyond the bands, out at the
mean, and silent when a mean crossing has nothing of its own to close."""

from __future__ import annotations

from engine.models import Side
from tests.engine.strategy_harness import RecordingContext, make_strategy, run_bars

# period 4, 1 standard deviation:
#   bar 4: mean 1.10000, sd 0.00127, close 1.0980 below the lower band 1.09873
#   bar 5: close 1.0990 between the bands, below the mean (no short to close)
#   bar 6: close 1.1006 back above the mean 1.09965: the long closes
#   bar 7: close 1.1040 above the upper band 1.10268
#   bar 8: close 1.1000 back below the mean 1.10090: the short closes
CLOSES = "1.1000 1.1012 1.0998 1.1010 1.0980 1.0990 1.1006 1.1040 1.1000".split()


def test_enters_beyond_the_bands_and_exits_at_the_mean() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("bollinger_reversion", {"period": 4, "deviations": 1.0}, ctx)

    signals = run_bars(strategy, ctx, "EURUSD", CLOSES)

    assert sorted(signals) == [4, 6, 7, 8]
    (buy,), (exit_long,), (sell,), (exit_short,) = (signals[i] for i in (4, 6, 7, 8))
    assert buy.side is Side.BUY
    assert buy.reason.startswith("close 1.09800 below the lower band 1.09873 (1 sd); buy 0.33")
    assert exit_long.side is Side.SELL
    assert exit_long.reason == "close 1.10060 back above the mean 1.09965; closing long #1"
    assert sell.side is Side.SELL
    assert sell.reason.startswith("close 1.10400 above the upper band 1.10268 (1 sd); sell 0.33")
    assert exit_short.side is Side.BUY
    assert exit_short.reason == "close 1.10000 back below the mean 1.10090; closing short #2"

    assert [o.side for o in ctx.orders] == [Side.BUY, Side.SELL]
    assert ctx.closes == [
        (1, "close 1.10060 back above the mean 1.09965"),
        (2, "close 1.10000 back below the mean 1.10090"),
    ]
    assert ctx.open == []


def test_exits_only_its_own_positions() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("bollinger_reversion", {"period": 4, "deviations": 1.0}, ctx)
    run_bars(strategy, ctx, "EURUSD", CLOSES[:5])  # long #1 opened at bar 4
    other = ctx.add_position(
        "EURUSD",
        Side.BUY,
        ctx.orders[0].volume,
        ctx.quotes["EURUSD"].ask,
        strategy_id="someone-else",
    )

    run_bars(strategy, ctx, "EURUSD", CLOSES[5:7], first_index=5)

    assert [ticket for ticket, _ in ctx.closes] == [1]
    assert [p.ticket for p in ctx.open] == [other.ticket]
