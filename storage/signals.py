"""Strategy signals, as logged; ids come from the engine's counter."""

from __future__ import annotations

import asyncio

from engine.models import Signal
from storage.codec import insert_sql, row_params
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

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM signals")
        return 0 if row is None else int(row[0])
