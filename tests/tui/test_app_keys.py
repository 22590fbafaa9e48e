"""a, ?, q, the command palette, and keys the client may not use."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import CommandPalette
from textual.widgets import DataTable, OptionList

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import Alert, AlertStatus, WorkerState
from tests.tui.helpers import RestrictedClient, notifications, ready, row_keys, table, until
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen


async def test_a_acknowledges_the_alert_under_the_cursor(
    client: EngineClient, engine: Engine, raise_alert: Callable[..., Alert]
):
    first = raise_alert("Daily loss at 80% of the limit", key="loss")
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        second = raise_alert("Exposure on XAUUSD above warning", key="exposure")
        await until(pilot, lambda: row_keys(app, "alerts") == [str(second.id), str(first.id)])
        await pilot.press("4", "down")
        assert table(app, "alerts").cursor_key == str(first.id)
        await pilot.press("a")
        await until(
            pilot,
            lambda: str(table(app, "alerts").get_cell(str(first.id), "status")) == "acknowledged",
        )
        stored = {a.id: a for a in engine.alerts.recent()}
        assert stored[first.id].status is AlertStatus.ACKNOWLEDGED
        assert stored[second.id].status is AlertStatus.TRIGGERED
        # A remote panel may see the alert change (an event) before the reply.
        await until(
            pilot,
            lambda: any(
                n.message.startswith(f"Acknowledged alert {first.id}") for n in notifications(app)
            ),
        )


async def test_question_mark_lists_every_key(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = app.screen.query_one("#help-keys", DataTable)
        actions = {str(listed.get_row_at(i)[2]) for i in range(listed.row_count)}
        for description in [
            "Next pane",
            "Previous pane",
            "Workers",
            "Alerts",
            "Detail",
            "Start",
            "Stop",
            "Restart",
            "Start all",
            "Stop all",
            "Filter",
            "Acknowledge",
            "Help",
            "Quit",
            "Back",
        ]:
            assert description in actions
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_q_asks_while_workers_run(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "4 workers still running. Quit the panel?"
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)


async def test_q_quits_at_once_when_nothing_runs(client: EngineClient, engine: Engine):
    await engine.stop_all()
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)


async def test_the_palette_offers_the_keys_of_the_focused_pane(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Detail", "Start", "Stop", "Restart", "Start all", "Stop all", "Filter"} <= titles
        assert {"Help", "Quit", "Next pane", "Alerts"} <= titles
        assert "Acknowledge" not in titles
        await pilot.press("4")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Acknowledge" not in titles, "no alert under the cursor"

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"stop all")
        results = app.screen.query_one(OptionList)
        await until(pilot, lambda: results.option_count > 0)  # it searches in the background
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Stop all" in app.screen.question


async def test_keys_outside_the_clients_permissions_are_disabled(
    client: EngineClient, engine: Engine
):
    viewer = RestrictedClient(client, frozenset({"alerts.acknowledge"}))
    app = TradeDeckApp(viewer)
    async with app.run_test() as pilot:
        await ready(pilot)
        bindings = app.screen.active_bindings
        for key in ["s", "x", "r", "S", "X"]:
            assert not bindings[key].enabled, key
        assert bindings["enter"].enabled
        await pilot.press("x", "X")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert engine.worker("account-001").status is WorkerState.RUNNING
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Stop" not in titles and "Detail" in titles
