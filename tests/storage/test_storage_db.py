"""Opening the file: WAL, migrations, and refusing files that are not ours to change."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.db import Database, StorageError
from storage.migrate import Migration, discover
from storage.store import Store


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


async def test_new_file_is_created_in_wal_mode_with_every_table(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "account_state",
        "paper_balances",
        "orders",
        "fills",
        "positions",
        "equity_history",
        "signals",
        "alerts",
        "event_log",
        "market_state",
        "meta",
        "schema_migrations",
    } <= tables


async def test_migrations_apply_once_and_reopening_keeps_data(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.meta.set("k", 1)
    await store.close()
    store = await Store.open(db_path)
    assert await store.meta.get("k") == 1
    await store.close()
    assert _versions(db_path) == [m.version for m in discover()]
    assert _versions(db_path)[0] == 1


async def test_a_new_migration_is_applied_on_reopen_in_order(db_path: Path) -> None:
    known = discover()
    db = await Database.open(db_path, migrations=known)
    await db.close()
    extra = Migration(
        len(known) + 1, "add_notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);"
    )
    db = await Database.open(db_path, migrations=[*known, extra])
    await db.writer.write([("INSERT INTO notes (text) VALUES (?)", ("hi",))])
    row = await db.fetchone("SELECT text FROM notes")
    await db.close()
    assert row is not None and row["text"] == "hi"
    assert _versions(db_path) == [*(m.version for m in known), extra.version]


async def test_a_failing_migration_leaves_no_trace(db_path: Path) -> None:
    known = discover()
    broken = Migration(
        len(known) + 1, "broken", "CREATE TABLE half (id INTEGER);\nINSERT INTO missing VALUES (1);"
    )
    with pytest.raises(StorageError, match="missing"):
        await Database.open(db_path, migrations=[*known, broken])
    with sqlite3.connect(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables
    assert _versions(db_path) == [m.version for m in known]


async def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"my trading notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StorageError, match="is not a SQLite database") as raised:
        await Store.open(path)
    assert str(path) in str(raised.value)
    assert _bytes(path) == content
    assert _names(tmp_path) == ["notes.txt"]


async def test_a_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')"
        )
    before = _bytes(db_path)
    with pytest.raises(StorageError, match=r"schema version 99, newer") as raised:
        await Store.open(db_path)
    assert str(db_path) in str(raised.value)
    assert _bytes(db_path) == before


async def test_reads_use_a_connection_that_cannot_write(store: Store) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await store.db.fetchall("INSERT INTO meta (key, value) VALUES ('a', '1')")


async def test_unknown_synchronous_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="synchronous"):
        await Database.open(tmp_path / "data" / "x.db", synchronous="SOMETIMES")
    assert _names(tmp_path) == []
