"""p pauses and resumes the strategy under the cursor on a worker's detail."""

from __future__ import annotations

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import StrategyState
from tests.tui.helpers import RestrictedClient, notifications, ready, until
from tests.tui.test_worker_detail import open_detail
from tui.app import TradeDeckApp
from tui.widgets.strategies import StrategiesTable


async def test_p_pauses_and_resumes_the_strategy_under_the_cursor(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app)
        table = screen.query_one(StrategiesTable)
        first, second = [s.id for s in (await engine.worker_detail("account-001")).strategies]
        table.focus()
        await pilot.press("down")
        assert table.cursor_key == second

        await pilot.press("p")
        await until(pilot, lambda: engine.strategy(second).state is StrategyState.PAUSED)
        assert engine.strategy(first).state is StrategyState.RUNNING
        await until(pilot, lambda: str(table.get_cell(second, "state")) == "paused")
        await until(
            pilot,
            lambda: f"Strategy {second} on account-001: paused." in _messages(app),
        )

        await pilot.press("p")
        await until(pilot, lambda: engine.strategy(second).state is StrategyState.RUNNING)
        await until(pilot, lambda: str(table.get_cell(second, "state")) == "running")


async def test_a_strategy_paused_elsewhere_shows_paused(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app)
        table = screen.query_one(StrategiesTable)
        strategy_id = table.cursor_key
        assert strategy_id is not None
        await engine.pause_strategy(strategy_id)
        await until(pilot, lambda: str(table.get_cell(strategy_id, "state")) == "paused")


async def test_p_is_disabled_without_the_permission(client: EngineClient, engine: Engine):
    app = TradeDeckApp(RestrictedClient(client, frozenset()))
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        screen = await open_detail(pilot, app)
        strategy_id = screen.query_one(StrategiesTable).cursor_key
        assert strategy_id is not None
        assert not app.screen.active_bindings["p"].enabled
        await pilot.press("p")
        await until(pilot, lambda: any("needs the trader role" in m for m in _messages(app)))
        assert engine.strategy(strategy_id).state is StrategyState.RUNNING


def _messages(app: TradeDeckApp) -> list[str]:
    return [n.message for n in notifications(app)]
