"""Position sizing by risk: how many lots lose `risk_percent` of the balance
when the stop loss `stop_loss_pips` away is hit, and where SL and TP go.

A pip is `pip_points * point` of price; a lot moves `contract_size` units of
the base, so one pip on one lot is worth `pip * contract_size` in the
instrument's profit currency. `rate` converts that into the account's
currency (1 when they are the same).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from config.models import InstrumentConfig, RiskSettings
from engine.models import Position, Quote, Side

QuoteLookup = Callable[[str], Quote | None]

_ONE = Decimal(1)
_TWO = Decimal(2)
_HUNDRED = Decimal(100)
_NOISE = Decimal("1e-9")


def pip_size(instrument: InstrumentConfig) -> Decimal:
    return instrument.pip_points * instrument.point


def loss_per_lot(risk: RiskSettings, instrument: InstrumentConfig, rate: Decimal) -> Decimal:
    """What one lot loses, in account currency, when the stop loss is hit."""
    stop_distance = _dec(risk.stop_loss_pips) * pip_size(instrument)
    return stop_distance * instrument.contract_size * rate


def position_size(
    balance: Decimal, risk: RiskSettings, instrument: InstrumentConfig, rate: Decimal = _ONE
) -> Decimal:
    """Lots risking `risk.risk_percent` of `balance` to the stop loss, rounded down
    to `volume_step` and clamped to `volume_max`; 0 when below `volume_min`."""
    per_lot = loss_per_lot(risk, instrument, rate)
    if per_lot <= 0 or balance <= 0:
        return Decimal(0)
    budget = balance * _dec(risk.risk_percent) / _HUNDRED
    step = instrument.volume_step
    # A converted rate like 1/150 is inexact in its last digit; without this
    # rounding an exact 0.5 lots could come out as 0.4999... and floor to 0.49.
    steps = min(budget / per_lot, instrument.volume_max) / step
    volume = steps.quantize(_NOISE).to_integral_value(rounding=ROUND_FLOOR) * step
    if volume < instrument.volume_min:
        return Decimal(0)
    return volume.quantize(step)


def stop_prices(
    side: Side, entry: Decimal, risk: RiskSettings, instrument: InstrumentConfig
) -> tuple[Decimal, Decimal]:
    """(SL, TP) `stop_loss_pips` and `take_profit_pips` from `entry` (the ask for
    a buy, the bid for a sell), rounded to the instrument's digits."""
    pip = pip_size(instrument)
    sl = entry - side.sign * _dec(risk.stop_loss_pips) * pip
    tp = entry + side.sign * _dec(risk.take_profit_pips) * pip
    return round_price(sl, instrument), round_price(tp, instrument)


def round_price(price: Decimal, instrument: InstrumentConfig) -> Decimal:
    return price.quantize(Decimal(1).scaleb(-instrument.digits), rounding=ROUND_HALF_UP)


def conversion_rate(
    profit_currency: str, account_currency: str, quote: QuoteLookup
) -> Decimal | None:
    """Account-currency value of one unit of `profit_currency`: 1 for the same
    currency, else from the direct pair's mid (EURUSD for EUR -> USD) or the
    inverse of the reverse pair's (USDJPY for JPY -> USD); None when neither is
    quoted."""
    if profit_currency == account_currency:
        return _ONE
    direct = quote(profit_currency + account_currency)
    if direct is not None:
        return (direct.bid + direct.ask) / _TWO
    inverse = quote(account_currency + profit_currency)
    if inverse is not None:
        return _TWO / (inverse.bid + inverse.ask)
    return None


def open_risk(
    position: Position, risk: RiskSettings, instrument: InstrumentConfig, rate: Decimal
) -> Decimal:
    """What `position` loses, in account currency, if its stop loss is hit; 0 when
    the stop is at or beyond the open price. A position without a stop (a manual
    one) has no bound, so it counts as if its stop were `stop_loss_pips` away."""
    if position.sl is None:
        return position.volume * loss_per_lot(risk, instrument, rate)
    distance = (position.open_price - position.sl) * position.side.sign
    if distance <= 0:
        return Decimal(0)
    return distance * position.volume * instrument.contract_size * rate


def _dec(value: float) -> Decimal:
    # str() keeps 1.5 as Decimal("1.5") rather than its binary expansion.
    return Decimal(str(value))
