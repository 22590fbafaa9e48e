"""The group-commit writer: acknowledged only after commit, batched, failures isolated."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from storage.db import Database, StorageError
from storage.writer import Op

INSERT = "INSERT INTO meta (key, value) VALUES (?, ?)"


def _put(key: str, value: str = "1") -> Op:
    return (INSERT, (key, value))


def _keys(path: Path) -> set[str]:
    """What another process would see: a fresh connection to the file."""
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT key FROM meta")}
    finally:
        conn.close()


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(db_path)
    yield database
    await database.close()


async def test_a_write_is_acknowledged_only_once_it_is_committed(db: Database) -> None:
    seen_at_ack: dict[str, bool] = {}

    def check(key: str, _: asyncio.Future[None]) -> None:
        # Runs the moment the future resolves: the row must already be durable.
        seen_at_ack[key] = key in _keys(db.path)

    futures = []
    for i in range(50):
        future = db.writer.submit([_put(f"k{i}")])
        future.add_done_callback(partial(check, f"k{i}"))
        futures.append(future)
    await asyncio.gather(*futures)
    assert seen_at_ack == {f"k{i}": True for i in range(50)}


async def test_concurrent_groups_share_few_transactions(db: Database) -> None:
    async def producer(n: int) -> None:
        for i in range(20):
            await db.writer.write([_put(f"p{n}-{i}-a"), _put(f"p{n}-{i}-b")])

    await asyncio.gather(*(producer(n) for n in range(50)))
    stats = db.writer.stats
    assert stats["groups"] == 1000
    assert stats["rows"] == 2000
    assert stats["batches"] <= 100  # one per group would be 1000
    assert len(_keys(db.path)) == 2000


async def test_a_batch_never_exceeds_batch_max_statements(db_path: Path) -> None:
    db = await Database.open(db_path, batch_max=100)
    await asyncio.gather(*(db.writer.submit([_put(f"k{i}")]) for i in range(1000)))
    stats = db.writer.stats
    await db.close()
    assert stats["batches"] >= 10
    assert stats["rows"] == 1000


async def test_a_failing_group_fails_alone_and_atomically(db: Database) -> None:
    await db.writer.write([_put("taken")])
    # Submitted together, so they share one batch.
    first = db.writer.submit([_put("a1"), _put("a2")])
    bad = db.writer.submit([_put("b1"), _put("taken")])
    last = db.writer.submit([_put("c1")])
    await first
    with pytest.raises(StorageError, match="UNIQUE constraint failed") as raised:
        await bad
    await last
    assert isinstance(raised.value.__cause__, sqlite3.IntegrityError)
    assert str(db.path) in str(raised.value)
    assert _keys(db.path) == {"taken", "a1", "a2", "c1"}  # b1 went with its group
    assert db.writer.stats["failed"] == 1


async def test_flush_waits_for_everything_submitted(db: Database) -> None:
    futures = [db.writer.submit([_put(f"k{i}")]) for i in range(300)]
    await db.writer.flush()
    assert all(f.done() for f in futures)
    assert len(_keys(db.path)) == 300


async def test_close_commits_everything_submitted(db_path: Path) -> None:
    db = await Database.open(db_path)
    futures = [db.writer.submit([_put(f"k{i}")]) for i in range(500)]
    await db.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(_keys(db_path)) == 500


async def test_submit_after_close_raises(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()
    with pytest.raises(StorageError, match="closed"):
        db.writer.submit([_put("late")])
    assert _keys(db_path) == set()


async def test_cancelling_the_closer_fails_the_uncommitted_writes(db_path: Path) -> None:
    db = await Database.open(db_path)
    futures = [db.writer.submit([_put(f"k{i}")]) for i in range(20_000)]
    closing = asyncio.create_task(db.close())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    # Nobody is left waiting: each write either committed or failed.
    assert all(f.done() for f in futures)
    committed = {f"k{i}" for i, f in enumerate(futures) if f.exception() is None}
    assert committed <= _keys(db_path)
