"""The last quote per symbol, so a restarted simulated market resumes its prices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from engine.models import Quote
from storage.codec import row_params, upsert_sql
from storage.db import Database

_COLUMNS = tuple(Quote.model_fields)
_UPSERT = upsert_sql("market_state", _COLUMNS, ("symbol",))


class MarketStateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, quotes: Sequence[Quote]) -> asyncio.Future[None]:
        return self._db.writer.submit([(_UPSERT, row_params(q, _COLUMNS)) for q in quotes])

    async def load(self) -> dict[str, Quote]:
        rows = await self._db.fetchall("SELECT * FROM market_state")
        return {row["symbol"]: Quote.model_validate(dict(row)) for row in rows}
