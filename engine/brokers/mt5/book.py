"""What tradedeck knows of one MT5 account, kept in step with the terminal.

The terminal owns the truth (positions, pending orders, deals); `TerminalBook`
turns each reading of it into tradedeck's `Changes`: new deals become fills,
positions that appeared, moved or vanished become position changes, pending
orders that were placed, changed, filled or cancelled become order changes.
Terminal tickets are mapped to engine tickets (one ticket sequence for every
account in the store): an order's engine ticket travels in its comment
(`td<ticket>`), a position takes the engine ticket of the order that opened
it (as on MT5), and deals the terminal made itself (SL, TP, stop-out) get a
system order of their own. Every order, deal and position stored keeps its
terminal ticket (`broker_ticket`), which is what matches them after a
restart; the comment tag and, for deals, their time, side, volume and price
are the fallback for rows stored without one. Ticks become quotes only when
they changed (`time_msc`). No I/O here: the broker reads, the book decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from engine.brokers import retcodes
from engine.brokers.base import Changes, PaperLedger
from engine.brokers.mt5 import mapping
from engine.brokers.mt5.mapping import Record, SymbolSpec
from engine.models import (
    DealEntry,
    Fill,
    Order,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Quote,
)

_ZERO = Decimal(0)


@dataclass(slots=True)
class Reading:
    """One consistent look at the terminal."""

    account: Record
    positions: Sequence[Record]
    orders: Sequence[Record]
    deals: Sequence[Record]


class TerminalBook:
    def __init__(
        self,
        account_id: str,
        magic: int,
        tickets: Callable[[], int],
        clock_now: Callable[[], datetime],
        ledger: PaperLedger,
        known_fills: Iterable[Fill] = (),
    ) -> None:
        """`ledger` is what the store holds for the account; `known_fills` its
        fills from the window of deals read, so deals already stored are not
        stored again after a restart."""
        self.account_id = account_id
        self.magic = magic
        self._tickets = tickets
        self._now = clock_now
        self.specs: dict[str, SymbolSpec] = {}
        self.account_info: Record | None = None
        self.quotes: dict[str, Quote] = {}
        self.balance = ledger.balance
        self.realised = ledger.realised_pnl
        self.commission = ledger.commission
        self.positions: dict[int, Position] = {p.ticket: p for p in ledger.positions}
        self.orders: dict[int, Order] = {o.ticket: o for o in ledger.orders}
        self.in_doubt: dict[int, Order] = {}  # sent, answer lost: not yet found or ruled out
        # terminal order ticket -> engine ticket; terminal position id -> engine ticket
        self.order_ids = {o.broker_ticket: o.ticket for o in ledger.orders if o.broker_ticket}
        self.position_ids = {p.broker_ticket: p.ticket for p in ledger.positions if p.broker_ticket}
        self.strategies: dict[int, str | None] = {p.ticket: p.strategy_id for p in ledger.positions}
        self.strategies.update({o.ticket: o.strategy_id for o in ledger.orders})
        self.seen_deals: set[int] = set()
        self.filled: dict[int, tuple[Decimal, Decimal]] = {}  # engine order -> (volume, last price)
        self.found: set[int] = set()  # engine tickets seen on the terminal (reconciliation)
        self._stored: dict[int, Fill] = {}  # by terminal deal ticket
        self._stored_untagged: dict[tuple[object, ...], Fill] = {}  # stored before 0007
        for fill in known_fills:
            if fill.broker_ticket is not None:
                self._stored[fill.broker_ticket] = fill
            else:
                self._stored_untagged[_signature(fill)] = fill
        self._tick_msc: dict[str, int] = {}  # symbol -> time_msc of the last tick quoted
        self._deal_days: list[tuple[datetime, Decimal]] = []  # (time, profit - commission)
        self._today: tuple[datetime, Decimal] | None = None  # (day start, realised since)

    # --- mapping ---------------------------------------------------------------------

    def ours(self, record: Record) -> bool:
        """Placed by tradedeck for this account: its magic, or our comment tag."""
        return int(record.get("magic", 0)) == self.magic or (
            mapping.tagged_ticket(record.get("comment")) is not None
        )

    def terminal_position(self, engine_ticket: int) -> int | None:
        return next((t for t, e in self.position_ids.items() if e == engine_ticket), None)

    def terminal_order(self, engine_ticket: int) -> int | None:
        return next((t for t, e in self.order_ids.items() if e == engine_ticket), None)

    def expect(self, terminal_order: int, order: Order) -> None:
        """Our request became terminal order `terminal_order`."""
        self.order_ids[terminal_order] = order.ticket
        self.strategies.setdefault(order.ticket, order.strategy_id)

    def realised_since(self, day_start: datetime) -> Decimal:
        """Profit less commission of this account's deals at or after `day_start`,
        among the deals of the last reading (which reaches back past a day)."""
        if self._today is None or self._today[0] != day_start:
            total = sum((net for time, net in self._deal_days if time >= day_start), _ZERO)
            self._today = (day_start, total)
        return self._today[1]

    # --- reading the terminal --------------------------------------------------------

    def ticks(self, records: dict[str, Record | None]) -> list[Quote]:
        """The ticks (symbol_info_tick by symbol) that changed since the last
        reading, as quotes; every one becomes the symbol's latest quote."""
        quotes = []
        for symbol, tick in records.items():
            if not tick:
                continue
            msc = int(tick.get("time_msc") or 0)
            if self._tick_msc.get(symbol) == msc:
                continue
            quote = self._quote(symbol, tick)
            if quote is not None:
                self._tick_msc[symbol] = msc
                quotes.append(quote)
        return quotes

    def absorb(self, reading: Reading, opening: dict[int, Record] | None = None) -> Changes:
        """Everything that changed since the last reading. `opening` maps terminal
        position ids to their opening deal when the broker had to look them up."""
        changes = Changes()
        self.account_info = reading.account
        last_out: dict[int, Fill] = {}
        deals = sorted(
            (d for d in reading.deals if mapping.is_trade_deal(d) and self.ours(d)),
            key=lambda d: (int(d.get("time_msc") or 0), int(d["ticket"])),
        )
        self._deal_days = [(mapping.moment(d), _net(d)) for d in deals]
        self._today = None
        for deal in deals:
            fill = self._deal(deal, opening or {}, changes)
            if fill is not None and fill.entry is not DealEntry.IN:
                last_out[fill.position_ticket] = fill
        self._positions(reading.positions, last_out, changes)
        self._orders(reading.orders, changes)
        if changes.fills:
            changes.balance = self.balance
        return changes

    def _quote(self, symbol: str, tick: Record) -> Quote | None:
        spec = self.specs.get(symbol)
        if spec is None or not tick.get("bid") or not tick.get("ask"):
            return None
        bid, ask = spec.price(tick["bid"]), spec.price(tick["ask"])
        assert bid is not None and ask is not None
        quote = Quote(
            symbol=symbol,
            bid=bid,
            ask=ask,
            time=mapping.moment(tick),
            mid=float((bid + ask) / 2),
        )
        self.quotes[symbol] = quote
        return quote

    def _deal(self, deal: Record, opening: dict[int, Record], changes: Changes) -> Fill | None:
        ticket = int(deal["ticket"])
        if ticket in self.seen_deals:
            return None
        self.seen_deals.add(ticket)
        symbol = str(deal["symbol"])
        spec = self.specs.get(symbol)
        digits = spec.digits if spec is not None else 5
        entry = mapping.deal_entry(deal)
        price = mapping.decimal(deal["price"], digits)
        volume = mapping.volume(deal["volume"])
        side = mapping.deal_side(deal)
        time = mapping.moment(deal)
        stored = self._stored.get(ticket) or self._stored_untagged.get(
            (time, symbol, side, entry, volume, price)
        )
        if stored is not None:
            self._restored(deal, stored)
            return None
        order_ticket = self._order_of(deal, changes)
        position_ticket = self._position_of(deal, entry, order_ticket, opening)
        strategy = self.strategies.get(order_ticket) or self.strategies.get(position_ticket)
        self.strategies.setdefault(position_ticket, strategy)
        fill = Fill(
            ticket=self._tickets(),
            order_ticket=order_ticket,
            position_ticket=position_ticket,
            account_id=self.account_id,
            symbol=symbol,
            side=side,
            entry=entry,
            volume=volume,
            price=price,
            commission=-mapping.money(float(deal.get("commission", 0)) + float(deal.get("fee", 0))),
            profit=mapping.money(float(deal.get("profit", 0)) + float(deal.get("swap", 0))),
            strategy_id=strategy,
            time=time,
            broker_ticket=ticket,
        )
        self._count_fill(order_ticket, volume, price)
        self.balance += fill.profit - fill.commission
        self.realised += fill.profit
        self.commission += fill.commission
        changes.fills.append(fill)
        return fill

    def _restored(self, deal: Record, stored: Fill) -> None:
        """A deal stored before a restart: learn its terminal tickets from it."""
        self.order_ids.setdefault(int(deal["order"]), stored.order_ticket)
        self.position_ids.setdefault(int(deal["position_id"]), stored.position_ticket)
        self.strategies.setdefault(stored.position_ticket, stored.strategy_id)
        self._count_fill(stored.order_ticket, stored.volume, stored.price)

    def _count_fill(self, order_ticket: int, volume: Decimal, price: Decimal) -> None:
        before, _ = self.filled.get(order_ticket, (_ZERO, _ZERO))
        self.filled[order_ticket] = (before + volume, price)
        self.found.add(order_ticket)

    def _order_of(self, deal: Record, changes: Changes) -> int:
        """The engine ticket of the order behind `deal`; the terminal's own orders
        (SL, TP, stop-out) become system orders, recorded as filled."""
        terminal = int(deal["order"])
        known = self.order_ids.get(terminal) or mapping.tagged_ticket(deal.get("comment"))
        if known is not None:
            self.order_ids[terminal] = known
            return known
        ticket = self._tickets()
        self.order_ids[terminal] = ticket
        now = mapping.moment(deal)
        spec = self.specs.get(str(deal["symbol"]))
        digits = spec.digits if spec is not None else 5
        changes.orders.append(
            Order(
                ticket=ticket,
                account_id=self.account_id,
                client_order_id=f"mt5-{terminal}",
                symbol=str(deal["symbol"]),
                side=mapping.deal_side(deal),
                type=OrderType.MARKET,
                volume=mapping.volume(deal["volume"]),
                status=OrderStatus.FILLED,
                filled_volume=mapping.volume(deal["volume"]),
                fill_price=mapping.decimal(deal["price"], digits),
                retcode=retcodes.DONE,
                source=OrderSource.SYSTEM,
                magic=int(deal.get("magic", 0)),
                comment=str(deal.get("comment", ""))[: mapping.COMMENT_LENGTH],
                created_at=now,
                updated_at=now,
                broker_ticket=terminal,
            )
        )
        return ticket

    def _position_of(
        self, deal: Record, entry: DealEntry, order_ticket: int, opening: dict[int, Record]
    ) -> int:
        terminal = int(deal["position_id"])
        known = self.position_ids.get(terminal)
        if known is None:
            first = opening.get(terminal)
            tag = mapping.tagged_ticket(first.get("comment")) if first else None
            # As on MT5, a position is numbered after the order that opened it.
            known = tag or (order_ticket if entry is DealEntry.IN else self._tickets())
            self.position_ids[terminal] = known
        return known

    def _positions(
        self, records: Sequence[Record], last_out: dict[int, Fill], changes: Changes
    ) -> None:
        current: dict[int, Position] = {}
        for record in records:
            if not self.ours(record):
                continue
            terminal = int(record.get("identifier") or record["ticket"])
            ticket = self.position_ids.get(terminal) or mapping.tagged_ticket(record.get("comment"))
            if ticket is None:
                ticket = self._tickets()
            self.position_ids[terminal] = ticket
            self.found.add(ticket)
            current[ticket] = self._position(ticket, terminal, record)
        for ticket, position in current.items():
            before = self.positions.get(ticket)
            if before is None or _moved(before, position):
                changes.positions.append(position)
        for ticket, before in self.positions.items():
            if ticket in current:
                continue
            out = last_out.get(ticket)
            final = before
            if out is not None:
                final = before.model_copy(
                    update={"volume": out.volume, "current_price": out.price, "profit": out.profit}
                )
            changes.closed.append(final)
        self.positions = current

    def _position(self, ticket: int, terminal: int, record: Record) -> Position:
        symbol = str(record["symbol"])
        spec = self.specs.get(symbol)
        digits = spec.digits if spec is not None else 5
        price = record.get("price_current")
        return Position(
            ticket=ticket,
            account_id=self.account_id,
            symbol=symbol,
            side=mapping.position_side(record),
            volume=mapping.volume(record["volume"]),
            open_price=mapping.decimal(record["price_open"], digits),
            open_time=mapping.moment(record),
            sl=_level(record.get("sl"), digits),
            tp=_level(record.get("tp"), digits),
            current_price=mapping.decimal(price, digits) if price else None,
            profit=mapping.money(float(record.get("profit", 0)) + float(record.get("swap", 0))),
            strategy_id=self.strategies.get(ticket),
            magic=int(record.get("magic", 0)),
            comment=mapping.user_comment(record.get("comment")),
            broker_ticket=terminal,
        )

    def _orders(self, records: Sequence[Record], changes: Changes) -> None:
        current: dict[int, Order] = {}
        for record in records:
            kind = mapping.order_kind(record)
            if kind is None or not self.ours(record):
                continue
            terminal = int(record["ticket"])
            ticket = self.order_ids.get(terminal) or mapping.tagged_ticket(record.get("comment"))
            if ticket is None:
                ticket = self._tickets()
            self.order_ids[terminal] = ticket
            self.found.add(ticket)
            known = self.orders.get(ticket) or self.in_doubt.get(ticket)
            current[ticket] = self._order(ticket, record, kind, known)
        now = self._now()
        for ticket, order in current.items():
            before = self.orders.get(ticket)
            if before is None or _order_moved(before, order):
                changes.orders.append(order)
        for ticket, before in self.orders.items():
            if ticket not in current:
                changes.orders.append(self.finished(before, now))
        self.orders = current

    def _order(
        self, ticket: int, record: Record, kind: tuple[object, OrderType], known: Order | None
    ) -> Order:
        side, type_ = kind
        symbol = str(record["symbol"])
        spec = self.specs.get(symbol)
        digits = spec.digits if spec is not None else 5
        initial = mapping.volume(record["volume_initial"])
        remaining = mapping.volume(record["volume_current"])
        filled = initial - remaining
        stop_limit = record.get("price_stoplimit")
        update = {
            "type": type_,
            "volume": initial,
            "price": mapping.decimal(record["price_open"], digits),
            "stop_limit": mapping.decimal(stop_limit, digits) if stop_limit else None,
            "sl": _level(record.get("sl"), digits),
            "tp": _level(record.get("tp"), digits),
            "status": OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.PLACED,
            "filled_volume": filled,
            "retcode": retcodes.PLACED,
            "broker_ticket": int(record["ticket"]),
        }
        if known is not None:
            changed = {k: v for k, v in update.items() if getattr(known, k) != v}
            if not changed:
                return known
            return known.model_copy(update={**changed, "updated_at": self._now()})
        now = mapping.moment(record, "time_setup")
        return Order(
            ticket=ticket,
            account_id=self.account_id,
            client_order_id=f"mt5-{record['ticket']}",
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            source=OrderSource.MANUAL,
            magic=int(record.get("magic", 0)),
            comment=mapping.user_comment(record.get("comment")),
            created_at=now,
            updated_at=now,
            **update,  # type: ignore[arg-type]
        )

    def finished(self, order: Order, now: datetime) -> Order:
        """An order no longer open on the terminal: filled by its deals, or
        cancelled (by the trader in the terminal, by expiry or by the server)."""
        volume, price = self.filled.get(order.ticket, (_ZERO, _ZERO))
        if volume > 0:
            return order.model_copy(
                update={
                    "status": OrderStatus.FILLED,
                    "filled_volume": volume,
                    "fill_price": price,
                    "retcode": retcodes.DONE,
                    "updated_at": now,
                }
            )
        return order.model_copy(
            update={
                "status": OrderStatus.CANCELLED,
                "reason": "cancelled on the terminal (by the trader, by expiry or by the server)",
                "updated_at": now,
            }
        )


def _signature(fill: Fill) -> tuple[object, ...]:
    """What identifies a deal stored without its terminal ticket (before 0007)."""
    return (fill.time, fill.symbol, fill.side, fill.entry, fill.volume, fill.price)


def _net(deal: Record) -> Decimal:
    """A deal's profit less its costs, as the fill stores them (profit + swap,
    commission + fee), like a paper account's realised P&L."""
    profit = mapping.money(float(deal.get("profit", 0)) + float(deal.get("swap", 0)))
    return profit + mapping.money(float(deal.get("commission", 0)) + float(deal.get("fee", 0)))


def _level(value: float | None, digits: int) -> Decimal | None:
    return mapping.decimal(value, digits) if value else None


def _moved(before: Position, after: Position) -> bool:
    """Worth storing again; a position stored without its terminal ticket gets it."""
    fields = ("volume", "open_price", "sl", "tp", "side", "broker_ticket")
    return any(getattr(before, f) != getattr(after, f) for f in fields)


def _order_moved(before: Order, after: Order) -> bool:
    fields = ("type", "volume", "price", "stop_limit", "sl", "tp", "status", "filled_volume")
    return any(getattr(before, f) != getattr(after, f) for f in (*fields, "broker_ticket"))
