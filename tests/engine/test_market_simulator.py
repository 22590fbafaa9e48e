"""MarketSimulator: seeded and deterministic, sane quotes (bid < ask, digits,
millisecond times), realistic activity, resuming, and warm-up history."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from config.models import InstrumentConfig
from engine.domain import Timeframe
from engine.market.bars import BarBuilder
from engine.market.simulator import MarketSimulator
from engine.models import Quote

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

INSTRUMENTS = {
    "EURUSD": InstrumentConfig(
        digits=5, point=Decimal("0.00001"), start_price=Decimal("1.10000"), spread_points=12
    ),
    "USDJPY": InstrumentConfig(
        digits=3,
        point=Decimal("0.001"),
        start_price=Decimal("150.000"),
        spread_points=15,
        profit_currency="JPY",
    ),
    "XAUUSD": InstrumentConfig(
        digits=2,
        point=Decimal("0.01"),
        contract_size=Decimal(100),
        start_price=Decimal("2000.00"),
        spread_points=30,
        volatility=0.15,
        ticks_per_second=2.0,
    ),
}


def run(sim: MarketSimulator, seconds: int, step: float = 1.0) -> list[Quote]:
    quotes: list[Quote] = []
    for n in range(1, int(seconds / step) + 1):
        quotes += sim.step(START + timedelta(seconds=n * step))
    return quotes


def prices(quotes: list[Quote]) -> list[tuple[str, Decimal, Decimal, datetime]]:
    return [(q.symbol, q.bid, q.ask, q.time) for q in quotes]


def test_the_same_seed_gives_the_same_quotes_and_another_seed_others() -> None:
    first = run(MarketSimulator(INSTRUMENTS, 7, START), 120)
    again = run(MarketSimulator(INSTRUMENTS, 7, START), 120)
    other = run(MarketSimulator(INSTRUMENTS, 8, START), 120)

    assert len(first) > 500
    assert prices(first) == prices(again)
    assert prices(first) != prices(other)


def test_quotes_do_not_depend_on_how_finely_time_is_stepped() -> None:
    coarse = run(MarketSimulator(INSTRUMENTS, 7, START), 120, step=10.0)
    fine = run(MarketSimulator(INSTRUMENTS, 7, START), 120, step=0.25)
    assert prices(coarse) == prices(fine)


def test_symbols_walk_independently() -> None:
    quotes = run(
        MarketSimulator({"A": INSTRUMENTS["EURUSD"], "B": INSTRUMENTS["EURUSD"]}, 1, START), 60
    )
    a = [q.bid for q in quotes if q.symbol == "A"]
    b = [q.bid for q in quotes if q.symbol == "B"]
    assert a[:20] != b[:20]


def test_quotes_are_sane_exact_and_in_time_order() -> None:
    sim = MarketSimulator(INSTRUMENTS, 3, START)
    previous = START
    for second in range(1, 1801):
        now = START + timedelta(seconds=second)
        quotes = sim.step(now)
        for quote in quotes:
            digits = INSTRUMENTS[quote.symbol].digits
            assert 0 < quote.bid < quote.ask
            assert quote.bid.as_tuple().exponent == -digits
            assert quote.ask.as_tuple().exponent == -digits
            assert quote.mid == pytest.approx(float(quote.bid + quote.ask) / 2)
            assert quote.time.microsecond % 1000 == 0  # millisecond resolution
            assert previous <= quote.time <= now
            previous = quote.time
        assert sim.quotes() == {s: sim.quote(s) for s in INSTRUMENTS}


def test_each_symbol_ticks_at_about_its_rate() -> None:
    quotes = run(MarketSimulator(INSTRUMENTS, 5, START), 600)
    for symbol, instrument in INSTRUMENTS.items():
        count = sum(1 for q in quotes if q.symbol == symbol)
        expected = 600 * instrument.ticks_per_second
        assert 0.9 * expected < count < 1.1 * expected, symbol
        times = [q.time for q in quotes if q.symbol == symbol]
        gaps = {(b - a).total_seconds() for a, b in pairwise(times)}
        assert len(gaps) > 50  # random arrivals, not a metronome


def test_spreads_vary_around_the_configured_spread_and_widen_in_bursts() -> None:
    quotes = run(MarketSimulator(INSTRUMENTS, 11, START), 3600)
    for symbol, instrument in INSTRUMENTS.items():
        point = instrument.point
        spreads = [(q.ask - q.bid) / point for q in quotes if q.symbol == symbol]
        base = instrument.spread_points
        assert 0.8 * base <= statistics.median(spreads) <= 1.4 * base
        assert len(set(spreads)) > 5
        assert max(spreads) > 1.4 * base, "an hour without a single volatility burst"


def test_prices_move_enough_to_trade_on_short_bars() -> None:
    """With the default time scale a 15-second bar moves about
    volatility * sqrt(15 s * 60 / year): several spreads on EURUSD in an hour."""
    sim = MarketSimulator({"EURUSD": INSTRUMENTS["EURUSD"]}, 2, START)
    builder = BarBuilder("EURUSD", Timeframe.S15)
    bars = [bar for q in run(sim, 3600) if (bar := builder.update(q)) is not None]
    returns = [math.log(b.close / a.close) for a, b in pairwise(bars)]
    expected = 0.10 * math.sqrt(15 * sim.time_scale / (365 * 24 * 3600))
    assert 0.7 * expected < statistics.stdev(returns) < 2.0 * expected
    ranges = [(b.high - b.low) / 0.00001 for b in bars]
    assert statistics.median(ranges) > 2 * 12  # the typical bar spans two spreads


def test_prices_stay_positive_however_wild_the_instrument() -> None:
    wild = InstrumentConfig(
        digits=2, point=Decimal("0.01"), start_price=Decimal("0.05"), volatility=50.0
    )
    quotes = run(MarketSimulator({"WILD": wild}, 1, START), 600)
    assert quotes and all(Decimal(0) < q.bid < q.ask for q in quotes)


def test_a_resumed_market_continues_from_its_last_quotes() -> None:
    first = MarketSimulator(INSTRUMENTS, 9, START)
    run(first, 300)
    last = first.quotes()
    later = START + timedelta(hours=2)

    resumed = MarketSimulator(INSTRUMENTS, 9, later, last)

    for symbol, quote in resumed.quotes().items():
        assert (quote.bid, quote.ask) == (last[symbol].bid, last[symbol].ask)
        assert quote.time == later
    after = resumed.step(later + timedelta(seconds=5))
    eur = [q for q in after if q.symbol == "EURUSD"]
    assert eur and abs(eur[0].mid - last["EURUSD"].mid) < 0.001  # continues, no jump
    fresh = MarketSimulator(INSTRUMENTS, 9, START).quote("EURUSD")
    assert fresh is not None and fresh.mid == pytest.approx(1.1)


@pytest.mark.parametrize("timeframe", [Timeframe.S5, Timeframe.M1, Timeframe.H1])
def test_history_is_aligned_and_ends_at_the_current_price(timeframe: Timeframe) -> None:
    sim = MarketSimulator(INSTRUMENTS, 4, START)
    run(sim, 95)
    end = START + timedelta(seconds=95)

    bars = sim.history("EURUSD", timeframe, 200, end)

    seconds = timeframe.seconds
    assert len(bars) == 200
    assert all(b.symbol == "EURUSD" and b.timeframe is timeframe for b in bars)
    assert all(int(b.time.timestamp()) % seconds == 0 for b in bars)
    assert all((b.time - a.time).total_seconds() == seconds for a, b in pairwise(bars))
    # the last bar is the one that closed before the period containing `end`
    assert (
        bars[-1].time + timedelta(seconds=seconds)
        <= end
        < bars[-1].time + 2 * timedelta(seconds=seconds)
    )
    current = sim.quote("EURUSD")
    assert current is not None and bars[-1].close == pytest.approx(current.mid, abs=1e-5)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert all(b.open == a.close for a, b in pairwise(bars))
    assert len({b.close for b in bars}) > 100  # it moves
    assert sim.history("EURUSD", timeframe, 200, end) == bars  # deterministic


def test_history_joins_the_live_bars_without_overlap() -> None:
    sim = MarketSimulator(INSTRUMENTS, 4, START)
    history = sim.history("EURUSD", Timeframe.S5, 50, START)
    builder = BarBuilder("EURUSD", Timeframe.S5)
    live = [bar for q in run(sim, 30) if q.symbol == "EURUSD" and (bar := builder.update(q))]

    assert live[0].time == history[-1].time + timedelta(seconds=5)
    assert live[0].open == pytest.approx(history[-1].close, abs=0.0005)


def test_history_of_an_unknown_symbol_is_empty() -> None:
    assert MarketSimulator(INSTRUMENTS, 4, START).history("NOPE", Timeframe.M1, 10, START) == []
