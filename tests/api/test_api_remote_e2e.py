"""End to end: `tradedeck serve` in its own process, keys made with
`tradedeck keys create` on the same database, and the panel connected to it
through `RemoteEngineClient`, driven by a pilot."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engine.client.remote import RemoteEngineClient
from engine.models import WorkerState
from tests.e2e.serving import create_keys, serving, tradedeck
from tests.e2e.test_e2e_tmux import TRADEDECK, Terminal
from tests.tui.helpers import notifications, ready, row_keys, table, until
from tui.app import TradeDeckApp

pytestmark = pytest.mark.slow

_LISTENING = re.compile(r"tradedeck API on (http://127\.0\.0\.1:\d+)/api/v1")


@dataclass(frozen=True)
class Served:
    url: str
    keys: dict[str, str]

    def http(self, role: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{self.url}/api/v1", headers={"X-API-Key": self.keys[role]}, timeout=10.0
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo engine served headless on a free port, with a trader's and a viewer's key."""
    home = tmp_path_factory.mktemp("served")
    db = home / "engine.db"
    keys = create_keys(db, ("trader", "viewer"), "e2e")
    with serving(home, "--db", str(db), "--port", "0", wait_for=(_LISTENING,)) as (url,):
        yield Served(url, keys)


@asynccontextmanager
async def connected(served: Served, role: str) -> AsyncIterator[RemoteEngineClient]:
    client = RemoteEngineClient(served.url, served.keys[role])
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def server_status(served: Served, account_id: str) -> WorkerState:
    async with served.http("viewer") as http:
        response = await http.get(f"/workers/{account_id}")
        response.raise_for_status()
        return WorkerState(response.json()["status"])


async def test_the_panel_shows_the_servers_workers(served: Served):
    async with served.http("viewer") as http:
        listed = (await http.get("/workers")).json()["items"]
    async with connected(served, "viewer") as client:
        app = TradeDeckApp(client)
        async with app.run_test() as pilot:
            await ready(pilot)
            assert row_keys(app, "workers") == [w["account_id"] for w in listed]
            for worker in listed:
                cell = table(app, "workers").get_cell(worker["account_id"], "state")
                assert str(cell) == worker["status"]


async def test_a_trader_stops_a_worker_from_the_panel(served: Served):
    assert await server_status(served, "account-002") is WorkerState.RUNNING
    async with connected(served, "trader") as client:
        app = TradeDeckApp(client)
        async with app.run_test() as pilot:
            await ready(pilot)
            await pilot.press("down")
            assert table(app, "workers").cursor_key == "account-002"
            await pilot.press("x")
            await until(
                pilot, lambda: app.state.workers["account-002"].status is WorkerState.STOPPED
            )
            assert notifications(app)[-1].message == "Stopped account-002: stopped."
    assert await server_status(served, "account-002") is WorkerState.STOPPED


async def test_a_viewer_cannot_stop_a_worker(served: Served):
    assert await server_status(served, "account-001") is WorkerState.RUNNING
    async with connected(served, "viewer") as client:
        app = TradeDeckApp(client)
        async with app.run_test() as pilot:
            await ready(pilot)
            assert table(app, "workers").cursor_key == "account-001"
            assert not app.screen.active_bindings["x"].enabled
            await pilot.press("x")
            await until(pilot, lambda: bool(notifications(app)))
            assert notifications(app)[-1].message.startswith("Stop needs the trader role")
            assert app.state.workers["account-001"].status is WorkerState.RUNNING
    assert await server_status(served, "account-001") is WorkerState.RUNNING


def test_connect_refuses_a_bad_token_before_opening_the_panel(served: Served, tmp_path: Path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "COLUMNS": "300"}
    env.pop("TRADEDECK_TOKEN", None)
    missing = subprocess.run(
        tradedeck("connect", served.url), capture_output=True, text=True, timeout=60, env=env
    )
    assert missing.returncode == 1
    assert "No token: pass --token or set TRADEDECK_TOKEN" in missing.stderr

    refused = subprocess.run(
        tradedeck("connect", served.url, "--token", "tdk_nope_nope"),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert refused.returncode == 1
    assert f"Cannot connect to {served.url}: " in refused.stderr


def test_tradedeck_connect_in_a_real_terminal(served: Served, tmp_path: Path):
    """`tradedeck connect` as a trader types it: the token from the environment,
    `x` on a row, and the server reports the worker stopped."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required for the end-to-end tests (.ci/run installs it)")
    command = (
        f"env XDG_DATA_HOME={tmp_path} TRADEDECK_TOKEN={served.keys['trader']} "
        f"{TRADEDECK} connect {served.url}"
    )
    term = Terminal(command, tmp_path / "exit")
    try:
        term.wait_text(f"● {served.url}")
        term.wait_text("account-004")
        term.press("down", "down")  # account-003
        term.press("x")
        term.wait_text("Stopped account-003")
        assert asyncio.run(server_status(served, "account-003")) is WorkerState.STOPPED
        term.press("q")
        term.wait_text("Quit the panel?")
        term.press("y")
        assert term.wait_exit() == "0"
    finally:
        term.close()
