"""Strategy signals, as logged; ids come from the engine's counter."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime

from engine.models import Signal
from storage.codec import insert_sql, row_params, timestamp
from storage.db import Database

_COLUMNS = tuple(Signal.model_fields)
_INSERT = insert_sql("signals", _COLUMNS)


class SignalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, signal: Signal) -> asyncio.Future[None]:
        return self._db.writer.submit([(_INSERT, row_params(signal, _COLUMNS))])

    async def recent(
        self, *, account_id: str | None = None, strategy_id: str | None = None, limit: int = 100
    ) -> list[Signal]:
        """Newest first."""
        where, params = [], []
        if account_id is not None:
            where.append("account_id = ?")
            params.append(account_id)
        if strategy_id is not None:
            where.append("strategy_id = ?")
            params.append(strategy_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM signals{clause} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [Signal.model_validate(dict(r)) for r in rows]

    async def get(self, signal_id: int) -> Signal | None:
        row = await self._db.fetchone("SELECT * FROM signals WHERE id = ?", (signal_id,))
        return None if row is None else Signal.model_validate(dict(row))

    async def query(
        self,
        *,
        accounts: Collection[str] | None = None,
        strategy_id: str | None = None,
        symbol: str | None = None,
        since: datetime | None = None,
        sort: str = "id",
        descending: bool = True,
        skip: int = 0,
        limit: int = 100,
    ) -> tuple[list[Signal], int]:
        """One page of the signals matching the filters, and how many match in all.
        `accounts` limits the result to those accounts (None: every account)."""
        if sort not in _COLUMNS:
            raise ValueError(f"signals cannot be sorted by {sort!r}")
        where, params = [], []
        if accounts is not None:
            where.append(f"account_id IN ({', '.join('?' for _ in accounts)})")
            params.extend(accounts)
        for column, value in (("strategy_id", strategy_id), ("symbol", symbol)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("time >= ?")
            params.append(timestamp(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        direction = "DESC" if descending else "ASC"
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM signals{clause}", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM signals{clause} ORDER BY {sort} {direction}, id {direction} "
            "LIMIT ? OFFSET ?",
            (*params, limit, skip),
        )
        count = 0 if total is None else int(total[0])
        return [Signal.model_validate(dict(r)) for r in rows], count

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM signals")
        return 0 if row is None else int(row[0])
