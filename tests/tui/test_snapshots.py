"""How the panel looks, fixed: the main screen at 80x24 (tabs) and 160x48
(tiled), and a worker's detail. The engine's virtual clock stands still, the
market is seeded, and nothing blinks or animates under test. Local client
only: a remote panel's header shows the server's URL, whose port changes on
every run, and the rest of the screen is the same for both clients."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from engine.client import LocalEngineClient
from engine.engine import Engine
from tests.tui.helpers import ready, until
from tui.app import TradeDeckApp
from tui.screens.worker_detail import WorkerDetailScreen


def panel(engine: Engine) -> TradeDeckApp:
    return TradeDeckApp(LocalEngineClient(engine), clock_tick=False)


def test_main_screen_80x24(engine: Engine, snap_compare: Any):
    assert snap_compare(panel(engine), terminal_size=(80, 24), run_before=ready)


def test_main_screen_160x48(engine: Engine, snap_compare: Any):
    assert snap_compare(panel(engine), terminal_size=(160, 48), run_before=ready)


def test_worker_detail(engine: Engine, snap_compare: Any):
    async def open_detail(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, WorkerDetailScreen)
                and app.screen.detail is not None
                and app.screen.performance is not None
            ),
        )

    assert snap_compare(panel(engine), terminal_size=(100, 48), run_before=open_detail)
