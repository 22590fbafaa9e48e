"""Retention: history older than a cutoff goes (equity samples, signals, the
event log). The ledger (orders, fills, positions) and daily reports are never
purged: they are the account's books."""

from __future__ import annotations

from datetime import datetime

from storage.codec import timestamp
from storage.db import Database

# table -> its time column
PURGEABLE = {"equity_history": "time", "signals": "time", "event_log": "time"}


class RetentionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge(self, before: datetime) -> dict[str, int]:
        """Delete every row older than `before` in one transaction; how many went
        from each table."""
        cutoff = timestamp(before)
        counts = {}
        for table, column in PURGEABLE.items():
            row = await self._db.fetchone(
                f"SELECT COUNT(*) FROM {table} WHERE {column} < ?", (cutoff,)
            )
            counts[table] = 0 if row is None else int(row[0])
        await self._db.writer.submit(
            [
                (f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
                for table, column in PURGEABLE.items()
            ]
        )
        return counts
