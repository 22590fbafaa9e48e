"""The `Broker` seam: what a worker needs from a broker account, whether a
simulated paper account or a MetaTrader 5 terminal.

A broker reports every change to its ledger as a `Changes` value (orders,
fills, positions, balance) instead of writing anywhere itself: the worker
stores the changes durably first and only then tells the rest of the engine.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from engine.domain import BrokerKind
from engine.models import (
    AccountSnapshot,
    Fill,
    Order,
    OrderBook,
    OrderRequest,
    Position,
    Quote,
)

_ZERO = Decimal(0)


def new_order(request: OrderRequest, account_id: str, ticket: int, now: datetime) -> Order:
    """The order a request becomes, before any broker has acted on it."""
    return Order(
        ticket=ticket,
        account_id=account_id,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        volume=request.volume,
        price=request.price,
        stop_limit=request.stop_limit,
        sl=request.sl,
        tp=request.tp,
        source=request.source,
        strategy_id=request.strategy_id,
        position_ticket=request.position_ticket,
        magic=request.magic,
        comment=request.comment,
        created_at=now,
        updated_at=now,
    )


@dataclass(slots=True)
class Changes:
    """What one broker action or one quote changed in an account's ledger."""

    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)  # opened or changed
    closed: list[Position] = field(default_factory=list)  # final state of closed ones
    balance: Decimal | None = None  # set when the balance moved

    def __bool__(self) -> bool:
        return bool(self.orders or self.fills or self.positions or self.closed)

    def extend(self, other: Changes) -> None:
        self.orders.extend(other.orders)
        self.fills.extend(other.fills)
        self.positions.extend(other.positions)
        self.closed.extend(other.closed)
        if other.balance is not None:
            self.balance = other.balance


_INF = Decimal("Infinity")


@dataclass(frozen=True, slots=True)
class TriggerBand:
    """The prices at which a broker acts on a symbol's quotes (fills a pending
    order, closes a position at its SL or TP): a quote reaches the band when
    bid <= bid_low, bid >= bid_high, ask <= ask_low or ask >= ask_high. Quotes
    that reach no band need not go to the broker at all."""

    bid_low: Decimal = -_INF
    bid_high: Decimal = _INF
    ask_low: Decimal = -_INF
    ask_high: Decimal = _INF

    def reached(self, bid: Decimal, ask: Decimal) -> bool:
        return (
            bid <= self.bid_low
            or bid >= self.bid_high
            or ask <= self.ask_low
            or ask >= self.ask_high
        )

    @classmethod
    def covering(cls, bands: Collection[TriggerBand]) -> TriggerBand:
        """The band a quote reaches exactly when it reaches any of `bands`."""
        return cls(
            max((b.bid_low for b in bands), default=-_INF),
            min((b.bid_high for b in bands), default=_INF),
            max((b.ask_low for b in bands), default=-_INF),
            min((b.ask_high for b in bands), default=_INF),
        )


NEVER = TriggerBand()
"""The band no quote reaches."""


@dataclass(slots=True)
class TradeResult:
    """MT5's MqlTradeResult in short: a retcode, a sentence, the order, and
    what changed."""

    retcode: int
    message: str
    order: Order | None
    changes: Changes = field(default_factory=Changes)

    @property
    def ok(self) -> bool:
        from engine.brokers.retcodes import SUCCESS_RETCODES

        return self.retcode in SUCCESS_RETCODES


@dataclass(slots=True)
class PaperLedger:
    """The durable state of one paper account, as storage loads it."""

    balance: Decimal
    realised_pnl: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    realised_today: Decimal = Decimal(0)  # profit - commission of fills since the day start
    positions: list[Position] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)  # open (placed) orders only


@dataclass(frozen=True, slots=True)
class Funds:
    """What the pre-trade checks need of an account's money, as `Broker.funds`
    reports it: a few numbers, none of the positions."""

    currency: str
    leverage: int
    equity: Decimal
    free_margin: Decimal


@dataclass(frozen=True, slots=True)
class Holding:
    """One symbol's open positions, as `Broker.holdings` reports them: the net
    signed volume (long positive) and how many positions make it."""

    net: Decimal
    count: int


def holdings_of(positions: Iterable[Position]) -> dict[str, Holding]:
    """Net volume and count per symbol of `positions`."""
    nets: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for position in positions:
        symbol = position.symbol
        nets[symbol] = nets.get(symbol, _ZERO) + position.volume * position.side.sign
        counts[symbol] = counts.get(symbol, 0) + 1
    return {symbol: Holding(net, counts[symbol]) for symbol, net in nets.items()}


class Broker(Protocol):
    kind: BrokerKind
    account_id: str

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    def on_quote(self, quote: Quote) -> Changes | None:
        """Fire the SL/TP and pending orders `quote` reaches. Only quotes that
        reach `trigger_band(quote.symbol)` need to be given; others change nothing."""
        ...

    def trigger_band(self, symbol: str) -> TriggerBand | None:
        """Where `symbol`'s quotes make the broker act; None when none can."""
        ...

    def check_stop_out(self) -> Changes | None:
        """Close positions while the margin level is below the stop-out level."""
        ...

    async def send_order(self, request: OrderRequest) -> TradeResult: ...

    async def cancel_order(self, ticket: int) -> TradeResult: ...

    async def close_position(self, ticket: int, volume: Decimal | None = None) -> TradeResult: ...

    async def modify_order(
        self,
        ticket: int,
        price: Decimal,
        sl: Decimal | None,
        tp: Decimal | None,
        stop_limit: Decimal | None = None,
    ) -> TradeResult:
        """New prices for a pending order (MT5's TRADE_ACTION_MODIFY)."""
        ...

    async def modify_position(
        self, ticket: int, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        """New SL/TP for an open position (MT5's TRADE_ACTION_SLTP; None removes one)."""
        ...

    def account(self) -> AccountSnapshot: ...

    def positions(self) -> list[Position]: ...

    def position(self, ticket: int) -> Position | None:
        """Open position `ticket`, priced as `positions()` prices it; None when
        it is not open."""
        ...

    def funds(self) -> Funds:
        """The account's currency, leverage, equity and free margin now: what
        `account()` reports of them, without the rest of the snapshot."""
        ...

    def holdings(self) -> Mapping[str, Holding]:
        """The open positions per symbol (symbols without any are absent): all
        the pre-trade checks need of them, kept as fills change them, so reading
        it costs the same at 1 position as at 1,000. Read only."""
        ...

    def open_orders(self) -> list[Order]: ...

    def last_quote(self, symbol: str) -> Quote | None: ...

    async def book(self, symbol: str, depth: int) -> OrderBook | None:
        """Depth of market from the broker, best prices first; None where it
        has none (a paper broker, a terminal without depth for the symbol)."""
        return None
