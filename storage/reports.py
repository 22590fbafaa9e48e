"""Daily performance reports: one row per day and account, and one for the
total (account "total"). A report made again for the same day replaces it."""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal

from engine.models import DailyReport
from storage.codec import sql_value, timestamp, upsert_sql
from storage.db import Database

_COLUMNS = tuple(DailyReport.model_fields)
_UPSERT = upsert_sql("daily_reports", _COLUMNS, ("day", "account_id"))


class ReportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, reports: Sequence[DailyReport]) -> asyncio.Future[None]:
        return self._db.writer.submit([(_UPSERT, _row(r)) for r in reports])

    async def closing_deals(
        self, account_id: str, since: datetime, until: datetime
    ) -> builtins.list[float]:
        """Profit net of commission of every deal of `account_id` that closed
        (part of) a position in [since, until), in time order: the day's trades."""
        rows = await self._db.fetchall(
            "SELECT profit, commission FROM fills WHERE account_id = ? AND entry != 'in' "
            "AND time >= ? AND time < ? ORDER BY time, ticket",
            (account_id, timestamp(since), timestamp(until)),
        )
        return [float(Decimal(r["profit"]) - Decimal(r["commission"])) for r in rows]

    async def list(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        accounts: Collection[str] | None = None,
    ) -> builtins.list[DailyReport]:
        """Oldest day first; within a day, by account."""
        where, params = [], []
        if since is not None:
            where.append("day >= ?")
            params.append(since.isoformat())
        if until is not None:
            where.append("day <= ?")
            params.append(until.isoformat())
        if accounts is not None:
            where.append(f"account_id IN ({', '.join('?' for _ in accounts)})")
            params.extend(accounts)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM daily_reports{clause} ORDER BY day, account_id", params
        )
        return [_report(r) for r in rows]


def _row(report: DailyReport) -> tuple[object, ...]:
    values = {
        **{c: sql_value(getattr(report, c)) for c in _COLUMNS},
        "day": report.day.isoformat(),
        "metrics": json.dumps(report.metrics),
    }
    return tuple(values[c] for c in _COLUMNS)


def _report(row: sqlite3.Row) -> DailyReport:
    data = dict(row)
    data["metrics"] = json.loads(data["metrics"])
    return DailyReport.model_validate(data)
