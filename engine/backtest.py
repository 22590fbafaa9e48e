"""Backtests: one strategy from `engine.strategies` trading a seeded simulated
market through a `PaperBroker`, with the same code paths as live trading
(bars built from quotes, sizing, limits, stops at the broker).

Deterministic: the same spec (seed, start, length) gives the same quotes,
orders and equity curve on every run and every machine.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from config.models import AccountConfig, InstrumentConfig, RiskSettings
from engine.brokers.base import Changes
from engine.brokers.paper import PaperBroker
from engine.domain import Timeframe
from engine.market.simulator import MarketSimulator
from engine.models import AccountSnapshot, DealEntry, OrderRequest, Position, Quote, Side
from engine.strategies import create_strategy

_STEP_SECONDS = 1.0  # how far the simulated market moves between order flushes
_YIELD_EVERY = 500  # steps between yields to the event loop


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    kind: str
    params: Mapping[str, Any]
    symbol: str
    timeframe: Timeframe
    start: datetime
    hours: float
    seed: int
    risk: RiskSettings = field(default_factory=RiskSettings)
    balance: Decimal = Decimal(10000)
    currency: str = "USD"
    leverage: int = 100


@dataclass(slots=True)
class BacktestResult:
    equity: list[tuple[datetime, float]]
    trade_pnls: list[float]
    orders: int
    final_balance: Decimal


async def run_backtest(
    spec: BacktestSpec, instruments: Mapping[str, InstrumentConfig]
) -> BacktestResult:
    """Trade `spec`'s strategy for `spec.hours` of simulated market; the equity
    at every bar close and the profit of every closing deal. Raises what
    `create_strategy` raises for a bad kind or parameters."""
    market = _markets(spec, instruments)
    clock = _SimClock(spec.start)
    simulator = MarketSimulator(market, spec.seed, spec.start)
    quotes: dict[str, Quote] = dict(simulator.quotes())
    account = AccountConfig(
        id="backtest",
        currency=spec.currency,
        starting_balance=spec.balance,
        leverage=spec.leverage,
        symbols=[spec.symbol],
    )
    broker = PaperBroker(
        account, market, clock, itertools.count(1).__next__, quote_source=quotes.get
    )
    context = _Context(broker, market, quotes, clock)
    strategy = create_strategy(
        spec.kind, "backtest", dict(spec.params), [spec.symbol], spec.timeframe, spec.risk, context
    )
    result = BacktestResult(equity=[], trade_pnls=[], orders=0, final_balance=spec.balance)
    bar_seconds = spec.timeframe.seconds
    next_sample = spec.start + timedelta(seconds=bar_seconds)
    end = spec.start + timedelta(hours=spec.hours)
    step = timedelta(seconds=_STEP_SECONDS)
    for n in itertools.count():
        now = spec.start + step * (n + 1)
        if now > end:
            break
        clock.now_value = now
        for quote in simulator.step(now):
            quotes[quote.symbol] = quote
            _collect(broker.on_quote(quote), result)
            if quote.symbol == spec.symbol:
                strategy.on_quote(quote)
        await context.flush(result)
        if now >= next_sample:
            next_sample += timedelta(seconds=bar_seconds)
            result.equity.append((now, float(broker.account().equity)))
        if n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    result.final_balance = broker.account().balance
    return result


def _markets(
    spec: BacktestSpec, instruments: Mapping[str, InstrumentConfig]
) -> dict[str, InstrumentConfig]:
    """The traded instrument and those that convert its profit to the account's
    currency (USDJPY for a JPY profit): simulating the rest would only cost time."""
    if spec.symbol not in instruments:
        raise ValueError(f"No instrument {spec.symbol!r} is configured.")
    profit = instruments[spec.symbol].profit_currency
    return {
        symbol: instrument
        for symbol, instrument in instruments.items()
        if symbol == spec.symbol
        or (profit != spec.currency and {profit, spec.currency} == {symbol[:3], symbol[3:]})
    }


def _collect(changes: Changes | None, result: BacktestResult) -> None:
    if not changes:
        return
    for fill in changes.fills:
        if fill.entry is not DealEntry.IN:
            result.trade_pnls.append(float(fill.profit - fill.commission))


class _SimClock:
    """The backtest's time: where the simulated market is."""

    def __init__(self, start: datetime) -> None:
        self.now_value = start
        self._origin = start

    def now(self) -> datetime:
        return self.now_value

    def monotonic(self) -> float:
        return (self.now_value - self._origin).total_seconds()

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("nothing in a backtest waits on the clock")


class _Context:
    """A worker as a backtested strategy sees it: orders go to the broker in
    the order submitted, once the quotes of the current step are processed."""

    account_id = "backtest"

    def __init__(
        self,
        broker: PaperBroker,
        instruments: Mapping[str, InstrumentConfig],
        quotes: dict[str, Quote],
        clock: _SimClock,
    ) -> None:
        self._broker = broker
        self._instruments = instruments
        self._quotes = quotes
        self.clock = clock
        self._queue: list[OrderRequest | tuple[int, str]] = []

    def instrument(self, symbol: str) -> InstrumentConfig:
        return self._instruments[symbol]

    def account(self) -> AccountSnapshot:
        return self._broker.account()

    def balance(self) -> Decimal:
        return self._broker.account().balance

    def positions(self, symbol: str | None = None) -> list[Position]:
        positions = self._broker.positions()
        return positions if symbol is None else [p for p in positions if p.symbol == symbol]

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def submit(self, request: OrderRequest) -> None:
        self._queue.append(request)

    def close_position(self, ticket: int, reason: str) -> None:
        self._queue.append((ticket, reason))

    def signal(
        self, strategy_id: str, symbol: str, side: Side, strength: float, reason: str
    ) -> None:
        """Signals are the live panel's; a backtest keeps only trades."""

    async def flush(self, result: BacktestResult) -> None:
        queue, self._queue = self._queue, []
        for item in queue:
            if isinstance(item, OrderRequest):
                trade = await self._broker.send_order(item)
                result.orders += 1
            else:
                trade = await self._broker.close_position(item[0])
            _collect(trade.changes, result)
