"""Schedule definitions and their enabled state: the scheduler's rules are
rebuilt from here at every start."""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
from datetime import datetime

from engine.models import Schedule
from storage.codec import sql_value, timestamp, upsert_sql
from storage.db import Database

# `next_run_at` is the scheduler's to compute, never stored.
_COLUMNS = tuple(c for c in Schedule.model_fields if c != "next_run_at")
_UPSERT = upsert_sql("schedules", _COLUMNS, ("name",))


class ScheduleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, schedule: Schedule) -> asyncio.Future[None]:
        params = tuple(
            json.dumps(schedule.args) if c == "args" else sql_value(getattr(schedule, c))
            for c in _COLUMNS
        )
        return self._db.writer.submit([(_UPSERT, params)])

    def ran(self, name: str, at: datetime) -> asyncio.Future[None]:
        return self._db.writer.submit(
            [
                (
                    "UPDATE schedules SET last_run_at = ?, run_count = run_count + 1 "
                    "WHERE name = ?",
                    (timestamp(at), name),
                )
            ]
        )

    def delete(self, name: str) -> asyncio.Future[None]:
        return self._db.writer.submit([("DELETE FROM schedules WHERE name = ?", (name,))])

    async def list(self) -> builtins.list[Schedule]:
        rows = await self._db.fetchall("SELECT * FROM schedules ORDER BY name")
        return [_schedule(r) for r in rows]

    async def any(self) -> bool:
        """Whether schedules were ever written (the defaults go in only once)."""
        row = await self._db.fetchone(
            "SELECT 1 FROM schedules UNION ALL SELECT 1 FROM meta WHERE key = 'schedules.seeded'"
        )
        return row is not None

    def mark_seeded(self) -> asyncio.Future[None]:
        return self._db.writer.submit(
            [
                (
                    "INSERT INTO meta (key, value) VALUES ('schedules.seeded', 'true') "
                    "ON CONFLICT (key) DO NOTHING",
                    (),
                )
            ]
        )


def _schedule(row: sqlite3.Row) -> Schedule:
    data = dict(row)
    data["args"] = json.loads(data["args"])
    return Schedule.model_validate(data)
