"""Price alerts, with where each stands (armed, fired how often); ids come from
the engine's counter."""

from __future__ import annotations

import asyncio

from engine.models import PriceAlert
from storage.codec import row_params, upsert_sql
from storage.db import Database

_COLUMNS = tuple(PriceAlert.model_fields)
_UPSERT = upsert_sql("price_alerts", _COLUMNS, ("id",))


class PriceAlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, alerts: list[PriceAlert]) -> asyncio.Future[None]:
        """Insert or update by id, all in one commit."""
        return self._db.writer.submit([(_UPSERT, row_params(a, _COLUMNS)) for a in alerts])

    def delete(self, alert_id: int) -> asyncio.Future[None]:
        return self._db.writer.submit([("DELETE FROM price_alerts WHERE id = ?", (alert_id,))])

    async def all(self) -> list[PriceAlert]:
        """Oldest first."""
        rows = await self._db.fetchall("SELECT * FROM price_alerts ORDER BY id")
        return [PriceAlert.model_validate(dict(row)) for row in rows]

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM price_alerts")
        return 0 if row is None else int(row[0])
