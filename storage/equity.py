"""Equity history: balance, equity and margin per account over time."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

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
        resolution: timedelta | None = None,
        sort: str = "time",
        descending: bool = False,
        skip: int = 0,
        limit: int = 1000,
    ) -> tuple[list[EquityPoint], int]:
        """One page of the points of `accounts` (None: every account) in
        [since, until], and how many there are in all.

        With a `resolution`, per account: its first point in the range, then its
        last point in each UTC period that long (a period ends at, and includes,
        a multiple of `resolution` since the epoch), as
        `engine.analytics.performance.resample` takes closes."""
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
        source = f"SELECT * FROM equity_history{clause}"
        if resolution is not None:
            step = resolution // timedelta(microseconds=1)
            if step <= 0 or resolution % timedelta(seconds=1):
                raise ValueError(f"a resolution is whole seconds, not {resolution}")
            source = _closes_sql(source)
            params = [*params, step, step, *params]
        direction = "DESC" if descending else "ASC"
        tie = "account_id" if sort == "time" else "time"
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM ({source})", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM ({source}) ORDER BY {sort} {direction}, {tie} {direction} "
            "LIMIT ? OFFSET ?",
            (*params, limit, skip),
        )
        count = 0 if total is None else int(total[0])
        return [EquityPoint.model_validate(dict(r)) for r in rows], count


# Microseconds since the epoch of a stored time (`2026-01-05T09:00:00.000000+00:00`).
_MICROS = (
    "(CAST(strftime('%s', substr(time, 1, 19)) AS INTEGER) * 1000000"
    " + CAST(substr(time, 21, 6) AS INTEGER))"
)


def _closes_sql(source: str) -> str:
    """Each account's first row of `source`, then its last row in each period
    (the periods' length is the first parameter after `source`'s, in microseconds).
    SQLite takes a bare column beside MAX/MIN from the row holding that extreme."""
    columns = ", ".join(c for c in _COLUMNS if c != "time")
    return (
        f"SELECT {columns}, MAX(time) AS time FROM ({source})"
        f" GROUP BY account_id, ({_MICROS} + ? - 1) / ?"
        f" UNION SELECT {columns}, MIN(time) AS time FROM ({source}) GROUP BY account_id"
    )
