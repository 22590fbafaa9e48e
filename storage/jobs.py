"""Background jobs as stored: every state change is one upsert of the whole
row through the writer, so a job is exactly what the queue last acknowledged."""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import to_json

from engine.models import Job, JobDay, JobPriority, JobState
from storage.codec import sql_value, timestamp, upsert_sql
from storage.db import Database

_COLUMNS = tuple(Job.model_fields)
_UPSERT = upsert_sql("jobs", _COLUMNS, ("id",))
_ACTIVE = tuple(s.value for s in JobState if s.is_active)
# Sort keys beyond the columns: how long a job ran (unfinished ones last in
# either direction) and when it last changed.
_DERIVED = {
    "duration": "(julianday(finished_at) - julianday(started_at))",
    "updated_at": "COALESCE(finished_at, started_at, created_at)",
}
_SORTABLE = frozenset(
    {"id", "created_at", "run_at", "started_at", "finished_at", "priority", *_DERIVED}
)


class JobStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, jobs: Sequence[Job]) -> asyncio.Future[None]:
        """Insert or replace `jobs` in one atomic group (acknowledged after COMMIT)."""
        return self._db.writer.submit([(_UPSERT, _params(job)) for job in jobs])

    def delete_finished(self, before: datetime) -> asyncio.Future[None]:
        """Forget completed and cancelled jobs finished before `before` (dead ones
        stay until the dead-letter queue is cleared)."""
        return self._db.writer.submit(
            [
                (
                    "DELETE FROM jobs WHERE state IN ('completed', 'cancelled') "
                    "AND finished_at < ?",
                    (timestamp(before),),
                )
            ]
        )

    def delete(self, job_id: int) -> asyncio.Future[None]:
        """Forget one job that has ended (an active one is left alone)."""
        marks = ", ".join("?" for _ in _ACTIVE)
        return self._db.writer.submit(
            [(f"DELETE FROM jobs WHERE id = ? AND state NOT IN ({marks})", (job_id, *_ACTIVE))]
        )

    def delete_dead(self) -> asyncio.Future[None]:
        return self._db.writer.submit([("DELETE FROM jobs WHERE state = 'dead'", ())])

    async def max_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM jobs")
        return 0 if row is None else int(row[0])

    async def active(self) -> builtins.list[Job]:
        """Every job still to run or running, oldest first."""
        marks = ", ".join("?" for _ in _ACTIVE)
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", _ACTIVE
        )
        return [_job(r) for r in rows]

    async def get(self, job_id: int) -> Job | None:
        row = await self._db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def query(
        self,
        *,
        states: Collection[JobState] | None = None,
        handler: str | None = None,
        priority: JobPriority | None = None,
        schedule: str | None = None,
        runner: str | None = None,
        accounts: Collection[str] | None = None,
        since: datetime | None = None,
        sort: str = "id",
        descending: bool = True,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[builtins.list[Job], int]:
        """One page of the jobs matching the filters and how many match in all.
        `accounts` limits to jobs on those accounts (None: every job)."""
        if sort not in _SORTABLE:
            raise ValueError(f"jobs cannot be sorted by {sort!r}")
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(s.value for s in states)
        if accounts is not None:
            where.append(f"account_id IN ({', '.join('?' for _ in accounts)})")
            params.extend(accounts)
        for column, value in (
            ("handler", handler),
            ("priority", priority),
            ("schedule", schedule),
            ("runner", runner),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(sql_value(value))
        if since is not None:
            where.append("created_at >= ?")
            params.append(timestamp(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        direction = "DESC" if descending else "ASC"
        order = (
            f"CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
            f"ELSE 3 END {direction}"
            if sort == "priority"
            else f"{_DERIVED[sort]} IS NULL, {_DERIVED[sort]} {direction}"
            if sort in _DERIVED
            else f"{sort} {direction}"
        )
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM jobs{clause}", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs{clause} ORDER BY {order}, id {direction} LIMIT ? OFFSET ?",
            (*params, limit, skip),
        )
        return [_job(r) for r in rows], 0 if total is None else int(total[0])

    async def counts(self, accounts: Collection[str] | None = None) -> dict[tuple[str, str], int]:
        """How many jobs are in each (state, priority); of `accounts` only when given."""
        where, params = "", ()
        if accounts is not None:
            where = f"WHERE account_id IN ({', '.join('?' for _ in accounts)})"
            params = tuple(accounts)
        rows = await self._db.fetchall(
            f"SELECT state, priority, COUNT(*) AS n FROM jobs {where} GROUP BY state, priority",
            params,
        )
        return {(r["state"], r["priority"]): int(r["n"]) for r in rows}

    async def mean_duration(self, accounts: Collection[str] | None = None) -> float | None:
        """Seconds the completed jobs ran, on average (of `accounts` when given)."""
        where, params = _accounts(accounts)
        row = await self._db.fetchone(
            f"SELECT AVG({_SECONDS}) FROM jobs WHERE state = 'completed'{where}", params
        )
        return None if row is None or row[0] is None else float(row[0])

    async def days(
        self, since: datetime, accounts: Collection[str] | None = None
    ) -> builtins.list[JobDay]:
        """The jobs that ended on each day from `since` on, by outcome."""
        where, params = _accounts(accounts)
        rows = await self._db.fetchall(
            f"SELECT substr(finished_at, 1, 10) AS day, state, COUNT(*) AS n, "
            f"AVG({_SECONDS}) AS seconds FROM jobs "
            f"WHERE state IN ('completed', 'dead', 'cancelled') AND finished_at >= ?{where} "
            "GROUP BY day, state ORDER BY day",
            (timestamp(since), *params),
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            day = found.setdefault(
                row["day"],
                {
                    "day": row["day"],
                    "completed": 0,
                    "failed": 0,
                    "cancelled": 0,
                    "mean_duration_seconds": None,
                },
            )
            outcome = "failed" if row["state"] == "dead" else row["state"]
            day[outcome] = int(row["n"])
            if row["state"] == "completed":
                day["mean_duration_seconds"] = row["seconds"]
        return [JobDay.model_validate(day) for day in found.values()]


_SECONDS = f"{_DERIVED['duration']} * 86400.0"


def _accounts(accounts: Collection[str] | None) -> tuple[str, tuple[str, ...]]:
    if accounts is None:
        return "", ()
    return f" AND account_id IN ({', '.join('?' for _ in accounts)})", tuple(accounts)


def _params(job: Job) -> tuple[Any, ...]:
    """The row of `job`, in `_COLUMNS` order. Spelled out rather than looped over
    the columns: this runs three times per job, and the queue's throughput
    depends on it."""
    return (
        job.id,
        job.handler,
        to_json(job.args).decode(),
        job.account_id,
        job.priority.value,
        job.state.value,
        job.attempts,
        job.max_retries,
        job.timeout_seconds,
        job.dedup_key,
        job.schedule,
        job.progress,
        job.message,
        None if job.result is None else to_json(job.result).decode(),
        job.error,
        job.traceback,
        int(job.cancel_requested),
        job.runner,
        timestamp(job.created_at),
        timestamp(job.run_at),
        _time(job.started_at),
        _time(job.finished_at),
        _time(job.lease_until),
        job.description,
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["args"] = json.loads(data["args"])
    data["result"] = None if data["result"] is None else json.loads(data["result"])
    return Job.model_validate(data)
