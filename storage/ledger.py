"""Orders, fills (deals), positions and paper balances: the ledger a paper
account resumes from, and the proof that it is exact (`rebuild`)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from engine.brokers.base import Changes, PaperLedger
from engine.models import DealEntry, Fill, Order, Position
from storage.codec import insert_sql, row_params, timestamp, upsert_sql
from storage.db import Database
from storage.writer import Op

_ORDER_COLUMNS = tuple(Order.model_fields)
_FILL_COLUMNS = tuple(Fill.model_fields)
_POSITION_COLUMNS = tuple(Position.model_fields)

_UPSERT_ORDER = upsert_sql("orders", _ORDER_COLUMNS, ("ticket",))
_INSERT_FILL = insert_sql("fills", _FILL_COLUMNS)
_UPSERT_POSITION = upsert_sql("positions", _POSITION_COLUMNS, ("ticket",))
_DELETE_POSITION = "DELETE FROM positions WHERE ticket = ?"
_UPSERT_BALANCE = (
    "INSERT INTO paper_balances (account_id, starting_balance, balance, updated_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
    "starting_balance = COALESCE(excluded.starting_balance, paper_balances.starting_balance), "
    "balance = excluded.balance, "
    "updated_at = COALESCE(excluded.updated_at, paper_balances.updated_at)"
)
_OPEN = "status IN ('pending', 'placed', 'partially_filled')"
_ORDER_SORTS = frozenset({"ticket", "account_id", "symbol", "status", "created_at", "updated_at"})


class LedgerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self, account_id: str, changes: Changes, *, starting_balance: Decimal | None = None
    ) -> asyncio.Future[None]:
        """Store what one broker action changed, as ONE atomic write.

        The balance row keeps `starting_balance` too, when given, so the file
        alone says where the account started."""
        ops: list[Op] = [(_UPSERT_ORDER, row_params(o, _ORDER_COLUMNS)) for o in changes.orders]
        ops += [(_INSERT_FILL, row_params(f, _FILL_COLUMNS)) for f in changes.fills]
        ops += [(_UPSERT_POSITION, row_params(p, _POSITION_COLUMNS)) for p in changes.positions]
        ops += [(_DELETE_POSITION, (p.ticket,)) for p in changes.closed]
        if changes.balance is not None:
            updated = _latest_time(changes)
            ops.append(
                (
                    _UPSERT_BALANCE,
                    (
                        account_id,
                        None if starting_balance is None else str(starting_balance),
                        str(changes.balance),
                        None if updated is None else timestamp(updated),
                    ),
                )
            )
        return self._db.writer.submit(ops)

    async def load(
        self, account_id: str, starting_balance: Decimal, day_start: datetime
    ) -> PaperLedger:
        """The account as last stored: balance, P&L totals, open positions and orders."""
        row = await self._db.fetchone(
            "SELECT balance FROM paper_balances WHERE account_id = ?", (account_id,)
        )
        balance = starting_balance if row is None else Decimal(row["balance"])
        since = timestamp(day_start)
        realised = commission = today = Decimal(0)
        for fill in await self._db.fetchall(
            "SELECT profit, commission, time FROM fills WHERE account_id = ?", (account_id,)
        ):
            profit, cost = Decimal(fill["profit"]), Decimal(fill["commission"])
            realised += profit
            commission += cost
            # Fixed-width UTC text compares in time order.
            if fill["time"] >= since:
                today += profit - cost
        return PaperLedger(
            balance=balance,
            realised_pnl=realised,
            commission=commission,
            realised_today=today,
            positions=await self.positions(account_id),
            orders=await self.orders(account_id, open_only=True, limit=-1),
        )

    async def rebuild(self, account_id: str, starting_balance: Decimal) -> PaperLedger:
        """The ledger recomputed from fills alone, to prove the stored one exact.

        balance = start + sum(profit) - sum(commission). A position is open when
        its IN volume exceeds its OUT volume; its open price is the volume-weighted
        average of its IN fills (rounded half-even to their price precision), its
        side, symbol and strategy those of its IN fills, its open time the first
        IN fill's. An INOUT deal (netting reversal) reopens the position on the
        deal's side with the remaining volume. Orders are not rebuilt; SL/TP,
        current price and unrealised profit are not in fills and stay unset."""
        fills = await self.fills(account_id, limit=-1)
        fills.reverse()  # oldest first
        realised = sum((f.profit for f in fills), Decimal(0))
        commission = sum((f.commission for f in fills), Decimal(0))
        books: dict[int, _Book] = {}
        for fill in fills:
            books.setdefault(fill.position_ticket, _Book()).apply(fill)
        rebuilt = (book.position(account_id, ticket) for ticket, book in sorted(books.items()))
        positions = [p for p in rebuilt if p is not None]
        return PaperLedger(
            balance=starting_balance + realised - commission,
            realised_pnl=realised,
            commission=commission,
            positions=positions,
        )

    async def orders(
        self, account_id: str | None = None, *, open_only: bool = False, limit: int = 100
    ) -> list[Order]:
        """Newest first (by ticket); a negative limit means all."""
        where, params = _account_filter(account_id)
        if open_only:
            where.append(_OPEN)
        rows = await self._db.fetchall(
            f"SELECT * FROM orders{_where(where)} ORDER BY ticket DESC LIMIT ?", (*params, limit)
        )
        return [Order.model_validate(dict(r)) for r in rows]

    async def order(self, ticket: int) -> Order | None:
        row = await self._db.fetchone("SELECT * FROM orders WHERE ticket = ?", (ticket,))
        return None if row is None else Order.model_validate(dict(row))

    async def order_by_client_id(self, account_id: str, client_order_id: str) -> Order | None:
        row = await self._db.fetchone(
            "SELECT * FROM orders WHERE account_id = ? AND client_order_id = ?",
            (account_id, client_order_id),
        )
        return None if row is None else Order.model_validate(dict(row))

    async def fills(self, account_id: str | None = None, *, limit: int = 100) -> list[Fill]:
        """Newest first (by ticket); a negative limit means all."""
        where, params = _account_filter(account_id)
        rows = await self._db.fetchall(
            f"SELECT * FROM fills{_where(where)} ORDER BY ticket DESC LIMIT ?", (*params, limit)
        )
        return [Fill.model_validate(dict(r)) for r in rows]

    async def query_orders(
        self,
        *,
        accounts: Collection[str] | None = None,
        symbol: str | None = None,
        status: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        sort: str = "ticket",
        descending: bool = False,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[Order], int]:
        """One page of the orders matching every filter given, and how many match."""
        if sort not in _ORDER_SORTS:
            raise ValueError(f"orders cannot be sorted by {sort!r}")
        where, params = _in("account_id", accounts)
        for column, value in (("symbol", symbol), ("status", status), ("source", source)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("created_at >= ?")
            params.append(timestamp(since))
        clause = _where(where)
        direction = "DESC" if descending else "ASC"
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM orders{clause}", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM orders{clause} ORDER BY {sort} {direction}, ticket {direction} "
            "LIMIT ? OFFSET ?",
            (*params, limit, skip),
        )
        return [Order.model_validate(dict(r)) for r in rows], total[0] if total else 0

    async def fills_since(self, account_id: str, since: datetime) -> list[Fill]:
        """An account's fills at or after `since`, oldest first: the deals an MT5
        account has already stored from the window its terminal is read over."""
        rows = await self._db.fetchall(
            "SELECT * FROM fills WHERE account_id = ? AND time >= ? ORDER BY ticket",
            (account_id, timestamp(since)),
        )
        return [Fill.model_validate(dict(r)) for r in rows]

    async def fills_between(
        self,
        *,
        accounts: Collection[str] | None = None,
        strategy_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = -1,
    ) -> list[Fill]:
        """Every fill (entries too) of `accounts` (None: all) and `strategy_id`
        (None: any) in [since, until], oldest first; a negative limit means all."""
        where: list[str] = []
        params: list[object] = []
        if accounts is not None:
            where.append(f"account_id IN ({', '.join('?' for _ in accounts)})")
            params.extend(accounts)
        if strategy_id is not None:
            where.append("strategy_id = ?")
            params.append(strategy_id)
        if since is not None:
            where.append("time >= ?")
            params.append(timestamp(since))
        if until is not None:
            where.append("time <= ?")
            params.append(timestamp(until))
        rows = await self._db.fetchall(
            f"SELECT * FROM fills{_where(where)} ORDER BY time, ticket LIMIT ?", (*params, limit)
        )
        return [Fill.model_validate(dict(r)) for r in rows]

    async def closing_fills(
        self,
        *,
        accounts: Collection[str] | None = None,
        strategy_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = -1,
    ) -> list[Fill]:
        """Deals that closed (part of) a position, of `accounts` (None: all) and
        `strategy_id` (None: any) in [since, until], oldest first."""
        where, params = _in("account_id", accounts)
        where.append("entry != ?")
        params.append(DealEntry.IN.value)
        if strategy_id is not None:
            where.append("strategy_id = ?")
            params.append(strategy_id)
        if since is not None:
            where.append("time >= ?")
            params.append(timestamp(since))
        if until is not None:
            where.append("time <= ?")
            params.append(timestamp(until))
        rows = await self._db.fetchall(
            f"SELECT * FROM fills{_where(where)} ORDER BY time, ticket LIMIT ?", (*params, limit)
        )
        return [Fill.model_validate(dict(r)) for r in rows]

    async def positions(self, account_id: str | None = None) -> list[Position]:
        """Open positions, oldest ticket first."""
        where, params = _account_filter(account_id)
        rows = await self._db.fetchall(
            f"SELECT * FROM positions{_where(where)} ORDER BY ticket", params
        )
        return [Position.model_validate(dict(r)) for r in rows]

    async def max_ticket(self) -> int:
        """The highest ticket ever used by an order, fill or position (0 if none)."""
        row = await self._db.fetchone(
            "SELECT MAX("
            " (SELECT COALESCE(MAX(ticket), 0) FROM orders),"
            " (SELECT COALESCE(MAX(position_ticket), 0) FROM orders),"
            " (SELECT COALESCE(MAX(ticket), 0) FROM fills),"
            " (SELECT COALESCE(MAX(position_ticket), 0) FROM fills),"
            " (SELECT COALESCE(MAX(order_ticket), 0) FROM fills),"
            " (SELECT COALESCE(MAX(ticket), 0) FROM positions))"
        )
        return 0 if row is None else int(row[0])


@dataclass(slots=True)
class _Book:
    """One position's running state while replaying its fills, oldest first."""

    opened: Fill | None = None  # the fill that (re)opened it: side, symbol, open time
    volume: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # sum of price * volume of the IN fills since (re)opening
    in_volume: Decimal = Decimal(0)
    exponent: int = 0  # finest price precision among those IN fills

    def apply(self, fill: Fill) -> None:
        if fill.entry is DealEntry.OUT:
            self.volume -= fill.volume
        elif fill.entry is DealEntry.INOUT:
            remainder = fill.volume - self.volume
            self.volume = Decimal(0)
            self._add(fill, remainder)
        else:
            self._add(fill, fill.volume)

    def _add(self, fill: Fill, volume: Decimal) -> None:
        if self.volume <= 0:
            self.opened, self.volume, self.cost, self.in_volume, self.exponent = (
                fill,
                Decimal(0),
                Decimal(0),
                Decimal(0),
                0,
            )
        self.volume += volume
        self.cost += fill.price * volume
        self.in_volume += volume
        self.exponent = min(self.exponent, _exponent(fill.price))

    def position(self, account_id: str, ticket: int) -> Position | None:
        opened = self.opened
        if opened is None or self.volume <= 0:
            return None
        average = self.cost / self.in_volume
        if _exponent(average) < self.exponent:
            average = average.quantize(Decimal(1).scaleb(self.exponent))
        return Position(
            ticket=ticket,
            account_id=account_id,
            symbol=opened.symbol,
            side=opened.side,
            volume=self.volume,
            open_price=average,
            open_time=opened.time,
            strategy_id=opened.strategy_id,
        )


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _latest_time(changes: Changes) -> datetime | None:
    times = [o.updated_at for o in changes.orders] + [f.time for f in changes.fills]
    return max(times, default=None)


def _account_filter(account_id: str | None) -> tuple[list[str], tuple[str, ...]]:
    if account_id is None:
        return [], ()
    return ["account_id = ?"], (account_id,)


def _in(column: str, values: Collection[str] | None) -> tuple[list[str], list[object]]:
    """`column IN (...)` for the given values; no condition for None."""
    if values is None:
        return [], []
    return [f"{column} IN ({', '.join('?' for _ in values)})"], list(values)


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""
