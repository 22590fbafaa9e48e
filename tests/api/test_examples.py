"""The scripts in examples/, each run as a user would (a separate Python
process) against a real server on the demo: strategy control, the equity
chart saved as PNG, the performance report and the live stream display."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.api.test_api_portfolio_routes import traded

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.slow  # each starts a Python process


async def _run(api: Api, script: str, *args: str, key: str = "trader") -> tuple[int, str, str]:
    env = {**os.environ, "TRADEDECK_URL": api.url, "TRADEDECK_KEY": api.keys[key]}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _subscribed(api: Api, channels: set[str]) -> None:
    """Until a connection (the script's) has subscribed to `channels`."""
    hub = api.app.state.hub
    async with asyncio.timeout(30):
        # Polled: the hub has no event for a subscription.
        while not any(channels <= set(c.subscriptions) for c in hub.connections.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_strategy_control_pauses_and_resumes(api: Api) -> None:
    code, out, err = await _run(api, "strategy_control.py")
    assert code == 0, err
    strategy = api.engine.strategies()[0]
    assert strategy.id in out and "running" in out
    code, out, _ = await _run(api, "strategy_control.py", "pause", strategy.id)
    assert (code, out.strip()) == (0, f"{strategy.id}: paused")
    assert api.engine.strategy(strategy.id).state.value == "paused"
    code, out, _ = await _run(api, "strategy_control.py", "resume", strategy.id)
    assert out.strip() == f"{strategy.id}: running"
    code, out, err = await _run(api, "strategy_control.py", "pause", strategy.id, key="viewer")
    assert code == 1 and "403" in err  # the server's refusal, in its words
    code, _, err = await _run(api, "strategy_control.py", "pause", "no-such-strategy")
    assert code == 1 and "404" in err


async def test_equity_chart_is_saved_as_png(api: Api, tmp_path: Path) -> None:
    await traded(api, 1800)
    out = tmp_path / "equity.png"
    code, printed, err = await _run(api, "equity_chart.py", "--out", str(out), key="viewer")
    assert code == 0, err
    accounts = len(api.engine.settings.accounts)
    assert printed.startswith(f"{out}: {accounts} accounts, ")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 500)


async def test_performance_report(api: Api) -> None:
    await traded(api, 1800)
    code, out, err = await _run(api, "performance_report.py", key="viewer")
    assert code == 0, err
    for label in ("Total return", "Sharpe", "Sortino", "Max drawdown", "Trades"):
        assert label in out
    assert "By strategy:" in out
    assert api.engine.strategies()[0].id in out


async def test_live_stream_shows_trades_and_fills(api: Api) -> None:
    process = asyncio.create_task(
        _run(api, "live_stream.py", "--count", "3", "--seconds", "30", key="viewer")
    )
    await _subscribed(api, {"portfolio", "fills", "orders"})
    trader = api.client("trader")
    placed = await trader.post(
        "/api/v1/orders",
        json={
            "account_id": "account-001",
            "symbol": "EURUSD",
            "side": "buy",
            "volume": "0.10",
            "client_order_id": "live-stream",
        },
    )
    assert placed.status_code == 201, placed.text
    code, out, err = await process
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == "3 updates"
    assert any(line.startswith("TRADE  account-001") for line in lines)
    assert any(line.startswith("ORDER  account-001") for line in lines)
