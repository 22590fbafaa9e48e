"""Our recent fills in one symbol, across accounts, for the market-data cache
(the ledger's own queries are per account)."""

from __future__ import annotations

from engine.models import Fill
from storage.db import Database


class TradeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(self, symbol: str, limit: int) -> list[Fill]:
        """Newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM fills WHERE symbol = ? ORDER BY ticket DESC LIMIT ?", (symbol, limit)
        )
        return [Fill.model_validate(dict(row)) for row in rows]
