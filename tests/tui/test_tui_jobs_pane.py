"""The jobs pane (pane 5): queued counts by priority, running jobs with their
progress bars, recent completions and failures, live from job events; `R`
retries a dead job and `c` cancels one, through either client."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import Job, JobEvent, JobState
from tests.tui.helpers import notifications, plain, ready, row_keys, table, until
from tests.tui.jobs_support import dead_job, later_jobs, register, running_job, until_state
from tui.app import TradeDeckApp
from tui.state import PanelState, Region
from tui.widgets.jobs import JobsPane


def summary(app: TradeDeckApp) -> str:
    return plain(app.screen.query_one(JobsPane).query_one("#jobs-summary")).strip()


def cell(app: TradeDeckApp, job_id: int, column: str) -> str:
    """A job's cell, or "" while the job is not in the pane (waiting to run)."""
    jobs = table(app, "jobs")
    return str(jobs.get_cell(str(job_id), column)) if str(job_id) in jobs.rows else ""


async def test_the_pane_shows_counts_running_progress_and_failures(
    client: EngineClient, engine: Engine
):
    register(engine)
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        assert app.focused is table(app, "jobs")
        await until(pilot, lambda: "queued" in summary(app))
        assert "critical 0  high 0  normal 0  low 0" in summary(app)

        await later_jobs(engine, critical=1, low=2)
        running = await running_job(engine)
        dead = await dead_job(engine)

        await until(pilot, lambda: "critical 1  high 0  normal 0  low 2" in summary(app))
        await until(pilot, lambda: "dead 1" in summary(app) and "running 1/4" in summary(app))
        await until(pilot, lambda: str(dead.id) in row_keys(app, "jobs"))
        assert row_keys(app, "jobs")[0] == str(running.id), "running jobs come first"
        assert cell(app, running.id, "state") == "running"
        assert cell(app, running.id, "progress") == "████······  40%"
        assert cell(app, running.id, "message") == "halfway there"
        assert cell(app, dead.id, "state") == "dead"
        assert cell(app, dead.id, "message") == "RuntimeError: broker unreachable for account-001"


async def test_R_retries_a_dead_job_from_the_pane(client: EngineClient, engine: Engine):
    flaky = register(engine)
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        dead = await dead_job(engine)
        await pilot.press("5")
        await until(pilot, lambda: row_keys(app, "jobs") == [str(dead.id)])
        flaky.failing = False
        await pilot.press("R")
        done = await until_state(engine, dead.id, JobState.COMPLETED)
        assert done.result == {"label": "account-001"} and done.attempts == 1
        await until(pilot, lambda: cell(app, dead.id, "state") == "completed")
        assert any(f"Job {dead.id} is back in the queue" in n.message for n in notifications(app))
        await until(pilot, lambda: "dead 0" in summary(app))


async def test_R_is_refused_on_a_job_that_is_not_dead(client: EngineClient, engine: Engine):
    register(engine)
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        running = await running_job(engine)
        await pilot.press("5")
        await until(pilot, lambda: row_keys(app, "jobs") == [str(running.id)])
        assert app.screen.active_bindings["R"].enabled is False
        assert app.screen.active_bindings["c"].enabled is True


async def test_c_cancels_a_running_job(client: EngineClient, engine: Engine):
    register(engine)
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        running = await running_job(engine)
        await pilot.press("5")
        await until(pilot, lambda: row_keys(app, "jobs") == [str(running.id)])
        await pilot.press("c")
        await until_state(engine, running.id, JobState.CANCELLED)
        await until(pilot, lambda: cell(app, running.id, "state") == "cancelled")
        assert any(f"Asked job {running.id} to stop" in n.message for n in notifications(app))


def test_the_state_keeps_a_jobs_newest_state_and_drops_waiting_ones():
    state = PanelState()
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    running = Job(id=1, handler="h", state=JobState.RUNNING, attempts=1, created_at=at, run_at=at)
    state.apply(JobEvent(time=at, job=running))
    assert state.jobs_stale and state.running_jobs == [running]
    ended = running.model_copy(update={"state": JobState.CANCELLED, "finished_at": at})
    state.update_job(ended)
    # The cancel command's reply (still running) arriving after the event that ended it.
    state.update_job(running.model_copy(update={"cancel_requested": True}))
    assert state.jobs[1].state is JobState.CANCELLED
    retried = ended.model_copy(update={"state": JobState.PENDING, "attempts": 0})
    state.update_job(retried)
    assert 1 not in state.jobs, "a job waiting to run leaves the pane"
    assert Region.JOBS in state.take_dirty()
