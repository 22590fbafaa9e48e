"""A limit's metric over the books of its scope: the one function both the
continuous evaluation and the pre-trade check use, so the two always agree."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

from engine.domain import RiskLimitKind, RiskScope
from engine.models import RiskLimit
from engine.risk.book import AccountBook, Holdings, Valuer

_ZERO = Decimal(0)

EQUITY_KINDS = frozenset({RiskLimitKind.MAX_DAILY_LOSS, RiskLimitKind.MAX_DRAWDOWN})
POSITION_KINDS = frozenset(
    {
        RiskLimitKind.MAX_POSITION_SIZE,
        RiskLimitKind.MAX_EXPOSURE,
        RiskLimitKind.MAX_OPEN_POSITIONS,
    }
)


def measure(
    limit: RiskLimit,
    books: Mapping[str, AccountBook],
    total: AccountBook,
    valuer: Valuer,
    now: float,
    *,
    instead: tuple[str, Holdings] | None = None,
) -> Decimal:
    """The value `limit` watches now; `instead` replaces one account's holdings
    (with an order applied): what the value would be if the order went through."""
    kind = limit.kind
    if kind in EQUITY_KINDS:
        return equity_value(limit, books, total)
    scoped: Collection[AccountBook]
    if limit.account_id is not None:
        book = books.get(limit.account_id)
        scoped = () if book is None else (book,)
    else:
        scoped = books.values()
    symbol = limit.symbol
    if kind is RiskLimitKind.MAX_ORDERS_PER_MINUTE:
        return Decimal(sum(book.orders_sent(now, symbol) for book in scoped))
    swapped = instead[0] if instead is not None else None
    held = [
        (instead[1] if instead is not None and book.account_id == swapped else book.holdings, book)
        for book in scoped
    ]
    if len(held) == 1:
        return shape_value(limit, *held[0], valuer)
    if kind is RiskLimitKind.MAX_OPEN_POSITIONS:
        if symbol is not None:
            return Decimal(sum(h.counts.get(symbol, 0) for h, _ in held))
        return Decimal(sum(h.total for h, _ in held))
    if kind is RiskLimitKind.MAX_EXPOSURE:
        return sum((_exposure(symbol, h, book, valuer) for h, book in held), _ZERO)
    # MAX_POSITION_SIZE: the largest net volume in one symbol, summed over the scope.
    if symbol is not None:
        return abs(sum((h.nets.get(symbol, _ZERO) for h, _ in held), _ZERO))
    nets: dict[str, Decimal] = {}
    for h, _ in held:
        for s, net in h.nets.items():
            nets[s] = nets.get(s, _ZERO) + net
    return max((abs(v) for v in nets.values()), default=_ZERO)


def equity_value(limit: RiskLimit, books: Mapping[str, AccountBook], total: AccountBook) -> Decimal:
    """A daily-loss or drawdown limit's value: its account's book, or the book
    of all accounts."""
    book = total if limit.scope is RiskScope.GLOBAL else books.get(limit.account_id or "")
    if book is None:
        return _ZERO
    if limit.kind is RiskLimitKind.MAX_DAILY_LOSS:
        return book.daily_loss()
    return book.drawdown()


def shape_value(limit: RiskLimit, holdings: Holdings, book: AccountBook, valuer: Valuer) -> Decimal:
    """A size, count or exposure limit's value over one account holding
    `holdings` (its book's own, or the book's with an order applied)."""
    kind, symbol = limit.kind, limit.symbol
    if kind is RiskLimitKind.MAX_OPEN_POSITIONS:
        return Decimal(holdings.counts.get(symbol, 0) if symbol is not None else holdings.total)
    if kind is RiskLimitKind.MAX_EXPOSURE:
        return _exposure(symbol, holdings, book, valuer)
    if symbol is not None:
        return abs(holdings.nets.get(symbol, _ZERO))
    return holdings.largest


def _exposure(symbol: str | None, holdings: Holdings, book: AccountBook, valuer: Valuer) -> Decimal:
    priced = (
        book.exposures(valuer)
        if holdings is book.holdings
        else holdings.priced(valuer, book.currency)
    )
    return priced.get(symbol, _ZERO) if symbol is not None else sum(priced.values(), _ZERO)


def unit(limit: RiskLimit, currency: str) -> str:
    return {
        RiskLimitKind.MAX_POSITION_SIZE: "lots",
        RiskLimitKind.MAX_EXPOSURE: currency,
        RiskLimitKind.MAX_OPEN_POSITIONS: "positions",
        RiskLimitKind.MAX_DAILY_LOSS: currency,
        RiskLimitKind.MAX_DRAWDOWN: "%",
        RiskLimitKind.MAX_ORDERS_PER_MINUTE: "orders/min",
    }[limit.kind]


def describe(limit: RiskLimit) -> str:
    """`max_drawdown on account-001`, `max_position_size on EURUSD in account-001`."""
    if limit.scope is RiskScope.GLOBAL:
        where = "all accounts"
    elif limit.scope is RiskScope.ACCOUNT:
        where = str(limit.account_id)
    elif limit.account_id is None:
        where = f"{limit.symbol} in all accounts"
    else:
        where = f"{limit.symbol} in {limit.account_id}"
    return f"{limit.kind.value} on {where}"


def covers(limit: RiskLimit, account_id: str, symbol: str) -> bool:
    """Whether an order of `account_id` in `symbol` falls in the limit's scope."""
    if limit.account_id is not None and limit.account_id != account_id:
        return False
    return limit.symbol is None or limit.symbol == symbol
