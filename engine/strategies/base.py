"""The strategy seam: a strategy turns quotes into bars, bars into decisions, and
decisions into signals and orders through the `StrategyContext` its worker
gives it.

A subclass only says what it wants on each bar (`evaluate`); the base builds
the bars, sizes the trade, enforces the risk limits, logs every decision as a
signal (with why it was or was not acted on) and sends the orders.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Generic, Protocol, TypeVar

from config.models import InstrumentConfig, RiskSettings
from config.strategies import StrategyParams
from engine.clock import Clock
from engine.domain import Timeframe
from engine.errors import Conflict
from engine.market.bars import BarBuilder
from engine.models import (
    AccountSnapshot,
    Bar,
    Filling,
    OrderRequest,
    OrderSource,
    Position,
    Quote,
    Side,
    StrategyInfo,
    StrategyState,
)
from engine.strategies.sizing import (
    QuoteLookup,
    conversion_rate,
    loss_per_lot,
    open_risk,
    position_size,
    stop_prices,
)

_RUNNING = StrategyState.RUNNING
_PAUSED = StrategyState.PAUSED
_STOPPED = StrategyState.STOPPED
_MAX_CLIENT_ORDER_ID = 64  # OrderRequest.client_order_id's limit

SeriesT = TypeVar("SeriesT")


class StrategyContext(Protocol):
    """What a worker offers its strategies. Calls return at once; orders are
    sent by the worker's order task in the order they were submitted."""

    account_id: str
    clock: Clock

    def instrument(self, symbol: str) -> InstrumentConfig: ...

    def account(self) -> AccountSnapshot: ...

    def balance(self) -> Decimal: ...

    def positions(self, symbol: str | None = None) -> list[Position]: ...

    def quote(self, symbol: str) -> Quote | None:
        """The latest quote of any instrument (entry prices, currency conversion)."""
        ...

    def submit(self, request: OrderRequest) -> None: ...

    def close_position(self, ticket: int, reason: str) -> None: ...

    def signal(
        self, strategy_id: str, symbol: str, side: Side, strength: float, reason: str
    ) -> None: ...


class Intent(StrEnum):
    ENTER = "enter"  # be positioned on `side`: close own opposite positions, then open
    EXIT = "exit"  # close own positions that a `side` trade closes (SELL closes longs)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a strategy wants on one bar, and why in plain words."""

    intent: Intent
    side: Side
    reason: str
    strength: float = 1.0


@dataclass(slots=True)
class _InFlight:
    """An order submitted but not yet seen as a position: it counts toward the
    limits so that several bars closing in one burst cannot overshoot them."""

    symbol: str
    side: Side
    risk: Decimal
    submitted_at: datetime


class Strategy(ABC, Generic[SeriesT]):
    """Base of the built-in strategies. Subclasses set `kind` and `params_model`,
    say what indicator state one symbol needs (`new_series`) and what to do on
    each bar (`evaluate`); `on_quote` (the hot path) builds bars per symbol."""

    kind: ClassVar[str]
    params_model: ClassVar[type[StrategyParams]]

    def __init__(
        self,
        strategy_id: str,
        params: StrategyParams,
        symbols: list[str],
        timeframe: Timeframe,
        risk: RiskSettings,
        context: StrategyContext,
    ) -> None:
        self.id = strategy_id
        self.params = params
        self.symbols = list(symbols)
        self.timeframe = timeframe
        self.risk = risk
        self.ctx = context
        self.state = _RUNNING
        self.signals = 0
        self.last_signal_at: datetime | None = None
        self._builders = {symbol: BarBuilder(symbol, timeframe) for symbol in self.symbols}
        self._last_bar: dict[str, datetime] = {}
        self._digits = {symbol: context.instrument(symbol).digits for symbol in self.symbols}
        self._closing: set[int] = set()
        self._in_flight: list[_InFlight] = []
        self._series = {symbol: self.new_series() for symbol in self.symbols}

    # --- what subclasses write -------------------------------------------------

    @abstractmethod
    def new_series(self) -> SeriesT:
        """Fresh indicator state for one symbol."""

    @abstractmethod
    def evaluate(self, bar: Bar, series: SeriesT) -> Decision | None:
        """Feed `bar` to its symbol's indicators (`series`) and say what to do on it."""

    # --- what the worker calls -------------------------------------------------

    def on_quote(self, quote: Quote) -> None:
        """The hot path: build the bar; only a closed bar does any more work."""
        builder = self._builders.get(quote.symbol)
        if builder is None or self.state is _STOPPED:
            return
        bar = builder.update(quote)
        if bar is not None:
            self.on_bar(bar)

    def on_bar(self, bar: Bar) -> None:
        """A bar closed: update the indicators and act on the decision."""
        if self.state is _STOPPED or not self._is_new(bar):
            return
        decision = self.evaluate(bar, self._series[bar.symbol])
        if decision is not None:
            self._act(bar, decision)

    def warm_up(self, bars: list[Bar]) -> None:
        """Feed history to the indicators without trading or signalling."""
        for bar in bars:
            if self._is_new(bar):
                self.evaluate(bar, self._series[bar.symbol])

    def pause(self) -> None:
        """Keep updating indicators and keep positions (no entries, no exits: the
        stops at the broker still guard them); decisions are signalled as skipped."""
        self._require_not_stopped("paused")
        self.state = _PAUSED

    def resume(self) -> None:
        self._require_not_stopped("resumed")
        self.state = _RUNNING

    def stop(self) -> None:
        self.state = _STOPPED

    def reconfigure(self, params: StrategyParams, history: dict[str, list[Bar]]) -> None:
        """Trade with `params` from the next bar on: fresh indicators, warmed up
        on `history` (per symbol); positions and state are kept."""
        if not isinstance(params, self.params_model):
            raise TypeError(f"{self.kind} takes {self.params_model.__name__}")
        self.params = params
        self._series = {symbol: self.new_series() for symbol in self.symbols}
        self._last_bar.clear()
        for bars in history.values():
            self.warm_up(bars)

    def info(self, account_id: str) -> StrategyInfo:
        return StrategyInfo(
            id=self.id,
            account_id=account_id,
            kind=self.kind,
            params=self.params.model_dump(mode="json"),
            symbols=list(self.symbols),
            timeframe=self.timeframe,
            state=self.state,
            signals=self.signals,
            last_signal_at=self.last_signal_at,
        )

    # --- helpers for subclasses ------------------------------------------------

    def fmt(self, symbol: str, price: float) -> str:
        """A price as the instrument quotes it (its digits), for reasons."""
        return f"{price:.{self._digits[symbol]}f}"

    # --- acting on a decision --------------------------------------------------

    def _act(self, bar: Bar, decision: Decision) -> None:
        positions = self.ctx.positions()
        self._forget_settled(positions)
        symbol = bar.symbol
        opposite = [
            p
            for p in positions
            if p.strategy_id == self.id
            and p.symbol == symbol
            and p.side is decision.side.opposite
            and p.ticket not in self._closing
        ]
        if decision.intent is Intent.EXIT and not opposite:
            return  # nothing of ours to exit: not a decision worth a signal
        if self.state is _PAUSED:
            self._signal(symbol, decision, "skipped: strategy paused")
            return
        notes = [self._close(p, decision.reason) for p in opposite]
        if decision.intent is Intent.ENTER:
            notes.append(self._enter(bar, decision, positions))
        self._signal(symbol, decision, "; ".join(notes))

    def _close(self, position: Position, reason: str) -> str:
        self._closing.add(position.ticket)
        self.ctx.close_position(position.ticket, reason)
        side = "long" if position.side is Side.BUY else "short"
        return f"closing {side} #{position.ticket}"

    def _enter(self, bar: Bar, decision: Decision, positions: list[Position]) -> str:
        """Open a position on `decision.side` if every limit allows; say what happened."""
        symbol, side, risk = bar.symbol, decision.side, self.risk
        held = [p for p in positions if p.ticket not in self._closing]
        blocked = self._count_limits(symbol, side, held)
        if blocked:
            return blocked
        quote = self.ctx.quote(symbol)
        if quote is None:
            return f"skipped: no quote for {symbol}"
        account = self.ctx.account()
        instrument = self.ctx.instrument(symbol)
        rates = _Rates(account.currency, self.ctx.quote)
        rate = rates.get(instrument.profit_currency)
        if rate is None:
            return f"skipped: no {rates.missing} rate to value the risk"
        volume = position_size(account.balance, risk, instrument, rate)
        if volume <= 0:
            return (
                f"skipped: size for {risk.risk_percent:g}% risk is below "
                f"volume_min {instrument.volume_min}"
            )
        new_risk = volume * loss_per_lot(risk, instrument, rate)
        blocked = self._portfolio_risk_limit(account.balance, new_risk, held, rates)
        if blocked:
            return blocked
        entry = quote.ask if side is Side.BUY else quote.bid
        sl, tp = stop_prices(side, entry, risk, instrument)
        self.ctx.submit(
            OrderRequest(
                account_id=self.ctx.account_id,
                symbol=symbol,
                side=side,
                volume=volume,
                sl=sl,
                tp=tp,
                filling=_filling(instrument),
                client_order_id=self._client_order_id(symbol, bar.time),
                source=OrderSource.STRATEGY,
                strategy_id=self.id,
                comment=self.kind,
            )
        )
        self._in_flight.append(_InFlight(symbol, side, new_risk, self.ctx.clock.now()))
        digits = instrument.digits
        return f"{side.value} {volume} {symbol} at {entry:.{digits}f}, SL {sl}, TP {tp}"

    def _count_limits(self, symbol: str, side: Side, held: list[Position]) -> str | None:
        """Why a new position may not open by count alone, or None. Orders in flight
        are all this strategy's, so they count toward both limits."""
        mine = [p for p in held if p.strategy_id == self.id]
        in_flight = self._in_flight
        if any(p.symbol == symbol and p.side is side for p in mine) or any(
            f.symbol == symbol and f.side is side for f in in_flight
        ):
            return f"skipped: already {'long' if side is Side.BUY else 'short'} {symbol}"
        risk = self.risk
        if len(held) + len(in_flight) >= risk.max_positions:
            return f"skipped: max_positions {risk.max_positions} reached"
        if len(mine) + len(in_flight) >= risk.max_concurrent_trades:
            return f"skipped: max_concurrent_trades {risk.max_concurrent_trades} reached"
        return None

    def _portfolio_risk_limit(
        self, balance: Decimal, new_risk: Decimal, held: list[Position], rates: _Rates
    ) -> str | None:
        """Why a new position risking `new_risk` may not open, or None: the account's
        loss if every stop were hit would exceed `portfolio_risk_percent` of `balance`."""
        at_risk = self._open_risk(held, rates)
        if at_risk is None:
            return f"skipped: no {rates.missing} rate to value the open risk"
        total = at_risk + new_risk
        percent = self.risk.portfolio_risk_percent
        if total <= balance * Decimal(str(percent)) / 100:
            return None
        share = total / balance * 100
        return (
            f"skipped: portfolio_risk_percent {percent:g} would be exceeded "
            f"({share:.2f}% of balance at risk)"
        )

    def _open_risk(self, positions: list[Position], rates: _Rates) -> Decimal | None:
        """Loss to the stops of `positions` plus the orders in flight, or None when
        a currency cannot be converted."""
        total = sum((f.risk for f in self._in_flight), Decimal(0))
        for position in positions:
            instrument = self.ctx.instrument(position.symbol)
            rate = rates.get(instrument.profit_currency)
            if rate is None:
                return None
            total += open_risk(position, self.risk, instrument, rate)
        return total

    def _forget_settled(self, positions: list[Position]) -> None:
        """Drop closes that went through and orders that became positions; an order
        still unseen after a whole bar was rejected and stops counting."""
        tickets = {p.ticket for p in positions}
        self._closing &= tickets
        if not self._in_flight:
            return
        expiry = self.ctx.clock.now() - timedelta(seconds=self.timeframe.seconds)
        mine = [p for p in positions if p.strategy_id == self.id]
        self._in_flight = [
            f
            for f in self._in_flight
            if f.submitted_at > expiry
            and not any(
                p.symbol == f.symbol and p.side is f.side and p.open_time >= f.submitted_at
                for p in mine
            )
        ]

    def _signal(self, symbol: str, decision: Decision, outcome: str) -> None:
        self.signals += 1
        self.last_signal_at = self.ctx.clock.now()
        reason = f"{decision.reason}; {outcome}" if outcome else decision.reason
        self.ctx.signal(self.id, symbol, decision.side, decision.strength, reason)

    def _client_order_id(self, symbol: str, bar_time: datetime) -> str:
        """One id per strategy, symbol and bar, so a repeated submission is a no-op."""
        epoch = int(bar_time.timestamp())
        client_id = f"{self.id}:{symbol}:{epoch}"
        if len(client_id) <= _MAX_CLIENT_ORDER_ID:
            return client_id
        digest = hashlib.blake2b(self.id.encode(), digest_size=8).hexdigest()
        return f"{digest}:{symbol}:{epoch}"

    def _is_new(self, bar: Bar) -> bool:
        """True once per bar and symbol: warm-up history and live bars may overlap."""
        if bar.symbol not in self._builders:
            return False
        last = self._last_bar.get(bar.symbol)
        if last is not None and bar.time <= last:
            return False
        self._last_bar[bar.symbol] = bar.time
        return True

    def _require_not_stopped(self, action: str) -> None:
        if self.state is _STOPPED:
            raise Conflict(f"Strategy {self.id} is stopped and cannot be {action}.")


class _Rates:
    """Profit-currency -> account-currency rates for one decision, looked up once each."""

    def __init__(self, account_currency: str, quote: QuoteLookup) -> None:
        self._account_currency = account_currency
        self._quote = quote
        self._rates: dict[str, Decimal | None] = {}
        self.missing = ""

    def get(self, currency: str) -> Decimal | None:
        if currency not in self._rates:
            self._rates[currency] = conversion_rate(currency, self._account_currency, self._quote)
        rate = self._rates[currency]
        if rate is None:
            self.missing = f"{currency}->{self._account_currency}"
        return rate


def _filling(instrument: InstrumentConfig) -> Filling:
    modes = instrument.filling_modes
    return Filling(modes[0]) if modes else Filling.FOK
