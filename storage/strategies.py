"""Strategies changed at run time: those added (their whole definition) and the
state a person left any strategy in (paused, or removed from the file's)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from engine.models import StrategyDefinition, StrategyOrigin
from storage.codec import timestamp
from storage.db import Database

StoredState = Literal["paused", "removed"]

_INSERT = (
    "INSERT INTO strategies (id, account_id, kind, params, symbols, timeframe, risk, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_STATE = (
    "INSERT INTO strategy_state (id, account_id, state, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
_CLEAR_STATE = "DELETE FROM strategy_state WHERE id = ?"
_SET_PARAMS = (
    "INSERT INTO strategy_params (id, params, model_id, deployed_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET params = excluded.params, model_id = excluded.model_id, "
    "deployed_at = excluded.deployed_at"
)


class StrategyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, definition: StrategyDefinition) -> asyncio.Future[None]:
        """Store a strategy added at run time, paused or not, in one commit."""
        assert definition.created_at is not None
        ops = [
            (
                _INSERT,
                (
                    definition.id,
                    definition.account_id,
                    definition.kind,
                    json.dumps(definition.params),
                    json.dumps(definition.symbols),
                    definition.timeframe.value,
                    None if definition.risk is None else definition.risk.model_dump_json(),
                    timestamp(definition.created_at),
                ),
            )
        ]
        if definition.paused:
            ops.append(
                _state_op(definition.id, definition.account_id, "paused", definition.created_at)
            )
        return self._db.writer.submit(ops)

    def set_state(
        self, strategy_id: str, account_id: str, state: StoredState | None, at: datetime
    ) -> asyncio.Future[None]:
        """Record `state`; None means running (the row goes)."""
        if state is None:
            return self._db.writer.submit([(_CLEAR_STATE, (strategy_id,))])
        return self._db.writer.submit([_state_op(strategy_id, account_id, state, at)])

    async def added(self) -> list[StrategyDefinition]:
        """The strategies added at run time and not removed, oldest first, with
        their paused flag."""
        rows = await self._db.fetchall(
            "SELECT s.*, t.state FROM strategies s LEFT JOIN strategy_state t ON t.id = s.id "
            "WHERE t.state IS NULL OR t.state != 'removed' ORDER BY s.created_at, s.id"
        )
        return [
            StrategyDefinition(
                id=row["id"],
                account_id=row["account_id"],
                kind=row["kind"],
                params=json.loads(row["params"]),
                symbols=json.loads(row["symbols"]),
                timeframe=row["timeframe"],
                risk=None if row["risk"] is None else json.loads(row["risk"]),
                origin=StrategyOrigin.RUNTIME,
                paused=row["state"] == "paused",
                created_at=row["created_at"],
            )
            for row in rows
        ]

    def set_params(
        self, strategy_id: str, params: dict[str, Any], model_id: int | None, at: datetime
    ) -> asyncio.Future[None]:
        """Record the parameters deployed to a strategy (they replace its own)."""
        row = (strategy_id, json.dumps(params), model_id, timestamp(at))
        return self._db.writer.submit([(_SET_PARAMS, row)])

    async def deployed_params(self) -> dict[str, dict[str, Any]]:
        """The parameters deployed to each strategy, by strategy id."""
        rows = await self._db.fetchall("SELECT id, params FROM strategy_params")
        return {row["id"]: json.loads(row["params"]) for row in rows}

    async def states(self) -> dict[str, StoredState]:
        """Every stored state by strategy id."""
        rows = await self._db.fetchall("SELECT id, state FROM strategy_state")
        return {row["id"]: row["state"] for row in rows}


def _state_op(
    strategy_id: str, account_id: str, state: StoredState, at: datetime
) -> tuple[str, tuple[str, str, str, str]]:
    return (_SET_STATE, (strategy_id, account_id, state, timestamp(at)))
