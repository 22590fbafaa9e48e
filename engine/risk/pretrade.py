"""What one order would do to an account's holdings, and the words a refusal
uses. The check itself is `RiskEngine.check`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from engine.brokers import retcodes
from engine.brokers.base import Holding
from engine.domain import RiskLimitKind
from engine.models import Money, Order, OrderRequest, RiskLimit
from engine.orders.gate import Rejection
from engine.risk.book import Holdings
from engine.risk.measure import describe

_ZERO = Decimal(0)

_RETCODES = {
    RiskLimitKind.MAX_POSITION_SIZE: retcodes.LIMIT_VOLUME,
    RiskLimitKind.MAX_EXPOSURE: retcodes.LIMIT_VOLUME,
    RiskLimitKind.MAX_OPEN_POSITIONS: retcodes.LIMIT_POSITIONS,
    RiskLimitKind.MAX_ORDERS_PER_MINUTE: retcodes.TOO_MANY_REQUESTS,
    RiskLimitKind.MAX_DAILY_LOSS: retcodes.TRADE_DISABLED,
    RiskLimitKind.MAX_DRAWDOWN: retcodes.TRADE_DISABLED,
}


def holdings_after(
    positions: Mapping[str, Holding],
    pending: Sequence[Order],
    request: OrderRequest,
    netting: bool,
) -> tuple[Holdings, Holdings, bool]:
    """(holdings now, holdings if the order fills, whether it only reduces a
    netting position), from the broker's holdings per symbol: as many steps as
    symbols held, however many positions. A pending order is judged as if it
    filled now, and the account's pending orders already placed count as filled
    too: otherwise several of them could each pass a count or size limit and
    together break it once they trigger."""
    before = Holdings.held(positions)
    for order in pending:
        if order.position_ticket is None:
            _fill(before, order.symbol, order.volume * order.side.sign, netting)
    symbol = request.symbol
    held = before.nets.get(symbol, _ZERO)
    signed = request.volume * request.side.sign
    reduces = netting and held != 0 and (held > 0) != (signed > 0) and abs(signed) <= abs(held)
    after = Holdings(dict(before.nets), dict(before.counts))
    _fill(after, symbol, signed, netting)
    return before, after, reduces


def _fill(holdings: Holdings, symbol: str, signed: Decimal, netting: bool) -> None:
    """`signed` lots of `symbol` filled: a new position, or (netting) added to the one held."""
    held = holdings.nets.get(symbol, _ZERO)
    holdings.nets[symbol] = held + signed
    if not netting or not held:
        holdings.counts[symbol] = holdings.counts.get(symbol, 0) + 1


def over_limit(limit: RiskLimit, value: Decimal, unit: str) -> Rejection:
    """The order would take the metric over the threshold."""
    return Rejection(
        _RETCODES[limit.kind],
        f"Risk limit {limit.id!r} ({describe(limit)}) refuses this order: it would take "
        f"the value to {_show(value)} {unit}, over the threshold of {_show(limit.threshold)}.",
        f"risk.{limit.kind.value}",
    )


def breached(limit: RiskLimit, value: Decimal, unit: str) -> Rejection:
    """The limit is breached: new orders in its scope wait until it clears."""
    return Rejection(
        _RETCODES[limit.kind],
        f"Risk limit {limit.id!r} ({describe(limit)}) is breached at {_show(value)} {unit} "
        f"(threshold {_show(limit.threshold)}): new orders are refused until it clears.",
        f"risk.{limit.kind.value}",
    )


def _show(value: Money) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
