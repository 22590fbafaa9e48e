"""A stand-in for the worker in strategy tests: a `StrategyContext` that records
every signal, order and close, fills orders at once (unless told not to), and
feeds hand-made price series bar by bar."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from config.models import InstrumentConfig, RiskSettings
from engine.domain import Timeframe
from engine.models import AccountSnapshot, Bar, OrderRequest, Position, Quote, Side, Signal
from engine.strategies import Strategy, create_strategy

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TIMEFRAME = Timeframe.M1
SPREAD = Decimal("0.0002")

INSTRUMENTS = {
    "EURUSD": InstrumentConfig(
        digits=5, point=Decimal("0.00001"), contract_size=Decimal(100000), start_price=Decimal(1)
    ),
    "GBPUSD": InstrumentConfig(
        digits=5, point=Decimal("0.00001"), contract_size=Decimal(100000), start_price=Decimal(1)
    ),
    "XAUUSD": InstrumentConfig(
        digits=2, point=Decimal("0.01"), contract_size=Decimal(100), start_price=Decimal(2000)
    ),
    "USDJPY": InstrumentConfig(
        digits=3,
        point=Decimal("0.001"),
        contract_size=Decimal(100000),
        profit_currency="JPY",
        start_price=Decimal(150),
    ),
}


class StepClock:
    """Time as the fed quotes say it is."""

    def __init__(self, now: datetime = START) -> None:
        self.time = now

    def now(self) -> datetime:
        return self.time

    def monotonic(self) -> float:
        return (self.time - START).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.time += timedelta(seconds=seconds)


class RecordingContext:
    """The worker as a strategy sees it, recording instead of trading."""

    account_id = "account-test"

    def __init__(
        self, *, balance: Decimal = Decimal(10000), currency: str = "USD", fill: bool = True
    ) -> None:
        self.clock = StepClock()
        self.balance_value = balance
        self.currency = currency
        self.fill = fill
        self.quotes: dict[str, Quote] = {}
        self.open: list[Position] = []
        self.signals: list[Signal] = []
        self.orders: list[OrderRequest] = []
        self.closes: list[tuple[int, str]] = []
        self._tickets = itertools.count(1)

    def instrument(self, symbol: str) -> InstrumentConfig:
        return INSTRUMENTS[symbol]

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=self.account_id,
            currency=self.currency,
            starting_balance=self.balance_value,
            balance=self.balance_value,
            equity=self.balance_value,
            free_margin=self.balance_value,
            time=self.clock.now(),
        )

    def balance(self) -> Decimal:
        return self.balance_value

    def positions(self, symbol: str | None = None) -> list[Position]:
        return [p for p in self.open if symbol is None or p.symbol == symbol]

    def quote(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    def submit(self, request: OrderRequest) -> None:
        self.orders.append(request)
        if self.fill:
            quote = self.quotes[request.symbol]
            self.add_position(
                request.symbol,
                request.side,
                request.volume,
                quote.ask if request.side is Side.BUY else quote.bid,
                sl=request.sl,
                strategy_id=request.strategy_id,
            )

    def close_position(self, ticket: int, reason: str) -> None:
        self.closes.append((ticket, reason))
        if self.fill:
            self.open = [p for p in self.open if p.ticket != ticket]

    def signal(
        self, strategy_id: str, symbol: str, side: Side, strength: float, reason: str
    ) -> None:
        self.signals.append(
            Signal(
                account_id=self.account_id,
                strategy_id=strategy_id,
                symbol=symbol,
                side=side,
                strength=strength,
                reason=reason,
                time=self.clock.now(),
            )
        )

    # --- test helpers ----------------------------------------------------------

    def add_position(
        self,
        symbol: str,
        side: Side,
        volume: Decimal,
        open_price: Decimal,
        *,
        sl: Decimal | None = None,
        strategy_id: str | None = None,
    ) -> Position:
        position = Position(
            ticket=next(self._tickets),
            account_id=self.account_id,
            symbol=symbol,
            side=side,
            volume=volume,
            open_price=open_price,
            open_time=self.clock.now(),
            sl=sl,
            strategy_id=strategy_id,
        )
        self.open.append(position)
        return position

    def set_quote(self, symbol: str, mid: str | Decimal, time: datetime | None = None) -> Quote:
        price = Decimal(mid)
        quote = Quote(
            symbol=symbol,
            bid=price - SPREAD / 2,
            ask=price + SPREAD / 2,
            time=time or self.clock.now(),
            mid=float(price),
        )
        self.quotes[symbol] = quote
        return quote


def make_strategy(
    kind: str,
    params: dict[str, object],
    ctx: RecordingContext,
    *,
    symbols: Sequence[str] = ("EURUSD",),
    risk: RiskSettings | None = None,
    strategy_id: str = "s1",
) -> Strategy:
    return create_strategy(
        kind, strategy_id, dict(params), list(symbols), TIMEFRAME, risk or RiskSettings(), ctx
    )


BarTicks = str | Sequence[str]  # a close, or the tick mids of one bar (the last is its close)


def bar_time(index: int) -> datetime:
    return START + timedelta(seconds=index * TIMEFRAME.seconds)


def run_bars(
    strategy: Strategy,
    ctx: RecordingContext,
    symbol: str,
    bars: Sequence[BarTicks],
    *,
    first_index: int = 0,
) -> dict[int, list[Signal]]:
    """Feed `bars` (numbered from `first_index`) as quotes, ticks one second apart
    from each bar's start, then one tick of a further bar to close the last.
    Returns the new signals keyed by the number of the bar whose close made them."""
    by_bar: dict[int, list[Signal]] = {}
    for n, ticks in enumerate([*bars, bars[-1]]):
        index = first_index + n
        mids = [ticks] if isinstance(ticks, str) else list(ticks)
        if n == len(bars):
            mids = mids[-1:]
        for offset, mid in enumerate(mids):
            seen = len(ctx.signals)
            when = bar_time(index) + timedelta(seconds=offset + 1)
            ctx.clock.time = when
            strategy.on_quote(ctx.set_quote(symbol, mid, when))
            if len(ctx.signals) > seen:
                by_bar.setdefault(index - 1, []).extend(ctx.signals[seen:])
    return by_bar


def history(symbol: str, closes: Sequence[str], first_index: int = 0) -> list[Bar]:
    """Closed bars with open = high = low = close, as warm-up history."""
    return [
        Bar(
            symbol=symbol,
            timeframe=TIMEFRAME,
            time=bar_time(first_index + i),
            open=float(c),
            high=float(c),
            low=float(c),
            close=float(c),
        )
        for i, c in enumerate(closes)
    ]
