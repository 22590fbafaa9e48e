"""The engine benchmark's yardstick: the per-tick strategy code (bar building,
and indicator updates when a bar closes) on the same quotes, with no engine
around it: no simulator, bus, broker or storage, and a context that never trades.

The strategies are the real ones, built as the engine bench builds its
accounts (kinds round-robin, default parameters), but paused: a paused
strategy runs the same arithmetic and never reaches the order path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from config.models import InstrumentConfig, RiskSettings
from engine.clock import RealClock
from engine.domain import Timeframe
from engine.models import AccountSnapshot, OrderRequest, Position, Quote, Side
from engine.strategies import STRATEGIES, create_strategy

# The only instrument property a strategy reads outside the order path is
# `digits` (for the reasons it writes), so one stand-in serves every symbol.
_INSTRUMENT = InstrumentConfig(digits=5, point=Decimal("0.00001"), start_price=Decimal(1))


def plain_loop_rate(
    quotes: list[Quote],
    accounts: int,
    symbols: list[str],
    *,
    timeframe: Timeframe = Timeframe.S15,
) -> float:
    """Worker-ticks per second: one per quote and strategy instance trading its
    symbol, with `accounts` instances (one per account) on all of `symbols`."""
    context = _NullContext()
    kinds = list(STRATEGIES)
    handlers: dict[str, list[Callable[[Quote], None]]] = {symbol: [] for symbol in symbols}
    for n in range(accounts):
        strategy = create_strategy(
            kinds[n % len(kinds)], f"plain-{n:03d}", {}, symbols, timeframe, RiskSettings(), context
        )
        strategy.pause()
        for symbol in symbols:
            handlers[symbol].append(strategy.on_quote)
    worker_ticks = sum(len(handlers.get(q.symbol, ())) for q in quotes)
    began = time.perf_counter()
    for quote in quotes:
        for on_quote in handlers.get(quote.symbol, ()):
            on_quote(quote)
    elapsed = time.perf_counter() - began
    return worker_ticks / elapsed if elapsed > 0 else 0.0


class _NullContext:
    """A `StrategyContext` with an empty account that drops whatever it is given."""

    account_id = "plain-loop"

    def __init__(self) -> None:
        self.clock = RealClock()

    def instrument(self, symbol: str) -> InstrumentConfig:
        return _INSTRUMENT

    def account(self) -> AccountSnapshot:
        zero = Decimal(0)
        return AccountSnapshot(
            account_id=self.account_id,
            starting_balance=zero,
            balance=zero,
            equity=zero,
            free_margin=zero,
            time=self.clock.now(),
        )

    def balance(self) -> Decimal:
        return Decimal(0)

    def positions(self, symbol: str | None = None) -> list[Position]:
        return []

    def quote(self, symbol: str) -> Quote | None:
        return None

    def submit(self, request: OrderRequest) -> None:
        pass

    def close_position(self, ticket: int, reason: str) -> None:
        pass

    def signal(
        self, strategy_id: str, symbol: str, side: Side, strength: float, reason: str
    ) -> None:
        pass
