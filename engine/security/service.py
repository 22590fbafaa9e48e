"""`Security`: who may use the API and how much.

Users log in with a password for a short access JWT and a rotating refresh
JWT; scripts use API keys (`tdk_<id>_<secret>`, shown once, stored as a
SHA-256 hash). Both resolve to a `Principal`. Keys and users are held in
memory (they are few) so authenticating a request never touches the disk;
every change is written through the store before it is acknowledged.

The `keys` and `users` commands change the database while a server runs.
So that a new key works on its first request, a key id the memory does not
know is looked up in the store before it is refused. So that a revocation
applies at once, every change also rewrites a small marker file beside the
database (`<db>.security`); each authentication compares the marker's
modification time (one `stat`) and reads keys and users again when it moved.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from config.models import ServerSettings
from engine.clock import Clock
from engine.errors import Conflict, InvalidRequest
from engine.security import passwords, tokens
from engine.security.limiter import Limiter
from engine.security.models import (
    ApiKeyInfo,
    AuditEntry,
    AuthenticationFailed,
    KeyNotFound,
    RateDecision,
    RateLimited,
    TokenPair,
    UserInfo,
    UserNotFound,
)
from engine.security.principal import Principal, Role
from engine.tasks import TaskSet
from storage.security import AuditRow, KeyRow, RefreshRow, UserRow
from storage.store import Store

log = logging.getLogger("tradedeck.security")

KEY_PREFIX = "tdk_"
_KEY = re.compile(r"^tdk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
TICKET_SECONDS = 30
# How stale the in-memory keys and users may get before they are read again
# (the CLI changes them in the database while a server runs).
RELOAD_SECONDS = 2.0
LOGIN_GROUP = "login"


@dataclass(slots=True)
class RequestAudit:
    """The request being served, for the audit entries written while serving it."""

    request_id: str | None
    recorded: bool = False


# Set by the API's audit middleware for the duration of one request.
current_request: contextvars.ContextVar[RequestAudit | None] = contextvars.ContextVar(
    "tradedeck_request", default=None
)


class Security:
    def __init__(self, store: Store, settings: ServerSettings, secret: bytes, clock: Clock) -> None:
        self._store = store.security
        self._marker = marker_path(store.db.path)
        self._marker_seen = _stamp(self._marker)
        self.settings = settings
        self._secret = secret
        self._clock = clock
        self._keys: dict[str, KeyRow] = {}
        # Full API key -> its principal, for keys that authenticated: a dict
        # lookup instead of parse, hash and compare per request. Emptied
        # whenever `_keys` changes, so a revocation applies at once.
        self._key_principals: dict[str, Principal] = {}
        self._users: dict[str, UserRow] = {}
        self._revoked_families: set[str] = set()
        # Single-use WebSocket tickets: ticket -> (principal, expiry).
        self._tickets: dict[str, tuple[Principal, datetime]] = {}
        self._refresh_lock = asyncio.Lock()
        self._loaded_at = clock.monotonic()
        # Bumped by every change made here, so a reload that raced one is dropped.
        self._generation = 0
        self._reloads = TaskSet("security", self._reload_failed)
        self._limiter = Limiter(self._store, clock, settings.rate_limits.window_seconds)
        self._rules = EndpointRules()

    @classmethod
    async def open(
        cls, store: Store, settings: ServerSettings, *, secret_path: Path, clock: Clock
    ) -> Security:
        """Load keys, users, revoked sessions and the current rate-limit window;
        create the signing secret on first start (refusing a file others can read)."""
        security = cls(store, settings, tokens.load_secret(secret_path), clock)
        await security._load()
        return security

    async def _load(self) -> None:
        await self.reload()
        await self._limiter.load(longest=3600)

    async def reload(self) -> None:
        """Read keys, users and revoked sessions again, picking up changes made
        by another process (the `keys`/`users` commands)."""
        generation = self._generation
        keys = {row.id: row for row in await self._store.keys()}
        users = {row.name: row for row in await self._store.users()}
        revoked = await self._store.revoked_families(since=self._family_horizon())
        self._loaded_at = self._clock.monotonic()
        if generation == self._generation:
            self._keys, self._users, self._revoked_families = keys, users, revoked
            self._key_principals.clear()

    def _family_horizon(self) -> datetime:
        # Access tokens die with their refresh family. Only families revoked
        # within an access token's life can matter; this margin is generous.
        return self._clock.now() - timedelta(days=self.settings.refresh_token_days + 1)

    def _changed(self) -> None:
        self._generation += 1
        self._key_principals.clear()
        self._touch_marker()

    def _touch_marker(self) -> None:
        """Tell every other process serving this database that keys or users
        changed. The stamp is not taken as seen here: another process may have
        written within the same clock tick, so the next request reads again."""
        try:
            self._marker.write_text(secrets.token_hex(8))
        except OSError as error:
            log.warning("cannot write the security marker %s: %s", self._marker, error)

    async def _reload_if_marked(self) -> None:
        stamp = _stamp(self._marker)
        if stamp != self._marker_seen:
            self._marker_seen = stamp
            await self.reload()

    def _reload_if_stale(self) -> None:
        """Start a background reload when the cache is older than RELOAD_SECONDS."""
        if self._reloads:
            return
        if self._clock.monotonic() - self._loaded_at < RELOAD_SECONDS:
            return
        self._loaded_at = self._clock.monotonic()
        self._reloads.spawn(self.reload(), "reload")

    def _reload_failed(self, _task: asyncio.Task[None], error: BaseException) -> None:
        log.warning("reloading keys and users failed: %s", error)

    async def close(self) -> None:
        """Save the rate-limit counters; the store itself is closed by its owner."""
        await self._reloads.stop()
        await self._limiter.flush()

    @property
    def has_credentials(self) -> bool:
        """Whether any user or active key exists (serving off-loopback needs one)."""
        return bool(self._users) or any(k.revoked_at is None for k in self._keys.values())

    # --- authentication ------------------------------------------------------

    async def authenticate(self, token: str) -> Principal | None:
        """The caller behind an API key or a JWT access token; None if invalid,
        expired or revoked."""
        await self._reload_if_marked()
        self._reload_if_stale()
        if token.startswith(KEY_PREFIX):
            principal = self._key_principals.get(token)
            if principal is None:
                principal = await self._key_principal(token)
                if principal is not None:
                    self._key_principals[token] = principal
            return principal
        return self._access_principal(token)

    async def _key_principal(self, key: str) -> Principal | None:
        match = _KEY.match(key)
        if match is None:
            return None
        row = self._keys.get(match[1])
        if row is None:
            # Made by another process since the last reload: ask the store.
            row = await self._store.key(match[1])
            if row is not None:
                self._keys[row.id] = row
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(_hash_key(key), row.key_hash):
            return None
        accounts = None if row.accounts is None else frozenset(row.accounts)
        return Principal(
            kind="key",
            name=row.name or row.prefix,
            role=Role(row.role),
            accounts=accounts,
            key_id=row.id,
        )

    def _access_principal(self, token: str) -> Principal | None:
        claims = tokens.decode(self._secret, token, typ=tokens.ACCESS, now=self._clock.now())
        if claims is None or claims["fam"] in self._revoked_families:
            return None
        user = self._users.get(claims["sub"])
        if user is None:
            return None
        # The user's current role: a demotion applies to tokens already issued.
        return Principal(kind="user", name=user.name, role=Role(user.role))

    # --- API keys ------------------------------------------------------------

    async def create_key(
        self, *, role: Role, name: str = "", accounts: list[str] | None = None
    ) -> tuple[ApiKeyInfo, str]:
        """A new key: its description and the full key, which is never shown again."""
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        row = KeyRow(
            id=key_id,
            prefix=f"{KEY_PREFIX}{key_id}",
            key_hash=_hash_key(key),
            name=name,
            role=Role(role).value,
            accounts=None if accounts is None else tuple(dict.fromkeys(accounts)),
            created_at=self._clock.now(),
        )
        await self._store.save_key(row)
        self._keys[key_id] = row
        self._changed()
        return _key_info(row), key

    async def list_keys(self) -> list[ApiKeyInfo]:
        return [_key_info(row) for row in self._keys.values()]

    def key(self, key_id: str) -> ApiKeyInfo:
        row = self._keys.get(key_id)
        if row is None:
            raise KeyNotFound(key_id)
        return _key_info(row)

    async def revoke_key(self, key_id: str) -> ApiKeyInfo:
        """Revoke a key (it stops working at once); revoking twice is a conflict."""
        row = self._keys.get(key_id)
        if row is None:
            raise KeyNotFound(key_id)
        if row.revoked_at is not None:
            raise Conflict(f"The API key {row.prefix} is already revoked.", key_id=key_id)
        revoked = replace(row, revoked_at=self._clock.now())
        await self._store.save_key(revoked)
        self._keys[key_id] = revoked
        self._changed()
        return _key_info(revoked)

    # --- users ---------------------------------------------------------------

    async def add_user(self, name: str, password: str, role: Role) -> UserInfo:
        if not _USERNAME.match(name):
            raise InvalidRequest(
                f"{name!r} is not a valid user name: letters, digits and . _ @ - (up to 64).",
                name=name,
            )
        if name in self._users:
            raise Conflict(f"A user named {name!r} already exists.", name=name)
        now = self._clock.now()
        row = UserRow(name, Role(role).value, await _hash(password), now, now)
        await self._store.save_user(row)
        self._users[name] = row
        self._changed()
        return _user_info(row)

    async def list_users(self) -> list[UserInfo]:
        return [_user_info(row) for row in sorted(self._users.values(), key=lambda u: u.name)]

    async def remove_user(self, name: str) -> UserInfo:
        """Remove a user and end every session they have."""
        row = self._user(name)
        await self._store.delete_user(name, self._clock.now())
        self._revoked_families = await self._store.revoked_families(since=self._family_horizon())
        self._users.pop(name, None)
        self._changed()
        return _user_info(row)

    async def set_password(self, name: str, password: str) -> UserInfo:
        """Change a password; every session of the user ends."""
        row = self._user(name)
        now = self._clock.now()
        changed = replace(row, password_hash=await _hash(password), updated_at=now)
        await self._store.save_user(changed)
        await self._store.revoke_user_families(name, now, "password changed")
        self._revoked_families = await self._store.revoked_families(since=self._family_horizon())
        self._users[name] = changed
        self._changed()
        return _user_info(changed)

    def user(self, name: str) -> UserInfo:
        return _user_info(self._user(name))

    async def set_role(self, name: str, role: Role) -> UserInfo:
        """Change a user's role; it applies to their tokens already issued."""
        changed = replace(self._user(name), role=Role(role).value, updated_at=self._clock.now())
        await self._store.save_user(changed)
        self._users[name] = changed
        self._changed()
        return _user_info(changed)

    def _user(self, name: str) -> UserRow:
        row = self._users.get(name)
        if row is None:
            raise UserNotFound(name)
        return row

    # --- login and tokens ----------------------------------------------------

    async def login(self, username: str, password: str, client: str) -> TokenPair:
        """A token pair for a correct password. Failed attempts are counted per
        user name and per client address; past the limit, RateLimited."""
        await self._reload_if_marked()
        limit = self.settings.rate_limits.login_attempts
        subjects = (f"user:{username}", f"ip:{client}")
        for subject in subjects:
            decision = self._limiter.peek(subject, LOGIN_GROUP, limit)
            if not decision.allowed:
                raise RateLimited(
                    "Too many failed logins; try again later.", retry_after=decision.retry_after
                )
        user = self._users.get(username)
        stored = user.password_hash if user is not None else passwords.dummy_hash()
        valid = await asyncio.to_thread(passwords.verify_password, password, stored)
        if user is None or not valid:
            for subject in subjects:
                self._limiter.hit(subject, LOGIN_GROUP, limit)
            raise AuthenticationFailed("Wrong user name or password.")
        return await self._issue(user, family=secrets.token_hex(16), used=None)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair. Each refresh token works once:
        presenting a used one again means it was stolen, so every token of its
        family (the original login's) is revoked."""
        now = self._clock.now()
        claims = tokens.decode(self._secret, refresh_token, typ=tokens.REFRESH, now=now)
        if claims is None:
            raise AuthenticationFailed("The refresh token is invalid or expired.")
        async with self._refresh_lock:
            row = await self._store.refresh_token(claims["jti"])
            # The database, not the cache, says whether a family is revoked.
            if (
                row is None
                or row.family != claims["fam"]
                or await self._store.family_revoked(row.family)
            ):
                raise AuthenticationFailed("The refresh token is invalid or revoked.")
            if row.used_at is not None:
                await self._revoke_family(row.family, "refresh token reused")
                log.warning(
                    "refresh token reuse for %s: family %s revoked", row.username, row.family
                )
                raise AuthenticationFailed(
                    "The refresh token was already used; every session from that login is revoked."
                )
            user = self._users.get(row.username)
            if user is None:
                raise AuthenticationFailed("The user no longer exists.")
            return await self._issue(user, family=row.family, used=row.jti)

    async def _issue(self, user: UserRow, *, family: str, used: str | None) -> TokenPair:
        now = self._clock.now()
        access_life = timedelta(minutes=self.settings.access_token_minutes)
        refresh_life = timedelta(days=self.settings.refresh_token_days)
        refresh = RefreshRow(
            jti=secrets.token_hex(16),
            family=family,
            username=user.name,
            issued_at=now,
            expires_at=now + refresh_life,
        )
        await self._store.add_refresh(refresh, used=used)
        base = {"sub": user.name, "role": user.role, "fam": family, "iat": int(now.timestamp())}
        access = {
            **base,
            "typ": tokens.ACCESS,
            "jti": secrets.token_hex(16),
            "exp": int((now + access_life).timestamp()),
        }
        refresh_claims = {
            **base,
            "typ": tokens.REFRESH,
            "jti": refresh.jti,
            "exp": int(refresh.expires_at.timestamp()),
        }
        return TokenPair(
            access_token=tokens.encode(self._secret, access),
            refresh_token=tokens.encode(self._secret, refresh_claims),
            expires_in=int(access_life.total_seconds()),
            refresh_expires_in=int(refresh_life.total_seconds()),
        )

    async def _revoke_family(self, family: str, reason: str) -> None:
        await self._store.revoke_family(family, self._clock.now(), reason)
        self._revoked_families.add(family)
        self._changed()

    # --- WebSocket tickets ---------------------------------------------------

    async def issue_ws_ticket(self, principal: Principal) -> str:
        """A single-use ticket for opening the stream within 30 s (browsers
        cannot set headers on a WebSocket; a long-lived token must not go in a URL)."""
        now = self._clock.now()
        live = self._tickets
        for ticket in [t for t, (_, expiry) in live.items() if expiry <= now]:
            del live[ticket]
        ticket = secrets.token_urlsafe(32)
        live[ticket] = (principal, now + timedelta(seconds=TICKET_SECONDS))
        return ticket

    async def redeem_ws_ticket(self, ticket: str) -> Principal | None:
        entry = self._tickets.pop(ticket, None)
        if entry is None or entry[1] <= self._clock.now():
            return None
        return entry[0]

    # --- rate limits ---------------------------------------------------------

    async def rate_limit(
        self, key: str, group: str, role: Role | None, endpoint: str | None = None
    ) -> RateDecision:
        """Count one request of `key` (a principal's rate key or a client
        address) to an endpoint group, to its endpoint's own limit where one is
        set (`endpoint`: "METHOD /path" after the API prefix), and to the key's
        hourly allowance. Refused when any is spent (and then counted in none);
        else the decision with the least left."""
        limits = self.settings.rate_limits
        factor = limits.admin_multiplier if role is Role.ADMIN else 1
        minute = limits.window_seconds
        checks = [(group, self.limit_for(group, role), minute)]
        if limits.endpoints and endpoint:
            rule = self._rules.find(limits.endpoints, endpoint)
            if rule is not None:
                checks.append((f"endpoint:{rule}", limits.endpoints[rule] * factor, minute))
        if limits.hourly is not None:
            checks.append(("hourly", limits.hourly * factor, 3600))
        return self._limiter.hit_all(key, checks)

    def limit_for(self, group: str, role: Role | None) -> int:
        limits = self.settings.rate_limits
        limit = limits.groups.get(group, limits.default)
        return limit * limits.admin_multiplier if role is Role.ADMIN else limit

    # --- audit ---------------------------------------------------------------

    def audit(
        self,
        principal: Principal | None,
        action: str,
        target: str,
        outcome: str,
        /,
        **details: Any,
    ) -> asyncio.Future[None]:
        """Record an action (`outcome` is `ok` or an error code); the future
        resolves once it is committed."""
        request = current_request.get()
        if request is not None:
            request.recorded = True
        actor, kind = _actor(principal)
        row = AuditRow(
            time=self._clock.now(),
            actor=actor,
            actor_kind=kind,
            role=None if principal is None else principal.role.value,
            action=action,
            target=target,
            outcome=outcome,
            request_id=None if request is None else request.request_id,
            details=details,
        )
        return self._store.add_audit(row)

    async def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        skip: int = 0,
        limit: int = 50,
        oldest_first: bool = False,
    ) -> tuple[list[AuditEntry], int]:
        """Newest first (unless `oldest_first`), with the number of entries
        matching the filters."""
        rows, total = await self._store.audit(
            actor=actor,
            action=action,
            since=since,
            skip=skip,
            limit=limit,
            oldest_first=oldest_first,
        )
        return [
            AuditEntry(
                id=row.id or 0,
                time=row.time,
                actor=row.actor,
                actor_kind=row.actor_kind,
                role=None if row.role is None else Role(row.role),
                action=row.action,
                target=row.target,
                outcome=row.outcome,
                request_id=row.request_id,
                details=row.details,
            )
            for row in rows
        ], total


def marker_path(db_path: Path) -> Path:
    """The file whose every rewrite says that keys or users changed."""
    return db_path.with_name(db_path.name + ".security")


def _stamp(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _actor(principal: Principal | None) -> tuple[str, str]:
    """Who the audit log names: a key by its prefix (its name is free text), a
    user by name."""
    if principal is None:
        return "anonymous", "anonymous"
    if principal.kind == "key" and principal.key_id is not None:
        return f"{KEY_PREFIX}{principal.key_id}", "key"
    return principal.name, principal.kind


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"A password needs at least {MIN_PASSWORD} characters.")
    # scrypt takes tens of milliseconds: off the event loop.
    return await asyncio.to_thread(passwords.hash_password, password)


def _key_info(row: KeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        role=Role(row.role),
        accounts=None if row.accounts is None else list(row.accounts),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _user_info(row: UserRow) -> UserInfo:
    return UserInfo(
        name=row.name, role=Role(row.role), created_at=row.created_at, updated_at=row.updated_at
    )


class EndpointRules:
    """Which `[server.rate_limits] endpoints` rule a request falls under
    (`"POST /orders"`, `*` one segment), remembered per endpoint: the rules
    are parsed once per settings, each endpoint matched once."""

    _KEPT = 4096  # endpoints remembered (ids in paths make many)

    def __init__(self) -> None:
        self._source: Mapping[str, int] | None = None
        self._parsed: list[tuple[str, str, tuple[str, ...]]] = []
        self._found: dict[str, str | None] = {}

    def find(self, rules: Mapping[str, int], endpoint: str) -> str | None:
        if rules is not self._source:
            self._source = rules
            self._parsed = [
                (rule, method, tuple(path.strip("/").split("/")))
                for rule in rules
                for method, _, path in [rule.partition(" ")]
            ]
            self._found = {}
        try:
            return self._found[endpoint]
        except KeyError:
            pass
        method, _, path = endpoint.partition(" ")
        segments = tuple(path.strip("/").split("/"))
        found = next(
            (
                rule
                for rule, rule_method, pattern in self._parsed
                if rule_method == method
                and len(pattern) == len(segments)
                and all(p in ("*", s) for p, s in zip(pattern, segments, strict=True))
            ),
            None,
        )
        if len(self._found) >= self._KEPT:
            self._found.clear()
        self._found[endpoint] = found
        return found
