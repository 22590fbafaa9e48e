"""Signed webhooks registered over the API (the notification router's)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from engine.models import Webhook
from storage.codec import timestamp
from storage.db import Database

_INSERT = (
    "INSERT INTO webhooks (id, url, events, accounts, secret, created_by, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, hook: Webhook) -> asyncio.Future[None]:
        params = (
            hook.id,
            hook.url,
            json.dumps(hook.events),
            None if hook.accounts is None else json.dumps(hook.accounts),
            hook.secret,
            hook.created_by,
            timestamp(hook.created_at),
        )
        return self._db.writer.submit([(_INSERT, params)])

    def delete(self, hook_id: int) -> asyncio.Future[None]:
        return self._db.writer.submit([("DELETE FROM webhooks WHERE id = ?", (hook_id,))])

    async def all(self) -> list[Webhook]:
        rows = await self._db.fetchall("SELECT * FROM webhooks ORDER BY id")
        return [_hook(dict(row)) for row in rows]

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM webhooks")
        return 0 if row is None else int(row[0])


def _hook(row: dict[str, Any]) -> Webhook:
    row["events"] = json.loads(row["events"])
    row["accounts"] = None if row["accounts"] is None else json.loads(row["accounts"])
    return Webhook.model_validate(row)
