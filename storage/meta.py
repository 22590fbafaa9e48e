"""Small named JSON values the engine keeps between runs (strategy states, counters)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic_core import to_json

from storage.db import Database

_UPSERT = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class MetaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, key: str, value: Any) -> asyncio.Future[None]:
        """Store `value` as JSON. Models, Decimals and datetimes are written in
        their JSON form (Decimal as a string) and come back in that form."""
        return self._db.writer.submit([(_UPSERT, (key, to_json(value).decode()))])

    async def get(self, key: str, default: Any = None) -> Any:
        row = await self._db.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])
