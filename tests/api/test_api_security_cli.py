"""`tradedeck keys ...` and `tradedeck users ...` on a real database file, and
a running server picking up what they change."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import sys
from pathlib import Path

import pytest

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


async def test_a_running_server_takes_a_new_key_at_once_and_drops_a_revoked_one(
    api: Api, tmp_path: Path
) -> None:
    """The `keys` command in a process of its own, beside a real server: the
    key it prints works on its first request, and once revoked it is refused
    on the next, with no reload in between."""
    db_path = api.engine.store.db.path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}

    async def tradedeck(*argv: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui.cli",
            *argv,
            "--db",
            str(db_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode().strip()

    key = await tradedeck("keys", "create", "--role", "viewer")
    client = api.client()
    client.headers["X-API-Key"] = key
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    assert (await client.get("/api/v1/auth/me")).status_code == 200  # and remembered

    await tradedeck("keys", "revoke", key.split("_")[1])
    refused = await client.get("/api/v1/auth/me")
    assert refused.status_code == 401, refused.text


async def test_a_running_server_logs_in_a_user_the_cli_just_added(api: Api) -> None:
    db_path = api.engine.store.db.path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui.cli",
        "users",
        "add",
        "ann",
        "--role",
        "viewer",
        "--password-stdin",
        "--db",
        str(db_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await process.communicate(f"{PASSWORD}\n".encode())
    assert process.returncode == 0, err.decode()
    login = await api.client().post(
        "/api/v1/auth/login", json={"username": "ann", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
