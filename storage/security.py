"""Users, API keys, refresh-token families, rate-limit counters and the audit
log. Rows here are plain records; `engine.security` turns them into the API's
models. Only hashes are stored, never a password or a key."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.codec import parse_timestamp, timestamp
from storage.db import Database
from storage.writer import Op


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    prefix: str
    key_hash: str
    name: str
    role: str
    accounts: tuple[str, ...] | None
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefreshRow:
    jti: str
    family: str
    username: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CounterRow:
    subject: str
    group: str
    window_start: int
    count: int


@dataclass(frozen=True, slots=True)
class AuditRow:
    time: datetime
    actor: str
    actor_kind: str
    role: str | None
    action: str
    target: str
    outcome: str
    request_id: str | None
    details: dict[str, Any]
    id: int | None = None


_UPSERT_USER = (
    "INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
    "password_hash = excluded.password_hash, updated_at = excluded.updated_at"
)
_UPSERT_KEY = (
    "INSERT INTO api_keys (id, prefix, key_hash, name, role, accounts, created_at, revoked_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET revoked_at = excluded.revoked_at"
)
_INSERT_FAMILY = (
    "INSERT OR IGNORE INTO refresh_families (family, username, created_at) VALUES (?, ?, ?)"
)
_INSERT_REFRESH = (
    "INSERT INTO refresh_tokens (jti, family, username, issued_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_USE_REFRESH = "UPDATE refresh_tokens SET used_at = ? WHERE jti = ? AND used_at IS NULL"
_REVOKE_FAMILY = (
    "UPDATE refresh_families SET revoked_at = ?, reason = ? WHERE family = ? AND revoked_at IS NULL"
)
_REVOKE_USER_FAMILIES = (
    "UPDATE refresh_families SET revoked_at = ?, reason = ? "
    "WHERE username = ? AND revoked_at IS NULL"
)
_UPSERT_COUNTER = (
    "INSERT INTO rate_counters (subject, grp, window_start, count) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (subject, grp) DO UPDATE SET "
    "window_start = excluded.window_start, count = excluded.count"
)
_INSERT_AUDIT = (
    "INSERT INTO audit_log (time, actor, actor_kind, role, action, target, outcome, "
    "request_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SecurityStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- users ---------------------------------------------------------------

    def save_user(self, user: UserRow) -> asyncio.Future[None]:
        """Insert, or update the role and password hash of an existing user."""
        params = (
            user.name,
            user.role,
            user.password_hash,
            timestamp(user.created_at),
            timestamp(user.updated_at),
        )
        return self._db.writer.submit([(_UPSERT_USER, params)])

    def delete_user(self, name: str, at: datetime) -> asyncio.Future[None]:
        """Remove the user and revoke every session they had, in one commit."""
        return self._db.writer.submit(
            [
                ("DELETE FROM users WHERE name = ?", (name,)),
                (_REVOKE_USER_FAMILIES, (timestamp(at), "user removed", name)),
            ]
        )

    async def users(self) -> list[UserRow]:
        rows = await self._db.fetchall("SELECT * FROM users ORDER BY name")
        return [
            UserRow(
                name=r["name"],
                role=r["role"],
                password_hash=r["password_hash"],
                created_at=parse_timestamp(r["created_at"]),
                updated_at=parse_timestamp(r["updated_at"]),
            )
            for r in rows
        ]

    # --- API keys ------------------------------------------------------------

    def save_key(self, key: KeyRow) -> asyncio.Future[None]:
        """Insert a key, or record its revocation (nothing else of a key changes)."""
        params = (
            key.id,
            key.prefix,
            key.key_hash,
            key.name,
            key.role,
            None if key.accounts is None else json.dumps(list(key.accounts)),
            timestamp(key.created_at),
            None if key.revoked_at is None else timestamp(key.revoked_at),
        )
        return self._db.writer.submit([(_UPSERT_KEY, params)])

    async def keys(self) -> list[KeyRow]:
        rows = await self._db.fetchall("SELECT * FROM api_keys ORDER BY created_at, id")
        return [_key(r) for r in rows]

    async def key(self, key_id: str) -> KeyRow | None:
        rows = await self._db.fetchall("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    # --- refresh tokens ------------------------------------------------------

    def add_refresh(self, token: RefreshRow, *, used: str | None = None) -> asyncio.Future[None]:
        """Record a new refresh token (and its family if new); with `used`, mark
        that token used in the same commit, which is what a rotation is."""
        ops: list[Op] = [
            (_INSERT_FAMILY, (token.family, token.username, timestamp(token.issued_at))),
            (
                _INSERT_REFRESH,
                (
                    token.jti,
                    token.family,
                    token.username,
                    timestamp(token.issued_at),
                    timestamp(token.expires_at),
                ),
            ),
        ]
        if used is not None:
            ops.insert(0, (_USE_REFRESH, (timestamp(token.issued_at), used)))
        return self._db.writer.submit(ops)

    async def refresh_token(self, jti: str) -> RefreshRow | None:
        row = await self._db.fetchone("SELECT * FROM refresh_tokens WHERE jti = ?", (jti,))
        if row is None:
            return None
        return RefreshRow(
            jti=row["jti"],
            family=row["family"],
            username=row["username"],
            issued_at=parse_timestamp(row["issued_at"]),
            expires_at=parse_timestamp(row["expires_at"]),
            used_at=_time(row["used_at"]),
        )

    def revoke_family(self, family: str, at: datetime, reason: str) -> asyncio.Future[None]:
        return self._db.writer.submit([(_REVOKE_FAMILY, (timestamp(at), reason, family))])

    def revoke_user_families(
        self, username: str, at: datetime, reason: str
    ) -> asyncio.Future[None]:
        return self._db.writer.submit([(_REVOKE_USER_FAMILIES, (timestamp(at), reason, username))])

    async def revoked_families(self, since: datetime) -> set[str]:
        """Families revoked at or after `since` (older revocations can have no
        unexpired access token left)."""
        rows = await self._db.fetchall(
            "SELECT family FROM refresh_families WHERE revoked_at >= ?", (timestamp(since),)
        )
        return {r["family"] for r in rows}

    async def family_revoked(self, family: str) -> bool:
        row = await self._db.fetchone(
            "SELECT revoked_at FROM refresh_families WHERE family = ?", (family,)
        )
        return row is None or row["revoked_at"] is not None

    # --- rate-limit counters -------------------------------------------------

    def save_counters(self, counters: Iterable[CounterRow]) -> asyncio.Future[None]:
        ops: list[Op] = [
            (_UPSERT_COUNTER, (c.subject, c.group, c.window_start, c.count)) for c in counters
        ]
        return self._db.writer.submit(ops)

    async def counters(self, since: int) -> list[CounterRow]:
        """Counters of windows that started at or after `since` (epoch seconds)."""
        rows = await self._db.fetchall(
            "SELECT * FROM rate_counters WHERE window_start >= ?", (since,)
        )
        return [CounterRow(r["subject"], r["grp"], r["window_start"], r["count"]) for r in rows]

    def prune_counters(self, before: int) -> asyncio.Future[None]:
        """Forget counters of windows that started before `before`."""
        return self._db.writer.submit(
            [("DELETE FROM rate_counters WHERE window_start < ?", (before,))]
        )

    # --- audit log -----------------------------------------------------------

    def add_audit(self, entry: AuditRow) -> asyncio.Future[None]:
        params = (
            timestamp(entry.time),
            entry.actor,
            entry.actor_kind,
            entry.role,
            entry.action,
            entry.target,
            entry.outcome,
            entry.request_id,
            json.dumps(entry.details, default=str),
        )
        return self._db.writer.submit([(_INSERT_AUDIT, params)])

    async def audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        skip: int = 0,
        limit: int = 50,
        oldest_first: bool = False,
    ) -> tuple[list[AuditRow], int]:
        """Newest first (unless `oldest_first`), with the total that matches the filters."""
        where: list[str] = []
        params: list[Any] = []
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        if since is not None:
            where.append("time >= ?")
            params.append(timestamp(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = await self._db.fetchone(f"SELECT COUNT(*) FROM audit_log{clause}", params)
        rows = await self._db.fetchall(
            f"SELECT * FROM audit_log{clause} ORDER BY id {'ASC' if oldest_first else 'DESC'} "
            "LIMIT ? OFFSET ?",
            [*params, limit, skip],
        )
        return [_audit(r) for r in rows], 0 if total is None else int(total[0])


def _key(row: sqlite3.Row) -> KeyRow:
    accounts = row["accounts"]
    return KeyRow(
        id=row["id"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        name=row["name"],
        role=row["role"],
        accounts=None if accounts is None else tuple(json.loads(accounts)),
        created_at=parse_timestamp(row["created_at"]),
        revoked_at=_time(row["revoked_at"]),
    )


def _audit(row: sqlite3.Row) -> AuditRow:
    return AuditRow(
        id=row["id"],
        time=parse_timestamp(row["time"]),
        actor=row["actor"],
        actor_kind=row["actor_kind"],
        role=row["role"],
        action=row["action"],
        target=row["target"],
        outcome=row["outcome"],
        request_id=row["request_id"],
        details=json.loads(row["details"]),
    )


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_timestamp(text)
