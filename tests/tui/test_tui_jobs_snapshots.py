"""How the jobs pane and the jobs screen look, fixed: queued counts, a running
job's progress bar, a dead job's error; the screen's pending tab with a job's
detail. Jobs are made before the panel opens (so its first snapshot holds
them) on the engine's frozen virtual clock; local client only, as in
test_snapshots.py."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from engine.client import LocalEngineClient
from engine.engine import Engine
from tests.tui.helpers import ready, table, until
from tests.tui.jobs_support import dead_job, later_jobs, register, running_job
from tui.app import TradeDeckApp
from tui.screens.jobs import JobsScreen


@pytest.fixture
async def jobs(engine: Engine) -> Engine:
    register(engine)
    await later_jobs(engine, critical=1, normal=2, low=3)
    await running_job(engine)
    await dead_job(engine)
    return engine


def panel(engine: Engine) -> TradeDeckApp:
    return TradeDeckApp(LocalEngineClient(engine), clock_tick=False)


def test_jobs_pane_160x48(jobs: Engine, snap_compare: Any):
    async def focus_jobs(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await until(pilot, lambda: table(app, "jobs").row_count == 2)
        await pilot.press("5")

    assert snap_compare(panel(jobs), terminal_size=(160, 48), run_before=focus_jobs)


def test_jobs_screen(jobs: Engine, snap_compare: Any):
    async def open_jobs(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await pilot.press("J")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, JobsScreen)
                and app.screen.loaded
                and app.screen.detail is not None
            ),
        )

    assert snap_compare(panel(jobs), terminal_size=(120, 40), run_before=open_jobs)
