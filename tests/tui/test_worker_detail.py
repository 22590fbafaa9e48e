"""enter opens a worker's detail; it shows what the engine knows; s/x/r work there."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import WorkerState
from tests.tui.helpers import plain, ready, until
from tui.app import TradeDeckApp
from tui.screens.main import MainScreen
from tui.screens.worker_detail import WorkerDetailScreen


async def open_detail(pilot, app: TradeDeckApp, *keys: str) -> WorkerDetailScreen:
    await pilot.press(*keys, "enter")
    await until(pilot, lambda: isinstance(app.screen, WorkerDetailScreen))
    screen = app.screen
    assert isinstance(screen, WorkerDetailScreen)
    await until(pilot, lambda: screen.detail is not None)
    return screen


async def test_enter_opens_the_worker_under_the_cursor_and_escape_returns(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 60)) as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app, "down")
        assert screen.account_id == "account-002"
        expected = await engine.worker_detail("account-002")

        strategies = screen.query_one("#detail-strategies", DataTable)
        assert [str(strategies.get_row_at(i)[0]) for i in range(strategies.row_count)] == [
            s.id for s in expected.strategies
        ]
        kinds = {str(strategies.get_row_at(i)[1]) for i in range(strategies.row_count)}
        assert kinds == {s.kind for s in expected.strategies}
        summary = plain(screen.query_one("#detail-summary", Static))
        assert expected.worker.worker_id is not None
        assert "account-002" in summary and expected.worker.worker_id in summary
        assert "running" in summary
        validation = plain(screen.query_one("#detail-validation", Static)).strip()
        assert validation == "Validation: no errors, no warnings"
        # The equity chart and its ranges: tests/tui/test_tui_equity_range.py.
        fills = screen.query_one("#detail-fills", DataTable)
        assert fills.row_count == min(10, len(expected.fills)) > 0
        orders = screen.query_one("#detail-orders", DataTable)
        assert str(orders.get_row_at(0)[0]) == str(expected.orders[0].ticket)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_worker_keys_work_on_the_detail_screen(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app)
        await pilot.press("x")
        await until(pilot, lambda: engine.worker("account-001").status is WorkerState.STOPPED)
        await until(
            pilot,
            lambda: (
                screen.detail is not None and screen.detail.worker.status is WorkerState.STOPPED
            ),
        )
        await pilot.press("s")
        await until(pilot, lambda: engine.worker("account-001").status is WorkerState.RUNNING)
        first_id = engine.worker("account-001").worker_id
        await pilot.press("r")
        await until(pilot, lambda: engine.worker("account-001").worker_id != first_id)
        await until(
            pilot,
            lambda: (
                screen.detail is not None
                and screen.detail.worker.worker_id == engine.worker("account-001").worker_id
            ),
        )
        assert isinstance(app.screen, WorkerDetailScreen)
