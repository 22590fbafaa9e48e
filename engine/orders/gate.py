"""The pre-trade gate: an ordered list of checks every order passes before it
reaches a broker. Validation, risk limits and the kill switch each register a
check; the first to refuse decides, and its rejection names the rule.

Checks run on the event loop for every order, strategies' included, so they
must be cheap, and cost the same at 100 open positions as at none: an
`OrderContext` reads the account's funds, holdings and open orders only when a
check asks for them, and the broker keeps funds and holdings as fills and
quotes change them (a few lookups, never a walk over every position).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from config.models import InstrumentConfig
from engine.brokers.base import Broker, Funds, Holding
from engine.models import Order, OrderRequest, Position, Quote


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the gate refused an order: an MT5-style retcode, a sentence for the
    trader, and the rule that refused it (`validation.volume`,
    `risk.max_daily_loss`, `kill_switch`...)."""

    retcode: int
    message: str
    rule: str


class OrderContext:
    """One order on its way to the broker, with what checks need to judge it."""

    __slots__ = (
        "_funds",
        "_holdings",
        "_open_orders",
        "_position",
        "broker",
        "dry_run",
        "instrument",
        "now",
        "request",
    )

    def __init__(
        self,
        request: OrderRequest,
        broker: Broker,
        instrument: InstrumentConfig | None,
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> None:
        self.request = request
        self.broker = broker
        self.instrument = instrument
        self.now = now
        # A preview (the order ticket's verdict): checks judge it but count nothing.
        self.dry_run = dry_run
        self._funds: Funds | None = None
        self._position: Position | None = None
        self._holdings: Mapping[str, Holding] | None = None
        self._open_orders: list[Order] | None = None

    @property
    def account_id(self) -> str:
        return self.request.account_id

    @property
    def closing(self) -> bool:
        """The order closes (part of) a named position, so it can only reduce exposure."""
        return self.request.position_ticket is not None

    @property
    def quote(self) -> Quote | None:
        return self.broker.last_quote(self.request.symbol)

    @property
    def funds(self) -> Funds:
        """The account's currency, leverage, equity and free margin now."""
        if self._funds is None:
            self._funds = self.broker.funds()
        return self._funds

    @property
    def position(self) -> Position | None:
        """The open position the order closes (None when it names none, or one
        that is not open)."""
        ticket = self.request.position_ticket
        if ticket is None:
            return None
        if self._position is None:
            self._position = self.broker.position(ticket)
        return self._position

    @property
    def holdings(self) -> Mapping[str, Holding]:
        """Net volume and number of open positions per symbol."""
        if self._holdings is None:
            self._holdings = self.broker.holdings()
        return self._holdings

    @property
    def open_orders(self) -> Sequence[Order]:
        if self._open_orders is None:
            self._open_orders = self.broker.open_orders()
        return self._open_orders


PreTradeCheck = Callable[[OrderContext], Rejection | None]
"""Returns None to let the order pass, or the rejection."""


class OrderGate:
    """The ordered checks. Lower `rank` runs first: the kill switch (0) before
    validation (100) before risk limits (200)."""

    def __init__(self) -> None:
        self._checks: dict[str, tuple[int, PreTradeCheck]] = {}
        self._ordered: tuple[PreTradeCheck, ...] = ()

    def add(self, name: str, check: PreTradeCheck, *, rank: int = 100) -> None:
        """Register (or replace) the check called `name`."""
        self._checks[name] = (rank, check)
        self._reorder()

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)
        self._reorder()

    @property
    def names(self) -> list[str]:
        return [name for name, _ in sorted(self._checks.items(), key=lambda kv: kv[1][0])]

    def check(self, context: OrderContext) -> Rejection | None:
        for check in self._ordered:
            rejection = check(context)
            if rejection is not None:
                return rejection
        return None

    def _reorder(self) -> None:
        ranked = sorted(self._checks.values(), key=lambda rc: rc[0])
        self._ordered = tuple(check for _, check in ranked)
