"""The security service on its own database: what survives closing and
reopening it (keys, users, refresh families, rate-limit counters, the audit
log), the signing secret's file, and the limits of a login."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.models import RateLimitSettings, ServerSettings
from engine.clock import VirtualClock
from engine.security.models import AuthenticationFailed, InsecureSecret, RateLimited
from engine.security.principal import Role
from engine.security.service import Security
from storage.store import Store
from tests.conftest import FROZEN_START

PASSWORD = "correct horse battery"
SETTINGS = ServerSettings(
    rate_limits=RateLimitSettings(default=5, groups={}, login_attempts=2, window_seconds=60)
)

Opener = Callable[[], Awaitable[Security]]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(FROZEN_START)


@pytest.fixture
async def reopen(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Opener]:
    """Open the service on the same database file and clock, closing the
    previous one (service and store) first: a restart."""
    opened: list[tuple[Security, Store]] = []

    async def close_last() -> None:
        if opened:
            security, store = opened.pop()
            await security.close()
            await store.close()

    async def open_again() -> Security:
        await close_last()
        store = await Store.open(tmp_path / "security.db")
        try:
            security = await Security.open(
                store, SETTINGS, secret_path=tmp_path / "jwt.secret", clock=clock
            )
        except BaseException:
            await store.close()
            raise
        opened.append((security, store))
        return security

    yield open_again
    await close_last()


async def test_keys_and_users_survive_a_restart(reopen: Opener) -> None:
    security = await reopen()
    assert not security.has_credentials
    info, key = await security.create_key(role=Role.TRADER, name="bot", accounts=["account-001"])
    _, revoked = await security.create_key(role=Role.ADMIN)
    await security.revoke_key(revoked.split("_")[1])
    await security.add_user("alice", PASSWORD, Role.VIEWER)

    security = await reopen()
    assert security.has_credentials
    principal = await security.authenticate(key)
    assert principal is not None
    assert (principal.role, principal.accounts, principal.key_id) == (
        Role.TRADER,
        frozenset({"account-001"}),
        info.id,
    )
    assert await security.authenticate(revoked) is None
    assert [u.name for u in await security.list_users()] == ["alice"]
    assert (await security.login("alice", PASSWORD, "10.0.0.1")).access_token


async def test_refresh_families_survive_a_restart(reopen: Opener) -> None:
    security = await reopen()
    await security.add_user("alice", PASSWORD, Role.TRADER)
    first = await security.login("alice", PASSWORD, "10.0.0.1")
    second = await security.refresh(first.refresh_token)

    security = await reopen()
    # Still valid after the restart: the newest refresh token rotates.
    third = await security.refresh(second.refresh_token)
    assert await security.authenticate(third.access_token) is not None
    # Reusing a token used before the restart is detected and kills the family...
    with pytest.raises(AuthenticationFailed):
        await security.refresh(first.refresh_token)
    with pytest.raises(AuthenticationFailed):
        await security.refresh(third.refresh_token)

    # ...and the revocation itself survives the next restart.
    security = await reopen()
    assert await security.authenticate(third.access_token) is None
    with pytest.raises(AuthenticationFailed):
        await security.refresh(third.refresh_token)


async def test_an_old_but_active_family_stays_revoked_after_a_restart(
    reopen: Opener, clock: VirtualClock
) -> None:
    """A family outlives `refresh_token_days` when it keeps rotating; its
    revocation must still hold after a restart."""
    security = await reopen()
    await security.add_user("alice", PASSWORD, Role.TRADER)
    pairs = [await security.login("alice", PASSWORD, "10.0.0.1")]
    for _ in range(4):
        await clock.advance(3 * 86400)
        pairs.append(await security.refresh(pairs[-1].refresh_token))
    # Reuse of the one before last (used, not yet expired) revokes the family.
    with pytest.raises(AuthenticationFailed, match="already used"):
        await security.refresh(pairs[-2].refresh_token)

    security = await reopen()
    assert await security.authenticate(pairs[-1].access_token) is None
    with pytest.raises(AuthenticationFailed):
        await security.refresh(pairs[-1].refresh_token)


async def test_rate_counters_and_audit_log_survive_a_restart(reopen: Opener) -> None:
    security = await reopen()
    for _ in range(4):
        assert (await security.rate_limit("ip:10.0.0.9", "workers", None)).allowed
    await security.audit(None, "auth.login", "user:x", "UNAUTHORIZED", attempt=1)

    security = await reopen()
    decision = await security.rate_limit("ip:10.0.0.9", "workers", None)
    assert (decision.allowed, decision.remaining) == (True, 0)
    refused = await security.rate_limit("ip:10.0.0.9", "workers", None)
    assert not refused.allowed and refused.retry_after >= 1
    entries, total = await security.audit_log()
    assert total == 1
    assert (entries[0].action, entries[0].outcome, entries[0].details) == (
        "auth.login",
        "UNAUTHORIZED",
        {"attempt": 1},
    )


async def test_login_limits_count_per_user_and_per_address(reopen: Opener) -> None:
    security = await reopen()
    await security.add_user("alice", PASSWORD, Role.VIEWER)
    await security.add_user("bob", PASSWORD, Role.VIEWER)
    for address in ("10.0.0.1", "10.0.0.2"):
        with pytest.raises(AuthenticationFailed):
            await security.login("alice", "a wrong guess", address)
    # alice is locked from any address; bob from a fresh address is not.
    with pytest.raises(RateLimited) as limited:
        await security.login("alice", PASSWORD, "10.0.0.3")
    assert limited.value.retry_after >= 1
    assert (await security.login("bob", PASSWORD, "10.0.0.3")).access_token
    # An address that failed twice is locked for every user.
    for name in ("carol", "dave"):
        with pytest.raises(AuthenticationFailed):
            await security.login(name, "whatever it is", "10.0.0.4")
    with pytest.raises(RateLimited):
        await security.login("bob", PASSWORD, "10.0.0.4")


async def test_only_hashes_reach_the_disk(tmp_path: Path, reopen: Opener) -> None:
    security = await reopen()
    await security.add_user("alice", PASSWORD, Role.VIEWER)
    await security.add_user("bob", PASSWORD, Role.VIEWER)
    _, key = await security.create_key(role=Role.VIEWER)
    with contextlib.closing(sqlite3.connect(tmp_path / "security.db")) as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
        key_hash, prefix = db.execute("SELECT key_hash, prefix FROM api_keys").fetchone()
    assert key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(f"{prefix}_")
    assert all(h.startswith("scrypt$16384$8$1$") for h in hashes)
    assert hashes[0] != hashes[1]  # the salt differs
    assert all(PASSWORD not in h for h in hashes)


async def test_the_secret_file_is_created_private_and_loose_ones_are_refused(
    tmp_path: Path, reopen: Opener
) -> None:
    secret = tmp_path / "jwt.secret"
    await reopen()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    content = secret.read_text()
    assert len(bytes.fromhex(content.strip())) == 64

    await reopen()
    assert secret.read_text() == content  # kept, not regenerated

    secret.chmod(0o644)
    with pytest.raises(InsecureSecret, match="chmod 600"):
        await reopen()
