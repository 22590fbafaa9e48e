"""What an instrument allows an order to be, by MetaTrader 5's symbol rules:
volume within min/max/step, prices rounded to the digits, pending prices on
the right side of the market, SL/TP at least `stops_level` points away, and
trading sessions. The pre-trade validation and the paper broker both judge by
these functions, so a refusal reads the same wherever it happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from config.models import InstrumentConfig
from engine.models import Filling, OrderRequest, OrderType, Quote, Side


@dataclass(slots=True)
class SymbolRules:
    """What order checks and fills need of an instrument, converted once."""

    quantum: Decimal  # 10**-digits
    point: Decimal
    stops: Decimal  # stops_level in price
    contract_size: Decimal
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    fillings: frozenset[str]
    default_filling: Filling
    profit_currency: str
    days: frozenset[int]
    sessions: tuple[tuple[int, int], ...]  # (start, end) in seconds of the UTC day

    @classmethod
    def of(cls, instrument: InstrumentConfig) -> SymbolRules:
        fillings = frozenset(instrument.filling_modes)
        return cls(
            quantum=Decimal(1).scaleb(-instrument.digits),
            point=instrument.point,
            stops=instrument.stops_level * instrument.point,
            contract_size=instrument.contract_size,
            volume_min=instrument.volume_min,
            volume_max=instrument.volume_max,
            volume_step=instrument.volume_step,
            fillings=fillings,
            default_filling=next((f for f in Filling if f.value in fillings), Filling.FOK),
            profit_currency=instrument.profit_currency,
            days=frozenset(instrument.trading_days),
            sessions=tuple(_session(hours) for hours in instrument.trading_hours),
        )

    def is_open(self, now: datetime) -> bool:
        now = now.astimezone(UTC)
        if now.weekday() not in self.days:
            return False
        second = now.hour * 3600 + now.minute * 60 + now.second
        return any(start <= second < end for start, end in self.sessions)


def rounded_prices(request: OrderRequest, rules: SymbolRules) -> dict[str, Decimal | None]:
    """The request's prices rounded to the instrument's digits (SL/TP ignored on a close)."""
    closing = request.position_ticket is not None
    return {
        "price": round_price(request.price, rules),
        "stop_limit": round_price(request.stop_limit, rules),
        "sl": None if closing else round_price(request.sl, rules),
        "tp": None if closing else round_price(request.tp, rules),
    }


def round_price(price: Decimal | None, rules: SymbolRules) -> Decimal | None:
    return None if price is None else price.quantize(rules.quantum, ROUND_HALF_EVEN)


def filling_problem(request: OrderRequest, rules: SymbolRules) -> str | None:
    if request.filling.value in rules.fillings:
        return None
    allowed = ", ".join(sorted(rules.fillings)) or "none"
    return (
        f"Filling mode {request.filling.value} is not allowed for {request.symbol} "
        f"(allowed: {allowed})."
    )


def volume_problem(volume: Decimal, rules: SymbolRules) -> str | None:
    if volume < rules.volume_min or volume > rules.volume_max:
        return (
            f"Volume {volume} is outside the allowed {rules.volume_min} to {rules.volume_max} lots."
        )
    if volume % rules.volume_step:
        return f"Volume {volume} is not a multiple of the volume step {rules.volume_step}."
    return None


def pending_problem(
    request: OrderRequest, prices: Mapping[str, Decimal | None], quote: Quote, rules: SymbolRules
) -> str | None:
    """Why a pending order's price is on the wrong side of the market (or too
    close to it), or None. Buy limits rest below the ask, buy stops above it;
    sell limits above the bid, sell stops below it."""
    price = prices["price"]
    assert price is not None
    buy = request.side is Side.BUY
    market = quote.ask if buy else quote.bid
    name = f"{request.side.value} {request.type.value.replace('_', '-')}"
    if price <= 0:
        return f"The {name} price must be above zero, not {price}."
    below = (request.type is OrderType.LIMIT) == buy
    distance = market - price if below else price - market
    if distance <= 0 or distance < rules.stops:
        where = "below" if below else "above"
        side = "ask" if buy else "bid"
        return (
            f"A {name} price must be {where} the {side} ({market}) by at least "
            f"{max(rules.stops, rules.point)}; it is {price}."
        )
    if request.type is OrderType.STOP_LIMIT:
        limit = prices["stop_limit"]
        assert limit is not None
        if limit <= 0 or (limit > price if buy else limit < price):
            where = "at or below" if buy else "at or above"
            return f"The stop_limit price {limit} must be {where} the stop price {price}."
    return None


def stops_problem(
    side: Side, reference: Decimal, sl: Decimal | None, tp: Decimal | None, rules: SymbolRules
) -> str | None:
    """Why SL/TP are invalid around `reference` (the price the position would close
    at, or the pending order's open price), or None. A long's SL goes below and its
    TP above, a short's the other way, each at least `stops_level` points away."""
    sign = side.sign
    for name, level, direction in (("SL", sl, -sign), ("TP", tp, sign)):
        if level is None:
            continue
        distance = (level - reference) * direction
        if level <= 0 or distance <= 0 or distance < rules.stops:
            where = "below" if direction < 0 else "above"
            return (
                f"The {name} {level} must be {where} {reference} by at least "
                f"{max(rules.stops, rules.point)}."
            )
    return None


def _session(hours: str) -> tuple[int, int]:
    """ "08:00-17:30" as seconds of the day; "24:00" is the end of the day."""
    start, end = hours.split("-")
    return _seconds(start), _seconds(end)


def _seconds(clock_time: str) -> int:
    hours, minutes = clock_time.split(":")
    return int(hours) * 3600 + int(minutes) * 60
