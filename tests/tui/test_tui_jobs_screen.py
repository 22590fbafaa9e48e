"""The jobs screen (`J`): pending, running, done, scheduled and dead tabs, a
job's detail, `R` on a dead job, cancel, run a schedule now, enable/disable
(admin), and an optimisation's progress then results with deploy."""

from __future__ import annotations

import asyncio

from textual.widgets import ProgressBar, TabbedContent

from engine.client import EngineClient, LocalEngineClient
from engine.engine import Engine
from engine.models import JobState
from tests.tui.helpers import notifications, plain, ready, until
from tests.tui.jobs_support import dead_job, later_jobs, register, running_job, until_state
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.jobs import JobsScreen, ModelsTable, SchedulesTable
from tui.screens.main import MainScreen

STRATEGY = "account-001:ma_crossover:1"


async def open_jobs(pilot, app: TradeDeckApp) -> JobsScreen:
    await pilot.press("J")
    await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.loaded)
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    return screen


def keys(screen: JobsScreen, tab: str) -> list[str]:
    table = screen.query_one(f"#jobs-{tab}")
    return [str(row.key.value) for row in table.ordered_rows]


def detail(screen: JobsScreen) -> str:
    return plain(screen.query_one("#job-summary")) + plain(screen.query_one("#job-body"))


async def test_tabs_list_jobs_by_state_and_the_detail_shows_the_error(
    client: EngineClient, engine: Engine
):
    register(engine)
    waiting = await later_jobs(engine, high=2)
    running = await running_job(engine)
    dead = await dead_job(engine)
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        screen = await open_jobs(pilot, app)
        assert keys(screen, "pending") == [str(j.id) for j in reversed(waiting)]
        assert keys(screen, "running") == [str(running.id)]
        assert keys(screen, "dead") == [str(dead.id)]
        assert sorted(keys(screen, "scheduled")) == sorted(
            s.name for s in engine.jobs.schedules.list()
        )
        await pilot.press("5")
        assert screen.query_one(TabbedContent).active == "tab-dead"
        await until(pilot, lambda: screen.detail is not None and screen.detail.id == dead.id)
        text = detail(screen)
        assert "RuntimeError: broker unreachable for account-001" in text
        assert "Traceback" in text and "attempts   1 of 1" in text
        assert '"label": "account-001"' in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_R_on_the_dead_tab_retries_and_c_cancels(client: EngineClient, engine: Engine):
    flaky = register(engine)
    dead = await dead_job(engine)
    (waiting,) = await later_jobs(engine, low=1)
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        screen = await open_jobs(pilot, app)
        screen.show_tab("dead", dead.id)
        flaky.failing = False
        await pilot.press("R")
        await until_state(engine, dead.id, JobState.COMPLETED)
        await until(pilot, lambda: keys(screen, "dead") == [])
        await until(pilot, lambda: str(dead.id) in keys(screen, "done"))

        screen.show_tab("pending", waiting.id)
        await pilot.press("c")
        await until_state(engine, waiting.id, JobState.CANCELLED)
        await until(pilot, lambda: keys(screen, "pending") == [])
        assert any(f"Cancelled job {waiting.id}" in n.message for n in notifications(app))


async def test_run_a_schedule_now(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        screen = await open_jobs(pilot, app)
        screen.show_tab("scheduled")
        table = screen.query_one(SchedulesTable)
        table.move_cursor(row=table.get_row_index("equity-snapshot-1h"))
        await pilot.press("n")
        await until(pilot, lambda: any("queued job" in n.message for n in notifications(app)))
        jobs, _ = await engine.jobs.list(schedule="equity-snapshot-1h")
        assert len(jobs) == 1 and jobs[0].handler == "equity_snapshot"
        await until_state(engine, jobs[0].id, JobState.COMPLETED)
        await until(pilot, lambda: str(jobs[0].id) in keys(screen, "done"))


async def test_enable_and_disable_a_schedule(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        screen = await open_jobs(pilot, app)
        screen.show_tab("scheduled")
        table = screen.query_one(SchedulesTable)
        table.move_cursor(row=table.get_row_index("reconcile-30m"))
        await pilot.pause()
        await pilot.press("e")
        if not isinstance(client, LocalEngineClient):
            # The panel's remote key is a trader's: editing schedules is an admin's.
            assert engine.jobs.schedules.get("reconcile-30m").enabled
            await until(pilot, lambda: any("admin role" in n.message for n in notifications(app)))
            return
        await until(pilot, lambda: not engine.jobs.schedules.get("reconcile-30m").enabled)
        await until(pilot, lambda: str(table.get_cell("reconcile-30m", "enabled")) == "no")
        assert str(table.get_cell("reconcile-30m", "next")) == "-"
        await pilot.press("e")
        await until(pilot, lambda: engine.jobs.schedules.get("reconcile-30m").enabled)
        await until(pilot, lambda: str(table.get_cell("reconcile-30m", "enabled")) == "yes")


async def test_an_optimisation_shows_progress_then_results_and_deploys(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        screen = await open_jobs(pilot, app)
        grid = {"fast": [2, 3, 4, 5], "slow": [8, 10, 12, 14]}
        job, _ = await engine.jobs.enqueue(
            "optimize_strategy", {"strategy_id": STRATEGY, "grid": grid, "hours": 0.5}
        )
        await until(pilot, lambda: str(job.id) in keys(screen, "running"))
        screen.show_tab("running", job.id)
        progress = screen.query_one(ProgressBar)
        shown: list[float] = []
        async with asyncio.timeout(30):
            while not (screen.detail and screen.detail.state is JobState.COMPLETED):
                if progress.display:
                    shown.append(progress.progress or 0.0)
                await pilot.pause(0.01)
        assert shown and shown[0] < 100, "the progress bar showed while it ran"
        results = screen.query_one(ModelsTable)
        await until(pilot, lambda: results.display and results.row_count == 16, timeout=20)
        assert not progress.display
        sets = await client.models(job.id)
        best = min(sets, key=lambda s: s.rank)
        assert next(str(r.key.value) for r in results.ordered_rows) == str(best.id)
        results.focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"Deploy model {best.id}" in app.screen.question
        await pilot.press("y")
        strategy = engine.manager.workers["account-001"].strategies[STRATEGY]
        await until(pilot, lambda: strategy.info("account-001").params == best.params)
        await until(pilot, lambda: str(results.get_cell(str(best.id), "deployed")) == STRATEGY)
