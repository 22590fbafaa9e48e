"""Position sizing by risk on known numbers, SL/TP placement, and currency
conversion; then the same rules as a strategy applies them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.models import RiskSettings
from engine.models import Quote, Side
from engine.strategies.sizing import (
    conversion_rate,
    loss_per_lot,
    position_size,
    stop_prices,
)
from tests.engine.strategy_harness import (
    INSTRUMENTS,
    START,
    RecordingContext,
    make_strategy,
    run_bars,
)

EURUSD, XAUUSD, USDJPY = INSTRUMENTS["EURUSD"], INSTRUMENTS["XAUUSD"], INSTRUMENTS["USDJPY"]


def risk(**changes: float) -> RiskSettings:
    return RiskSettings().model_copy(update=changes)


def quote(symbol: str, bid: str, ask: str) -> Quote:
    return Quote(symbol=symbol, bid=Decimal(bid), ask=Decimal(ask), time=START, mid=0.0)


def test_eurusd_size_for_risk_percent_and_stop() -> None:
    # 2% of 25,000 = 500; 20 pips x 0.0001 x 100,000 = 200 a lot -> 2.5 lots.
    settings = risk(risk_percent=2, stop_loss_pips=20)
    assert loss_per_lot(settings, EURUSD, Decimal(1)) == Decimal(200)
    assert position_size(Decimal(25000), settings, EURUSD) == Decimal("2.50")


def test_xauusd_pip_is_ten_points_of_a_cent() -> None:
    # pip = 10 x 0.01 = 0.1; 50 pips = 5.0 x 100 oz = 500 a lot; 1% of 10,000 -> 0.2.
    settings = risk(risk_percent=1, stop_loss_pips=50)
    assert loss_per_lot(settings, XAUUSD, Decimal(1)) == Decimal(500)
    assert position_size(Decimal(10000), settings, XAUUSD) == Decimal("0.20")


def test_usdjpy_converts_yen_to_the_account_currency() -> None:
    # 30 pips = 0.30 yen x 100,000 = 30,000 JPY a lot = 200 USD at 150 -> 0.5 lots.
    rate = conversion_rate("JPY", "USD", {"USDJPY": quote("USDJPY", "149.99", "150.01")}.get)
    assert rate is not None
    assert loss_per_lot(risk(), USDJPY, rate).quantize(Decimal("0.01")) == Decimal("200.00")
    assert position_size(Decimal(10000), risk(), USDJPY, rate) == Decimal("0.50")


def test_volume_rounds_down_to_the_step() -> None:
    # 1% of 10,140 = 101.4 / 300 a lot = 0.338: down to 0.33, never up to 0.34.
    assert position_size(Decimal(10140), risk(), EURUSD) == Decimal("0.33")
    coarse = EURUSD.model_copy(update={"volume_step": Decimal("0.1")})
    assert position_size(Decimal(10140), risk(), coarse) == Decimal("0.3")


def test_volume_is_clamped_to_the_maximum() -> None:
    assert position_size(Decimal(10_000_000), risk(risk_percent=5), EURUSD) == Decimal(100)


def test_below_volume_min_sizes_to_zero() -> None:
    # 1% of 500 = 5 / 300 = 0.0166 -> 0.01, the minimum; 1% of 200 -> 0.0066 -> nothing.
    assert position_size(Decimal(500), risk(), EURUSD) == Decimal("0.01")
    assert position_size(Decimal(200), risk(), EURUSD) == Decimal(0)
    assert position_size(Decimal(0), risk(), EURUSD) == Decimal(0)


def test_stop_prices_from_the_entry_side() -> None:
    assert stop_prices(Side.BUY, Decimal("1.10413"), risk(), EURUSD) == (
        Decimal("1.10113"),
        Decimal("1.11013"),
    )
    settings = risk(stop_loss_pips=50, take_profit_pips=100)
    assert stop_prices(Side.SELL, Decimal("2000.55"), settings, XAUUSD) == (
        Decimal("2005.55"),
        Decimal("1990.55"),
    )


def test_stop_prices_round_to_the_instrument_digits() -> None:
    # 12.34 pips = 0.1234 and 25.56 pips = 0.2556 yen: 149.9996 and 150.3786 at 3 digits.
    sl, tp = stop_prices(
        Side.BUY, Decimal("150.123"), risk(stop_loss_pips=12.34, take_profit_pips=25.56), USDJPY
    )
    assert (sl, tp) == (Decimal("150.000"), Decimal("150.379"))
    assert sl.as_tuple().exponent == tp.as_tuple().exponent == -3


def test_conversion_rates() -> None:
    quotes = {
        "EURUSD": quote("EURUSD", "1.0999", "1.1001"),
        "USDJPY": quote("USDJPY", "149.9", "150.1"),
    }
    lookup = quotes.get
    assert conversion_rate("USD", "USD", lookup) == 1
    assert conversion_rate("EUR", "USD", lookup) == Decimal("1.1000")  # direct pair's mid
    assert conversion_rate("USD", "EUR", lookup) == Decimal(1) / Decimal("1.1")  # inverse
    assert conversion_rate("CHF", "USD", lookup) is None


# --- as a strategy sizes -----------------------------------------------------


# Donchian over 2 bars: bar 2 closes above the high of bars 0-1 and buys.
def breakout(base: str, step: str) -> list[str]:
    return [base, base, str(Decimal(base) + Decimal(step))]


def test_strategy_sizes_usdjpy_with_the_quoted_rate() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("donchian_breakout", {"period": 2}, ctx, symbols=("USDJPY",))

    signals = run_bars(strategy, ctx, "USDJPY", breakout("149.990", "0.020"))

    (order,) = ctx.orders
    # Entry 150.0101 (ask) at 3 digits; rate from the USDJPY quote itself (mid 150.010).
    assert order.volume == Decimal("0.50")
    assert (order.sl, order.tp) == (Decimal("149.710"), Decimal("150.610"))
    assert signals[2][0].reason.endswith("buy 0.50 USDJPY at 150.010, SL 149.710, TP 150.610")


def test_strategy_converts_through_the_inverse_pair() -> None:
    # A EUR account trading EURUSD: 300 USD a lot is 300 / 1.25 = 240 EUR;
    # 1% of 10,000 EUR = 100 -> 0.41 lots.
    ctx = RecordingContext(currency="EUR")
    strategy = make_strategy("donchian_breakout", {"period": 2}, ctx)

    run_bars(strategy, ctx, "EURUSD", breakout("1.2490", "0.0010"))

    assert [o.volume for o in ctx.orders] == [Decimal("0.41")]


def test_strategy_skips_when_no_rate_converts_the_profit_currency() -> None:
    ctx = RecordingContext(currency="CHF")
    strategy = make_strategy("donchian_breakout", {"period": 2}, ctx)

    signals = run_bars(strategy, ctx, "EURUSD", breakout("1.1000", "0.0010"))

    assert ctx.orders == []
    assert signals[2][0].reason.endswith("skipped: no USD->CHF rate to value the risk")


def test_strategy_skips_a_size_below_volume_min_and_says_so() -> None:
    ctx = RecordingContext(balance=Decimal(200))
    strategy = make_strategy("donchian_breakout", {"period": 2}, ctx)

    signals = run_bars(strategy, ctx, "EURUSD", breakout("1.1000", "0.0010"))

    assert ctx.orders == []
    assert signals[2][0].reason == (
        "close 1.10100 broke above the 2-bar high 1.10000; "
        "skipped: size for 1% risk is below volume_min 0.01"
    )


@pytest.mark.parametrize("balance", ["10000", "10140", "9999.99"])
def test_strategy_orders_match_the_sizing_function(balance: str) -> None:
    ctx = RecordingContext(balance=Decimal(balance))
    strategy = make_strategy("donchian_breakout", {"period": 2}, ctx)

    run_bars(strategy, ctx, "EURUSD", breakout("1.1000", "0.0010"))

    assert [o.volume for o in ctx.orders] == [position_size(Decimal(balance), risk(), EURUSD)]
