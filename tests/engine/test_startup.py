"""Start-up refuses before anything trades, and one engine holds a store.

Every test runs the real commands in processes of their own: `tradedeck
serve`, `tradedeck --serve` (the panel), `python -m engine`, and the
commands that must keep working beside a running engine.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TRADEDECK_ENGINE__SEED": "7"}
EXIT_WAIT = 30  # seconds a refused start may take before the test gives up on it


def tradedeck(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=EXIT_WAIT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def _traded(db: Path) -> int:
    """Orders and equity samples stored: zero for a start that was refused."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return sum(
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("orders", "fills", "equity_history")
            if table in tables
        )


@pytest.mark.parametrize("argv", [["serve"], ["--serve"]], ids=["serve", "panel --serve"])
def test_a_port_in_use_refuses_before_any_worker_starts(
    argv: list[str], taken_port: int, tmp_path: Path
) -> None:
    db = tmp_path / "td.db"
    done = tradedeck(*argv, "--db", str(db), "--port", str(taken_port))
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"cannot listen on 127.0.0.1:{taken_port}: address already in use"
    )
    assert not db.exists()  # nothing opened, so nothing traded or stored
    assert _traded(db) == 0


def test_tls_files_that_do_not_load_refuse_the_start(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    env = {**ENV, "TRADEDECK_SERVER__TLS_CERT": str(cert), "TRADEDECK_SERVER__TLS_KEY": str(key)}
    db = tmp_path / "td.db"
    done = tradedeck("serve", "--db", str(db), "--port", "0", env=env)
    assert done.returncode != 0
    assert done.stderr.startswith(f"cannot load the TLS certificate {cert} with the key {key}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not db.exists()


def test_a_store_that_cannot_open_refuses_python_m_engine(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(folder)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=EXIT_WAIT,
    )
    assert done.returncode == 1
    assert str(folder) in done.stderr and "folder" in done.stderr


def _start_engine(db: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the engine runs (or dies)
    assert line.strip() == "engine running", process.stderr.read() if process.stderr else ""
    return process


def test_a_second_engine_on_a_store_is_refused_and_the_lock_dies_with_its_holder(
    tmp_path: Path,
) -> None:
    db = tmp_path / "td.db"
    first = _start_engine(db)
    try:
        for argv in (
            [sys.executable, "-m", "engine", "--db", str(db)],
            [sys.executable, "-m", "tui.cli", "serve", "--db", str(db), "--port", "0"],
        ):
            refused = subprocess.run(
                argv, capture_output=True, text=True, env=ENV, timeout=EXIT_WAIT
            )
            assert refused.returncode == 1, refused.stderr
            message = refused.stderr.strip()
            assert message.startswith(f"The store {db} is in use by another engine")
            assert f"PID {first.pid} on {socket.gethostname()} since " in message
        # What must work beside a running engine still does.
        created = tradedeck("keys", "create", "--role", "viewer", "--db", str(db))
        assert created.returncode == 0 and created.stdout.startswith("tdk_"), created.stderr
        assert tradedeck("keys", "list", "--db", str(db)).returncode == 0
        assert tradedeck("users", "list", "--db", str(db)).returncode == 0
        assert tradedeck("validate").returncode == 0
    finally:
        first.send_signal(signal.SIGKILL)  # the OS drops the lock with the process
        first.wait(EXIT_WAIT)
    second = _start_engine(db)
    second.send_signal(signal.SIGTERM)
    assert second.wait(EXIT_WAIT) == 0
