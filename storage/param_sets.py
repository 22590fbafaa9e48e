"""Parameter sets an optimisation tried, with their backtest metrics."""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from engine.models import ParamSet
from storage.codec import insert_sql, sql_value, timestamp
from storage.db import Database

_COLUMNS = tuple(ParamSet.model_fields)
_JSON = frozenset({"params", "metrics"})
_INSERT = insert_sql("param_sets", _COLUMNS)
_SORTABLE = frozenset({"id", "score", "rank", "created_at", "job_id"})


class ParamSetStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_for_job(self, job_id: int, sets: Sequence[ParamSet]) -> asyncio.Future[None]:
        """Store the sets one search tried, replacing any an earlier run of the
        same job stored (a job may run again after a crash). Ids are new."""
        return self._db.writer.submit(
            [
                ("DELETE FROM param_sets WHERE job_id = ?", (job_id,)),
                *((_INSERT, _params(s.model_copy(update={"id": None}))) for s in sets),
            ]
        )

    def deployed(self, set_id: int, strategy_id: str, at: datetime) -> asyncio.Future[None]:
        return self._db.writer.submit(
            [
                (
                    "UPDATE param_sets SET deployed_at = ?, deployed_to = ? WHERE id = ?",
                    (timestamp(at), strategy_id, set_id),
                )
            ]
        )

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM param_sets")
        return 0 if row is None else int(row[0])

    async def get(self, set_id: int) -> ParamSet | None:
        row = await self._db.fetchone("SELECT * FROM param_sets WHERE id = ?", (set_id,))
        return None if row is None else _param_set(row)

    async def query(
        self,
        *,
        job_id: int | None = None,
        kind: str | None = None,
        strategy_id: str | None = None,
        sort: str = "id",
        descending: bool = True,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[builtins.list[ParamSet], int]:
        if sort not in _SORTABLE:
            raise ValueError(f"models cannot be sorted by {sort!r}")
        where, params = [], []
        for column, value in (("job_id", job_id), ("kind", kind), ("strategy_id", strategy_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        direction = "DESC" if descending else "ASC"
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM param_sets{clause}", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM param_sets{clause} ORDER BY {sort} {direction} NULLS LAST, "
            f"id {direction} LIMIT ? OFFSET ?",
            (*params, limit, skip),
        )
        return [_param_set(r) for r in rows], 0 if total is None else int(total[0])


def _params(param_set: ParamSet) -> tuple[object, ...]:
    return tuple(
        json.dumps(getattr(param_set, c)) if c in _JSON else sql_value(getattr(param_set, c))
        for c in _COLUMNS
    )


def _param_set(row: sqlite3.Row) -> ParamSet:
    data = dict(row)
    for column in _JSON:
        data[column] = json.loads(data[column])
    return ParamSet.model_validate(data)
