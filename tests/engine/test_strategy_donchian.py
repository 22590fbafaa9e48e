"""Donchian breakout on fixed bars with intrabar highs and lows: a close (not
a wick) beyond the channel of the previous bars trades."""

from __future__ import annotations

from decimal import Decimal

from engine.models import Side
from tests.engine.strategy_harness import RecordingContext, bar_time, make_strategy, run_bars

BARS = [
    ["1.1000", "1.1010", "1.0990", "1.1000"],  # 0: high 1.1010, low 1.0990
    ["1.1000", "1.1020", "1.0995", "1.1005"],  # 1: high 1.1020, low 1.0995
    ["1.1005", "1.1015", "1.0985", "1.1010"],  # 2: high 1.1015, low 1.0985
    ["1.1010", "1.1030", "1.1015"],  # 3: wick above 1.1020 but closes inside
    ["1.1015", "1.1025"],  # 4: channel high is now bar 3's 1.1030
    ["1.1025", "1.1040"],  # 5: closes above 1.1030 -> long
    ["1.1040", "1.1050"],  # 6: above again (1.1040), already long
    ["1.1050", "1.0990", "1.0980"],  # 7: closes below the low of bars 4-6 (1.1015)
]


def test_breakouts_above_and_below_the_channel() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("donchian_breakout", {"period": 3}, ctx)

    signals = run_bars(strategy, ctx, "EURUSD", BARS)

    assert sorted(signals) == [5, 6, 7]
    (long_,), (again,), (short,) = signals[5], signals[6], signals[7]
    assert long_.side is Side.BUY
    assert long_.reason.startswith("close 1.10400 broke above the 3-bar high 1.10300; buy 0.33")
    assert again.side is Side.BUY
    assert again.reason == (
        "close 1.10500 broke above the 3-bar high 1.10400; skipped: already long EURUSD"
    )
    assert short.side is Side.SELL
    assert short.reason.startswith(
        "close 1.09800 broke below the 3-bar low 1.10150; closing long #1; sell 0.33"
    )

    assert [(o.side, o.client_order_id) for o in ctx.orders] == [
        (Side.BUY, f"s1:EURUSD:{int(bar_time(5).timestamp())}"),
        (Side.SELL, f"s1:EURUSD:{int(bar_time(7).timestamp())}"),
    ]
    assert [ticket for ticket, _ in ctx.closes] == [1]
    assert ctx.orders[1].volume == Decimal("0.33")
