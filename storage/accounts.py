"""Whether each account's worker is meant to run, so a restart resumes them."""

from __future__ import annotations

import asyncio

from storage.db import Database

_UPSERT = (
    "INSERT INTO account_state (account_id, running) VALUES (?, ?) "
    "ON CONFLICT (account_id) DO UPDATE SET running = excluded.running"
)


class AccountStateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def set_desired(self, account_id: str, running: bool) -> asyncio.Future[None]:
        return self._db.writer.submit([(_UPSERT, (account_id, int(running)))])

    async def desired(self) -> dict[str, bool]:
        rows = await self._db.fetchall("SELECT account_id, running FROM account_state")
        return {row["account_id"]: bool(row["running"]) for row in rows}
