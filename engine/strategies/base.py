"""The strategy seam: a strategy turns quotes into bars, bars into signals, and
signals into orders through the `StrategyContext` its worker gives it."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Protocol

from config.models import InstrumentConfig, RiskSettings, Timeframe
from config.strategies import StrategyParams
from engine.brokers.base import OrderRequest
from engine.clock import Clock
from engine.models import AccountSnapshot, Bar, Position, Quote, Side, StrategyState


class StrategyContext(Protocol):
    """What a worker offers its strategies. Calls return at once; orders are
    sent by the worker's order task in the order they were submitted."""

    account_id: str
    clock: Clock

    def instrument(self, symbol: str) -> InstrumentConfig: ...

    def account(self) -> AccountSnapshot: ...

    def balance(self) -> Decimal: ...

    def positions(self, symbol: str | None = None) -> list[Position]: ...

    def submit(self, request: OrderRequest) -> None: ...

    def close_position(self, ticket: int, reason: str) -> None: ...

    def signal(
        self, strategy_id: str, symbol: str, side: Side, strength: float, reason: str
    ) -> None: ...


class Strategy:
    """Base of the built-in strategies. Subclasses set `kind` and `params_model`
    and implement `on_bar`; `on_quote` (the hot path) builds bars per symbol."""

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
        self.symbols = symbols
        self.timeframe = timeframe
        self.risk = risk
        self.ctx = context
        self.state = StrategyState.RUNNING

    def on_quote(self, quote: Quote) -> None:
        raise NotImplementedError

    def on_bar(self, bar: Bar) -> None:
        raise NotImplementedError
