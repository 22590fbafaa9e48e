"""Instruments edited through the API, applied over the configuration file's at
every start: a symbol's whole configuration, or None for a deleted one."""

from __future__ import annotations

import asyncio
from datetime import datetime

from config.models import InstrumentConfig
from storage.codec import timestamp
from storage.db import Database

_UPSERT = (
    "INSERT INTO instrument_overrides (symbol, config, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (symbol) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at"
)


class InstrumentStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def set(
        self, symbol: str, config: InstrumentConfig | None, at: datetime
    ) -> asyncio.Future[None]:
        """Record `symbol`'s configuration; None records its deletion."""
        value = None if config is None else config.model_dump_json()
        return self._db.writer.submit([(_UPSERT, (symbol, value, timestamp(at)))])

    def forget(self, symbol: str) -> asyncio.Future[None]:
        """Drop the override: the configuration file decides again."""
        return self._db.writer.submit(
            [("DELETE FROM instrument_overrides WHERE symbol = ?", (symbol,))]
        )

    async def overrides(self) -> dict[str, InstrumentConfig | None]:
        rows = await self._db.fetchall(
            "SELECT symbol, config FROM instrument_overrides ORDER BY symbol"
        )
        return {
            row["symbol"]: None
            if row["config"] is None
            else InstrumentConfig.model_validate_json(row["config"])
            for row in rows
        }
