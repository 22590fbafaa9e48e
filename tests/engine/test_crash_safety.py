"""kill -9 in the middle of trading loses nothing that was acknowledged.

The real engine runs in a subprocess on the real clock and the demo market;
the test reads what it committed, kills it without warning, starts it again,
and checks the store: every acknowledged order and fill is still there, the
ledger invariants hold, and the workers that were meant to run run again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.loader import load_settings
from storage.store import Store
from tests.engine.ledger_checks import assert_ledgers_exact

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _start_engine(db: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "engine running", process.stderr.read() if process.stderr else line
    return process


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _wait_for(db: Path, sql: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = _count(db, sql)
        if count >= at_least:
            return count
        time.sleep(0.2)
    raise AssertionError(f"{sql!r} stayed below {at_least}")


async def test_kill_9_mid_trading_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    settings = load_settings(None, env={})
    store = await Store.open(db, settings.storage)
    await store.accounts.set_desired("account-004", False)  # meant to stay stopped
    await store.close()

    process = _start_engine(db)
    try:
        _wait_for(db, "select count(*) from fills", 6)
        with sqlite3.connect(db) as conn:
            acknowledged_orders = {r[0] for r in conn.execute("select ticket from orders")}
            acknowledged_fills = {r[0] for r in conn.execute("select ticket from fills")}
        await asyncio.sleep(0.5)  # keep trading while we kill it
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL

    started_before = _count(
        db, "select count(*) from event_log where message like 'worker started%'"
    )
    process = _start_engine(db)
    try:
        _wait_for(
            db,
            "select count(*) from event_log where message like 'worker started%'",
            started_before + 3,
        )
        await asyncio.sleep(1.0)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0

    with sqlite3.connect(db) as conn:
        orders = {r[0] for r in conn.execute("select ticket from orders")}
        fills = {r[0] for r in conn.execute("select ticket from fills")}
        restarted = {
            r[0]
            for r in conn.execute(
                "select account_id from event_log where message like 'worker started%' "
                "order by rowid desc limit 3"
            )
        }
    assert acknowledged_orders <= orders
    assert acknowledged_fills <= fills
    assert restarted == {"account-001", "account-002", "account-003"}

    store = await Store.open(db, settings.storage)
    try:
        assert await assert_ledgers_exact(store, settings) >= len(acknowledged_fills)
        assert (await store.accounts.desired()).get("account-004") is False
    finally:
        await store.close()
