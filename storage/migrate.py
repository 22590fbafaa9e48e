"""Numbered schema migrations (`migrations/NNNN_name.sql`), applied in order at
start, each in its own transaction together with its row in `schema_migrations`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, by version; numbers must be 1, 2, 3, ..."""
    migrations = []
    for path in directory.glob("*.sql"):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"Migration file {path} is not named like 0001_description.sql.")
        migrations.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"Migrations in {directory} are not numbered 1, 2, 3, ...: {versions}.")
    return migrations


async def current_version(conn: aiosqlite.Connection) -> int:
    """The newest applied migration, 0 for a new file. Reads only."""
    async with conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ) as cursor:
        if await cursor.fetchone() is None:
            return 0
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(conn: aiosqlite.Connection, migrations: list[Migration]) -> list[int]:
    """Apply the migrations newer than the file's version; return their numbers.

    `conn` must be in autocommit mode (isolation_level=None): the transactions
    here are explicit."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = await current_version(conn)
    applied = []
    for migration in migrations:
        if migration.version <= done:
            continue
        try:
            # The script opens the transaction itself: executescript would
            # otherwise commit a transaction opened before it.
            await conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}")
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
            await conn.execute("COMMIT")
        except Exception:
            await conn.rollback()
            raise
        applied.append(migration.version)
    return applied
