"""Equity history: balance, equity and margin per account over time."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import datetime

from engine.models import EquityPoint
from storage.codec import row_params, timestamp, upsert_sql
from storage.db import Database

_COLUMNS = tuple(EquityPoint.model_fields)
# One point per account and instant: a repeated time replaces the point.
_UPSERT = upsert_sql("equity_history", _COLUMNS, ("account_id", "time"))


class EquityStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, points: Sequence[EquityPoint]) -> asyncio.Future[None]:
        return self._db.writer.submit([(_UPSERT, row_params(p, _COLUMNS)) for p in points])

    async def history(
        self,
        account_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[EquityPoint]:
        """The newest `limit` points in [since, until], oldest first (as a chart draws them)."""
        where = ["account_id = ?"]
        params: list[object] = [account_id]
        if since is not None:
            where.append("time >= ?")
            params.append(timestamp(since))
        if until is not None:
            where.append("time <= ?")
            params.append(timestamp(until))
        rows = await self._db.fetchall(
            f"SELECT * FROM equity_history WHERE {' AND '.join(where)} ORDER BY time DESC LIMIT ?",
            (*params, limit),
        )
        return [EquityPoint.model_validate(dict(r)) for r in reversed(rows)]

    async def query(
        self,
        *,
        accounts: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        sort: str = "time",
        descending: bool = False,
        skip: int = 0,
        limit: int = 1000,
    ) -> tuple[list[EquityPoint], int]:
        """One page of the points of `accounts` (None: every account) in
        [since, until], and how many there are in all."""
        if sort not in ("time", "account_id"):
            raise ValueError(f"equity history cannot be sorted by {sort!r}")
        where, params = [], []
        if accounts is not None:
            where.append(f"account_id IN ({', '.join('?' for _ in accounts)})")
            params.extend(accounts)
        if since is not None:
            where.append("time >= ?")
            params.append(timestamp(since))
        if until is not None:
            where.append("time <= ?")
            params.append(timestamp(until))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        direction = "DESC" if descending else "ASC"
        tie = "account_id" if sort == "time" else "time"
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM equity_history{clause}", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM equity_history{clause} ORDER BY {sort} {direction}, {tie} {direction} "
            "LIMIT ? OFFSET ?",
            (*params, limit, skip),
        )
        count = 0 if total is None else int(total[0])
        return [EquityPoint.model_validate(dict(r)) for r in rows], count
