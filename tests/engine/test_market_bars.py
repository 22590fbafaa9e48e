"""BarBuilder: OHLC from quote mids, bars aligned to epoch multiples of the
timeframe, and a bar returned exactly when the next period opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.domain import Timeframe
from engine.market.bars import BarBuilder
from engine.models import Quote

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def quote(seconds: float, mid: float) -> Quote:
    half = Decimal("0.00005")
    price = Decimal(str(mid))
    return Quote(
        symbol="EURUSD",
        bid=price - half,
        ask=price + half,
        time=T0 + timedelta(seconds=seconds),
        mid=mid,
    )


def test_quotes_in_one_period_make_one_bar_returned_when_the_next_opens() -> None:
    builder = BarBuilder("EURUSD", Timeframe.M1)
    assert builder.current is None

    for seconds, mid in [(1, 1.1000), (10, 1.1020), (20, 1.0990), (59.999, 1.1010)]:
        assert builder.update(quote(seconds, mid)) is None

    closed = builder.update(quote(60, 1.1015))

    assert closed is not None
    assert (closed.symbol, closed.timeframe, closed.time) == ("EURUSD", Timeframe.M1, T0)
    assert (closed.open, closed.high, closed.low, closed.close) == (1.1000, 1.1020, 1.0990, 1.1010)
    assert closed.ticks == 4
    current = builder.current
    assert current is not None
    assert current.time == T0 + timedelta(minutes=1)
    assert (current.open, current.high, current.low, current.close, current.ticks) == (
        1.1015,
        1.1015,
        1.1015,
        1.1015,
        1,
    )


def test_bars_align_to_epoch_multiples_of_the_timeframe() -> None:
    builder = BarBuilder("EURUSD", Timeframe.S15)
    builder.update(quote(22.5, 1.1))  # 09:00:22.5 belongs to the 09:00:15 bar
    assert builder.current is not None and builder.current.time == T0 + timedelta(seconds=15)

    closed = builder.update(quote(30, 1.2))
    assert closed is not None and closed.time == T0 + timedelta(seconds=15)

    hourly = BarBuilder("EURUSD", Timeframe.H4)
    hourly.update(quote(3 * 3600, 1.1))  # 12:00 is in the 12:00 H4 bar (epoch-aligned)
    assert hourly.current is not None and hourly.current.time == T0 + timedelta(hours=3)


def test_a_quiet_period_yields_no_empty_bar() -> None:
    builder = BarBuilder("EURUSD", Timeframe.S5)
    builder.update(quote(1, 1.1))
    closed = builder.update(quote(27, 1.2))  # periods 5..25 had no quotes

    assert closed is not None and closed.time == T0 and closed.close == 1.1
    assert builder.current is not None and builder.current.time == T0 + timedelta(seconds=25)


def test_a_sequence_of_bars_from_a_price_path() -> None:
    builder = BarBuilder("EURUSD", Timeframe.S5)
    path = [1.1 + 0.0001 * ((n * 7) % 11) for n in range(100)]
    bars = [bar for n, mid in enumerate(path) if (bar := builder.update(quote(n * 0.5, mid)))]

    assert len(bars) == 9  # 50 s of quotes: nine closed bars, the tenth in progress
    for index, bar in enumerate(bars):
        window = path[index * 10 : index * 10 + 10]
        assert bar.time == T0 + timedelta(seconds=5 * index)
        assert (bar.open, bar.close) == (window[0], window[-1])
        assert (bar.high, bar.low) == (max(window), min(window))
        assert bar.ticks == 10
