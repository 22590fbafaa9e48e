"""The event log: the lines the panel's log shows, kept across restarts."""

from __future__ import annotations

import asyncio

from engine.models import LogRecord
from storage.codec import insert_sql, row_params
from storage.db import Database

_COLUMNS = tuple(LogRecord.model_fields)
_INSERT = insert_sql("event_log", _COLUMNS)


class EventLogStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, record: LogRecord) -> asyncio.Future[None]:
        return self._db.writer.submit([(_INSERT, row_params(record, _COLUMNS))])

    async def recent(self, *, account_id: str | None = None, limit: int = 100) -> list[LogRecord]:
        """Newest first."""
        columns = ", ".join(_COLUMNS)
        if account_id is None:
            rows = await self._db.fetchall(
                f"SELECT {columns} FROM event_log ORDER BY id DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT {columns} FROM event_log WHERE account_id = ? ORDER BY id DESC LIMIT ?",
                (account_id, limit),
            )
        return [LogRecord.model_validate(dict(r)) for r in rows]
