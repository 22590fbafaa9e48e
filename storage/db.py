"""One SQLite file in WAL mode: a write connection owned by the `Writer` task
and a separate read connection, so reads never wait behind a batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from storage.errors import StorageError
from storage.migrate import Migration, current_version, discover, migrate
from storage.writer import Writer

__all__ = ["Database", "StorageError"]

_SQLITE_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 5000


class Database:
    def __init__(
        self,
        path: Path,
        writer: Writer,
        write_conn: aiosqlite.Connection,
        read_conn: aiosqlite.Connection,
    ) -> None:
        self.path = path
        self.writer = writer
        self._write_conn = write_conn
        self._read_conn = read_conn
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: str = "FULL",
        batch_max: int = 2000,
        migrations: list[Migration] | None = None,
    ) -> Database:
        """Open (or create) the file, bring its schema up to date, start the writer.

        A file that is not SQLite, or whose schema is newer than this version
        knows, raises StorageError and is left untouched."""
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StorageError(f"Unknown synchronous setting {synchronous!r} for {path}.")
        path = Path(path)
        known = discover() if migrations is None else migrations
        _check_header(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"Cannot create the folder for the database {path}: {error}."
            ) from error
        write_conn = await _connect(path, read_only=False)
        try:
            await _check_version(write_conn, path, known)
            await _configure(write_conn, path, synchronous.upper())
            await migrate(write_conn, known)
            read_conn = await _connect(path, read_only=True)
        except sqlite3.Error as error:
            await write_conn.close()
            raise StorageError(f"Cannot open the database {path}: {error}.") from error
        except BaseException:
            await write_conn.close()
            raise
        writer = Writer(write_conn, path, batch_max=batch_max)
        writer.start()
        return cls(path, writer, write_conn, read_conn)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        rows = await self._read_conn.execute_fetchall(sql, params)
        return list(rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._read_conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def close(self) -> None:
        """Commit everything submitted, then close both connections."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.writer.close()
        finally:
            await self._read_conn.close()
            await self._write_conn.close()


def _check_header(path: Path) -> None:
    """Refuse a file that exists and is not SQLite, before SQLite touches it."""
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError as error:
        raise StorageError(f"The database path {path} is a folder, not a file.") from error
    except OSError as error:
        raise StorageError(f"Cannot read the database {path}: {error}.") from error
    if header and header != _SQLITE_HEADER:
        raise StorageError(
            f"The file {path} is not a SQLite database; tradedeck left it as it is. "
            "Point --db at another file."
        )


async def connect_reader(path: Path) -> aiosqlite.Connection:
    """A read-only connection of the caller's own (a long read that should not
    hold the shared one); the caller closes it."""
    return await _connect(path, read_only=True)


async def _connect(path: Path, *, read_only: bool) -> aiosqlite.Connection:
    try:
        # Autocommit mode: the writer and the migrations open transactions themselves.
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise StorageError(f"Cannot open the database {path}: {error}.") from error
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    if read_only:
        await conn.execute("PRAGMA query_only = ON")
    return conn


async def _check_version(conn: aiosqlite.Connection, path: Path, known: list[Migration]) -> None:
    """Read the schema version before changing anything in the file."""
    version = await current_version(conn)
    newest = known[-1].version if known else 0
    if version > newest:
        raise StorageError(
            f"The database {path} has schema version {version}, newer than this tradedeck "
            f"knows ({newest}); it was written by a newer version. Upgrade tradedeck or "
            "use another database file."
        )


async def _configure(conn: aiosqlite.Connection, path: Path, synchronous: str) -> None:
    async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        raise StorageError(f"The database {path} cannot use write-ahead logging (WAL).")
    await conn.execute(f"PRAGMA synchronous = {synchronous}")
    await conn.execute("PRAGMA foreign_keys = ON")
