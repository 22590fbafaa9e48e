"""A worker's detail charts equity over a chosen range (h, d, w, a), at closes
that let the range fit one chart, and shows the performance metrics over it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from textual.widgets import Sparkline, Static

from engine import portfolio
from engine.client import EngineClient
from engine.engine import Engine
from engine.models import RESOLUTIONS, EquityPoint
from tests.tui.helpers import plain, ready, until
from tests.tui.test_worker_detail import open_detail
from tui.app import TradeDeckApp
from tui.screens.worker_detail import WorkerDetailScreen


async def closes(
    engine: Engine, since: datetime | None, resolution: str | None
) -> list[EquityPoint]:
    return await portfolio.equity_history(
        engine.portfolio_sources,
        ["account-001"],
        since=since,
        resolution=None if resolution is None else RESOLUTIONS[resolution],
        limit=500,
    )


def label(screen: WorkerDetailScreen) -> str:
    return plain(screen.query_one("#detail-performance-label")).strip()


async def test_range_keys_rechart_equity_and_remeasure_performance(
    client: EngineClient, engine: Engine, trade
):
    await trade(3 * 3600)  # three more hours of equity samples and trades
    app = TradeDeckApp(client)
    async with app.run_test(size=(110, 60)) as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app)
        now = engine.clock.now()

        # The default range, a day: 5-minute closes, metrics on 15-minute returns.
        day = await closes(engine, now - timedelta(days=1), "5m")
        await until(pilot, lambda: screen.performance is not None and screen.equity_points == day)
        assert len(day) >= 36  # three hours of 5-minute closes, not the raw minute samples
        sparkline = screen.query_one("#detail-equity", Sparkline)
        assert list(sparkline.data or []) == [float(p.equity) for p in day]
        assert f"{len(day)} 5m closes" in plain(screen.query_one("#equity-summary", Static))
        expected = await portfolio.performance(
            engine.portfolio_sources, accounts=["account-001"], since=now - timedelta(days=1),
            resolution=timedelta(minutes=15),
        )  # fmt: skip
        assert screen.performance == expected and expected.periods > 0
        table = plain(screen.query_one("#detail-performance", Static))
        assert re.search(rf"Trades\s+{expected.trades}\b", table)
        assert label(screen) == "Performance over the last 1d  (15m returns)"

        # An hour: every sample, 1-minute returns.
        await pilot.press("h")
        hour = await closes(engine, now - timedelta(hours=1), None)
        await until(pilot, lambda: screen.equity_points == hour)
        summary = plain(screen.query_one("#equity-summary", Static))
        assert summary.startswith("last 1h: ") and f"{len(hour)} samples" in summary
        assert list(sparkline.data or []) == [float(p.equity) for p in hour]
        await until(pilot, lambda: "(1m returns)" in label(screen))
        assert screen.performance == await portfolio.performance(
            engine.portfolio_sources, accounts=["account-001"], since=now - timedelta(hours=1),
            resolution=timedelta(minutes=1),
        )  # fmt: skip

        # Everything: daily closes.
        await pilot.press("a")
        everything = await closes(engine, None, "1d")
        await until(pilot, lambda: screen.equity_points == everything)
        assert plain(screen.query_one("#equity-summary", Static)).startswith("everything: ")
        await until(pilot, lambda: label(screen) == "Performance over everything  (1d returns)")


async def test_an_account_without_history_shows_dashes_not_errors(
    client: EngineClient, engine: Engine
):
    await engine.store.retention.purge(before=engine.clock.now() + timedelta(days=1))
    app = TradeDeckApp(client)
    async with app.run_test(size=(110, 60)) as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app)
        await until(pilot, lambda: screen.performance is not None)
        assert "no equity samples in this range yet" in plain(
            screen.query_one("#equity-summary", Static)
        )
        table = plain(screen.query_one("#detail-performance", Static))
        assert re.search(r"Return\s+-", table) and re.search(r"Sharpe\s+-", table)
