"""`Desk`: one paper account on a virtual clock, fed hand-made quotes the way
the engine feeds it (the latest quote of each symbol is what the broker reads),
with a record of every fill it reported and checks of the ledger invariants."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from config.models import AccountConfig, InstrumentConfig
from engine.brokers.base import Changes, PaperLedger, TradeResult
from engine.brokers.paper import PaperBroker
from engine.clock import VirtualClock
from engine.domain import MarginMode
from engine.models import DealEntry, Fill, Filling, Order, OrderRequest, Position, Quote, Side

MONDAY_9AM = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

INSTRUMENTS = {
    "EURUSD": InstrumentConfig(
        digits=5, point=Decimal("0.00001"), start_price=Decimal("1.1"), stops_level=10
    ),
    "GBPUSD": InstrumentConfig(digits=5, point=Decimal("0.00001"), start_price=Decimal("1.25")),
    "USDJPY": InstrumentConfig(
        digits=3, point=Decimal("0.001"), start_price=Decimal("150"), profit_currency="JPY"
    ),
    "XAUUSD": InstrumentConfig(
        digits=2,
        point=Decimal("0.01"),
        contract_size=Decimal(100),
        volume_min=Decimal("0.1"),
        volume_max=Decimal(10),
        volume_step=Decimal("0.1"),
        start_price=Decimal(2000),
        filling_modes=["ioc"],
        trading_days=[0, 1, 2, 3, 4],
        trading_hours=["01:00-22:00"],
    ),
    "AUDUSD": InstrumentConfig(digits=5, point=Decimal("0.00001"), start_price=Decimal("0.65")),
}
SYMBOLS = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]  # not AUDUSD


class Desk:
    """One paper account with a virtual clock, hand-fed quotes, and a record of
    every fill it reported."""

    def __init__(
        self,
        *,
        mode: MarginMode = MarginMode.HEDGING,
        balance: str = "10000",
        leverage: int = 100,
        commission: str = "0",
        ledger: PaperLedger | None = None,
        clock: VirtualClock | None = None,
        first_ticket: int = 1,
    ) -> None:
        self.clock = clock or VirtualClock(MONDAY_9AM)
        self.config = AccountConfig(
            id="paper-1",
            symbols=SYMBOLS,
            starting_balance=Decimal(balance),
            leverage=leverage,
            margin_mode=mode,
            commission_per_lot=Decimal(commission),
        )
        self.quotes: dict[str, Quote] = {}  # the latest per symbol, as the engine keeps them
        self.broker = PaperBroker(
            self.config,
            INSTRUMENTS,
            self.clock,
            itertools.count(first_ticket).__next__,
            ledger,
            quote_source=self.quotes.get,
        )
        self.fills: list[Fill] = []
        self.triggered: list[Order] = []  # orders that quotes filled, placed or closed
        self._ids = itertools.count(1)

    def quote(self, symbol: str, bid: str, ask: str) -> Changes | None:
        """Make this the latest quote of `symbol` and give it to the broker."""
        quote = Quote(
            symbol=symbol,
            bid=Decimal(bid),
            ask=Decimal(ask),
            time=self.clock.now(),
            mid=(float(bid) + float(ask)) / 2,
        )
        self.quotes[symbol] = quote
        return self._note(self.broker.on_quote(quote))

    def check_stop_out(self) -> Changes | None:
        return self._note(self.broker.check_stop_out())

    def _note(self, changes: Changes | None) -> Changes | None:
        if changes is not None:
            self.fills += changes.fills
            self.triggered += changes.orders
        return changes

    def majors(self) -> None:
        """Quotes for every symbol, so orders can fill and currencies convert."""
        self.quote("EURUSD", "1.10000", "1.10010")
        self.quote("GBPUSD", "1.25000", "1.25010")
        self.quote("USDJPY", "150.000", "150.010")
        self.quote("XAUUSD", "2000.00", "2000.50")

    def request(self, symbol: str, side: Side, volume: str, **fields: object) -> OrderRequest:
        fields.setdefault("client_order_id", f"test-{next(self._ids)}")
        fields.setdefault("filling", Filling.IOC)
        fields.setdefault("account_id", self.config.id)
        return OrderRequest(symbol=symbol, side=side, volume=Decimal(volume), **fields)  # type: ignore[arg-type]

    async def send(self, request: OrderRequest) -> TradeResult:
        result = await self.broker.send_order(request)
        self.fills += result.changes.fills
        return result

    async def buy(self, symbol: str, volume: str, **fields: object) -> TradeResult:
        return await self.send(self.request(symbol, Side.BUY, volume, **fields))

    async def sell(self, symbol: str, volume: str, **fields: object) -> TradeResult:
        return await self.send(self.request(symbol, Side.SELL, volume, **fields))

    async def close(self, ticket: int, volume: str | None = None) -> TradeResult:
        result = await self.broker.close_position(
            ticket, None if volume is None else Decimal(volume)
        )
        self.fills += result.changes.fills
        return result

    def position(self, ticket: int) -> Position:
        return next(p for p in self.broker.positions() if p.ticket == ticket)

    def assert_invariants(self) -> None:
        """balance = start + profit - commission of all fills; every open position's
        volume = its IN fills - its OUT fills."""
        account = self.broker.account()
        profit = sum((f.profit for f in self.fills), Decimal(0))
        commission = sum((f.commission for f in self.fills), Decimal(0))
        assert account.balance == self.config.starting_balance + profit - commission
        assert account.realised_pnl == profit
        assert account.commission == commission
        assert all(f.entry is not DealEntry.INOUT for f in self.fills)
        for position in self.broker.positions():
            net = sum(
                (
                    f.volume if f.entry is DealEntry.IN else -f.volume
                    for f in self.fills
                    if f.position_ticket == position.ticket
                ),
                Decimal(0),
            )
            assert net == position.volume, position.ticket
        closed_or_open = {f.position_ticket for f in self.fills}
        for ticket in closed_or_open - {p.ticket for p in self.broker.positions()}:
            net = sum(
                (
                    f.volume if f.entry is DealEntry.IN else -f.volume
                    for f in self.fills
                    if f.position_ticket == ticket
                ),
                Decimal(0),
            )
            assert net == 0, ticket

    def ledger(self) -> PaperLedger:
        """What storage would save: the state to restore the account from."""
        account = self.broker.account()
        return PaperLedger(
            balance=account.balance,
            realised_pnl=account.realised_pnl,
            commission=account.commission,
            realised_today=account.pnl_today - account.unrealised_pnl,
            positions=self.broker.positions(),
            orders=self.broker.open_orders(),
        )
