"""`tradedeck keys ...` and `tradedeck users ...` on a real database file, and
a running server picking up what they change."""

from __future__ import annotations

import argparse
import asyncio
import io
import sqlite3
from pathlib import Path

import pytest

from config.loader import load_settings
from engine.security import cli as security_cli
from engine.security.service import RELOAD_SECONDS
from tests.api.conftest import Api
from tui.cli import main

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def run(db: Path, *argv: str) -> int:
    return main([*argv, "--db", str(db)])


def audit(db: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT actor_kind, action, target, outcome FROM audit_log ORDER BY id")
        return [tuple(row) for row in rows]


def test_keys_create_list_revoke(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = "account-001,account-002"
    assert (
        run(db, "keys", "create", "--role", "trader", "--name", "bot", "--accounts", accounts) == 0
    )
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("tdk_") and "\n" not in key  # the key alone on stdout
    key_id = key.split("_")[1]
    assert f"tdk_{key_id}" in out.err and "shown only once" in out.err

    assert run(db, "keys", "list") == 0
    listing = capsys.readouterr().out
    assert f"tdk_{key_id}" in listing and "trader" in listing and "active" in listing
    assert "account-001,account-002" in listing and "bot" in listing
    assert key not in listing

    assert run(db, "keys", "revoke", key_id) == 0
    assert "Revoked" in capsys.readouterr().out
    assert run(db, "keys", "list") == 0
    assert "revoked" in capsys.readouterr().out
    assert run(db, "keys", "revoke", key_id) == 1
    assert "already revoked" in capsys.readouterr().err
    assert run(db, "keys", "revoke", "000000000000") == 1
    assert "No API key" in capsys.readouterr().err
    assert audit(db) == [
        ("local", "api_key.create", f"api_key:{key_id}", "ok"),
        ("local", "api_key.revoke", f"api_key:{key_id}", "ok"),
        ("local", "api_key.revoke", f"api_key:{key_id}", "CONFLICT"),
        ("local", "api_key.revoke", "api_key:000000000000", "NOT_FOUND"),
    ]


def test_keys_create_refuses_unknown_accounts_and_roles(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(db, "keys", "create", "--role", "viewer", "--accounts", "account-999") == 1
    assert "account-999" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(db, "keys", "create", "--role", "root")
    assert run(db, "keys", "list") == 0
    assert "No API keys" in capsys.readouterr().err


def test_users_add_list_passwd_remove(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert run(db, "users", "add", "alice", "--role", "admin", "--password-stdin") == 0
    assert "Added alice (admin)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert run(db, "users", "add", "alice", "--role", "viewer", "--password-stdin") == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run(db, "users", "add", "bob", "--role", "viewer", "--password-stdin") == 1
    assert "at least 8" in capsys.readouterr().err

    assert run(db, "users", "list") == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "admin" in listing and "bob" not in listing

    # The prompt asks twice; different answers change nothing.
    answers = iter(["new password one", "new password two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run(db, "users", "passwd", "alice") == 1
    assert "differ" in capsys.readouterr().err
    answers = iter(["new password one", "new password one"])
    assert run(db, "users", "passwd", "alice") == 0
    assert run(db, "users", "passwd", "ghost") == 1
    assert "No user named 'ghost'" in capsys.readouterr().err

    assert run(db, "users", "remove", "alice") == 0
    assert run(db, "users", "remove", "alice") == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone() == (0,)
    assert [(action, outcome) for _, action, _, outcome in audit(db)] == [
        ("user.add", "ok"),
        ("user.add", "CONFLICT"),
        ("user.add", "INVALID_REQUEST"),
        ("user.passwd", "INVALID_REQUEST"),
        ("user.passwd", "ok"),
        ("user.passwd", "NOT_FOUND"),
        ("user.remove", "ok"),
        ("user.remove", "NOT_FOUND"),
    ]


def test_the_secret_file_sits_next_to_the_database(db: Path) -> None:
    assert run(db, "users", "list") == 0
    secret = db.with_name("cli.jwt-secret")
    assert secret.exists() and secret.stat().st_mode & 0o777 == 0o600


async def test_a_running_server_picks_up_cli_changes(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    security_cli.add_commands(commands, lambda p: p.set_defaults(config=None, db=None))
    db_path = api.engine.store.db.path

    async def cli(*argv: str) -> None:
        args = parser.parse_args(argv)
        settings = load_settings(None, env={})
        assert await security_cli.run(args, settings, db_path, api.secret_path) == 0

    await cli("keys", "create", "--role", "viewer")
    key = capsys.readouterr().out.strip()
    client = api.client()
    client.headers["X-API-Key"] = key
    assert (await client.get("/api/v1/auth/me")).status_code == 401  # not loaded yet
    await api.security.reload()
    assert (await client.get("/api/v1/auth/me")).status_code == 200

    # Without an explicit reload: once the cache is stale a request refreshes it.
    await cli("keys", "revoke", key.split("_")[1])
    await api.engine.clock.advance(RELOAD_SECONDS)
    statuses = []
    async with asyncio.timeout(5):
        while not statuses or statuses[-1] != 401:
            statuses.append((await client.get("/api/v1/auth/me")).status_code)
            await asyncio.sleep(0.01)
    assert set(statuses) <= {200, 401}
