"""The stored tables the data catalog offers: their columns, a summary (rows,
time range, bytes), and their rows streamed a page at a time.

Rows stream through a read-only connection of their own, opened per download
and closed when it ends, so a long download neither holds the shared read
connection nor ever has more than one page of rows in memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.codec import parse_timestamp, timestamp
from storage.db import Database, connect_reader

PAGE_ROWS = 1000


@dataclass(frozen=True)
class Table:
    name: str
    time: str  # the column a time range filters on
    order: str  # the column rows stream in order of


TABLES = {
    "fills": Table("fills", "time", "ticket"),
    "orders": Table("orders", "created_at", "ticket"),
    "equity_history": Table("equity_history", "time", "time"),
    "signals": Table("signals", "time", "id"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # SQLite's declared type; decimals are TEXT, exact


@dataclass(frozen=True)
class Summary:
    rows: int
    start: datetime | None
    end: datetime | None
    size_bytes: int  # of the values as stored


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._columns: dict[str, list[Column]] = {}

    async def columns(self, table: Table) -> list[Column]:
        if table.name not in self._columns:
            rows = await self._db.fetchall(f"PRAGMA table_info({table.name})")
            self._columns[table.name] = [Column(r["name"], r["type"]) for r in rows]
        return self._columns[table.name]

    async def summary(self, table: Table, accounts: Collection[str] | None) -> Summary:
        """Rows, first and last time, and bytes of the rows `accounts` may see
        (all when None): one scan of the table."""
        columns = await self.columns(table)
        size = " + ".join(f"COALESCE(length({c.name}), 0)" for c in columns)
        where, params = _where(accounts, table, None, None)
        row = await self._db.fetchone(
            f"SELECT count(*) AS n, min({table.time}) AS start, max({table.time}) AS end_, "
            f"COALESCE(sum({size}), 0) AS size FROM {table.name}{where}",
            params,
        )
        assert row is not None
        return Summary(
            rows=row["n"],
            start=parse_timestamp(row["start"]) if row["start"] else None,
            end=parse_timestamp(row["end_"]) if row["end_"] else None,
            size_bytes=row["size"],
        )

    async def pages(
        self,
        table: Table,
        accounts: Collection[str] | None,
        start: datetime | None = None,
        end: datetime | None = None,
        page_rows: int = PAGE_ROWS,
    ) -> AsyncIterator[list[sqlite3.Row]]:
        """The rows in order, a page at a time, from a connection of their own."""
        where, params = _where(accounts, table, start, end)
        conn: aiosqlite.Connection = await connect_reader(self._db.path)
        try:
            cursor = await conn.execute(
                f"SELECT * FROM {table.name}{where} ORDER BY {table.order}", params
            )
            while page := await cursor.fetchmany(page_rows):
                yield list(page)
        finally:
            await conn.close()


def _where(
    accounts: Collection[str] | None,
    table: Table,
    start: datetime | None,
    end: datetime | None,
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if accounts is not None:
        clauses.append(f"account_id IN ({', '.join('?' * len(accounts)) or 'NULL'})")
        params.extend(sorted(accounts))
    if start is not None:
        clauses.append(f"{table.time} >= ?")
        params.append(timestamp(start))
    if end is not None:
        clauses.append(f"{table.time} < ?")
        params.append(timestamp(end))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
