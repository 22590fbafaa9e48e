"""s, x, r, S and X change workers in the engine; S and X ask first."""

from __future__ import annotations

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import WorkerState
from tests.tui.helpers import notifications, ready, table, until
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen


def status(engine: Engine, account_id: str) -> WorkerState:
    return engine.worker(account_id).status


async def test_x_stops_the_worker_under_the_cursor(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("down")  # account-002, not the first row
        assert table(app, "workers").cursor_key == "account-002"
        await pilot.press("x")
        await until(pilot, lambda: status(engine, "account-002") is WorkerState.STOPPED)
        assert status(engine, "account-001") is WorkerState.RUNNING
        workers = table(app, "workers")
        await until(pilot, lambda: str(workers.get_cell("account-002", "state")) == "stopped")
        await until(pilot, lambda: bool(notifications(app)))
        assert notifications(app)[-1].message == "Stopped account-002: stopped."


async def test_s_starts_a_stopped_worker(client: EngineClient, engine: Engine):
    await engine.stop_worker("account-001")
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        assert app.state.workers["account-001"].status is WorkerState.STOPPED
        await pilot.press("s")
        await until(pilot, lambda: status(engine, "account-001") is WorkerState.RUNNING)
        await until(pilot, lambda: bool(notifications(app)))
        assert notifications(app)[-1].message.startswith("Started account-001")


async def test_r_restarts_with_a_new_worker_id(client: EngineClient, engine: Engine):
    before = engine.worker("account-001").worker_id
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("r")
        await until(pilot, lambda: engine.worker("account-001").worker_id != before)
        assert status(engine, "account-001") is WorkerState.RUNNING
        await until(pilot, lambda: app.state.workers["account-001"].worker_id != before)


async def test_a_refused_command_says_why(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("s")  # account-001 is already running
        await until(pilot, lambda: bool(notifications(app)))
        note = notifications(app)[-1]
        assert note.severity == "error"
        assert note.message == "Could not start account-001: Worker account-001 is already running."


async def test_stop_all_asks_and_cancelling_does_nothing(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Stop all 4 running workers?" in app.screen.question
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        assert all(w.status is WorkerState.RUNNING for w in engine.workers())

        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: all(w.status is WorkerState.STOPPED for w in engine.workers()))
        await until(pilot, lambda: app.state.workers_active == 0)
        # A remote panel may see the workers stop (events) before the reply.
        await until(pilot, lambda: "Stopped 4 workers." in [n.message for n in notifications(app)])


async def test_start_all_asks_and_starts_every_stopped_worker(client: EngineClient, engine: Engine):
    await engine.stop_worker("account-002")
    await engine.stop_worker("account-003")
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Start all 2 stopped workers?" in app.screen.question
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        assert status(engine, "account-002") is WorkerState.STOPPED

        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-yes")
        await until(pilot, lambda: all(w.status is WorkerState.RUNNING for w in engine.workers()))
        await until(pilot, lambda: app.state.workers_running == 4)
