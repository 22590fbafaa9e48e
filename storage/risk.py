"""Risk limits, the books equity limits measure from, and the kill switch."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal

from engine.models import KillSwitchState, RiskBook, RiskLimit
from storage.codec import row_params, timestamp, upsert_sql
from storage.db import Database

_LIMIT_COLUMNS = (*RiskLimit.model_fields, "deleted")
_UPSERT_LIMIT = upsert_sql("risk_limits", _LIMIT_COLUMNS, ("id",))
_UPSERT_BOOK = upsert_sql(
    "risk_books",
    ("account_id", "peak_equity", "day", "day_start_equity", "updated_at"),
    ("account_id",),
)
_UPSERT_KILL_SWITCH = upsert_sql("kill_switch", ("id", "state", "updated_at"), ("id",))


class RiskStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- limits ------------------------------------------------------------------

    def save_limits(self, limits: list[RiskLimit]) -> asyncio.Future[None]:
        """Insert or replace by id, all in one commit."""
        return self._db.writer.submit(
            [(_UPSERT_LIMIT, (*row_params(limit, RiskLimit.model_fields), 0)) for limit in limits]
        )

    def delete_limit(self, limit: RiskLimit) -> asyncio.Future[None]:
        """Keep the row as deleted, so a limit of the file stays deleted."""
        return self._db.writer.submit(
            [(_UPSERT_LIMIT, (*row_params(limit, RiskLimit.model_fields), 1))]
        )

    async def limits(self) -> list[RiskLimit]:
        """The limits in force (not deleted), by id."""
        rows = await self._db.fetchall("SELECT * FROM risk_limits WHERE deleted = 0 ORDER BY id")
        fields = RiskLimit.model_fields
        return [RiskLimit.model_validate({k: row[k] for k in fields}) for row in rows]

    async def known_ids(self) -> set[str]:
        """Every id ever stored, deleted ones included."""
        rows = await self._db.fetchall("SELECT id FROM risk_limits")
        return {row["id"] for row in rows}

    # --- books -------------------------------------------------------------------

    def save_books(self, books: list[RiskBook], now: datetime) -> asyncio.Future[None]:
        return self._db.writer.submit(
            [
                (
                    _UPSERT_BOOK,
                    (
                        book.account_id,
                        str(book.peak_equity),
                        book.day.isoformat() if book.day is not None else None,
                        str(book.day_start_equity) if book.day_start_equity is not None else None,
                        timestamp(now),
                    ),
                )
                for book in books
            ]
        )

    async def books(self) -> dict[str, tuple[Decimal, date | None, Decimal | None]]:
        """account id -> (peak equity, day, that day's starting equity)."""
        rows = await self._db.fetchall("SELECT * FROM risk_books")
        return {
            row["account_id"]: (
                Decimal(row["peak_equity"]),
                date.fromisoformat(row["day"]) if row["day"] else None,
                Decimal(row["day_start_equity"]) if row["day_start_equity"] else None,
            )
            for row in rows
        }

    # --- kill switch -------------------------------------------------------------

    def save_kill_switch(self, state: KillSwitchState, now: datetime) -> asyncio.Future[None]:
        return self._db.writer.submit(
            [(_UPSERT_KILL_SWITCH, (1, state.model_dump_json(), timestamp(now)))]
        )

    async def kill_switch(self) -> KillSwitchState:
        row = await self._db.fetchone("SELECT state FROM kill_switch WHERE id = 1")
        return KillSwitchState() if row is None else KillSwitchState.model_validate_json(row[0])
