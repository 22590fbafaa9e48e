"""Alerts and their life cycle (triggered, acknowledged, resolved); ids come
from the engine's counter."""

from __future__ import annotations

import asyncio
import builtins
import json

from engine.models import Alert, AlertStatus
from storage.codec import sql_value, upsert_sql
from storage.db import Database

_COLUMNS = tuple(Alert.model_fields)
_UPSERT = upsert_sql("alerts", _COLUMNS, ("id",))


class AlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, alert: Alert) -> asyncio.Future[None]:
        """Insert or update by id."""
        params = tuple(
            json.dumps(alert.data) if column == "data" else sql_value(getattr(alert, column))
            for column in _COLUMNS
        )
        return self._db.writer.submit([(_UPSERT, params)])

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM alerts")
        return 0 if row is None else int(row[0])

    async def list(
        self, *, status: AlertStatus | None = None, limit: int = 200
    ) -> builtins.list[Alert]:
        """Newest first."""
        if status is None:
            rows = await self._db.fetchall(
                "SELECT * FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM alerts WHERE status = ? ORDER BY id DESC LIMIT ?",
                (status.value, limit),
            )
        return [Alert.model_validate({**dict(r), "data": json.loads(r["data"])}) for r in rows]
