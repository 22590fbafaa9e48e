"""Moving between panes, filtering them, and the layout at both sizes."""

from __future__ import annotations

from textual.widgets import Input, Tabs

from engine.client import EngineClient
from tests.tui.helpers import ready, row_keys, table
from tui.app import TradeDeckApp
from tui.widgets.pane import Pane

PANES = ["workers", "positions", "orders", "alerts", "jobs"]


def focused_pane(app: TradeDeckApp) -> str | None:
    focused = app.focused
    pane = (
        next((n for n in focused.ancestors_with_self if isinstance(n, Pane)), None)
        if focused
        else None
    )
    return pane.id if pane else None


def shown_panes(app: TradeDeckApp) -> list[str]:
    return [pane.id for pane in app.screen.query(Pane) if pane.display and pane.id]


async def test_tab_and_shift_tab_cycle_through_the_panes(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        assert focused_pane(app) == "workers"
        seen = []
        for _ in PANES:
            await pilot.press("tab")
            seen.append(focused_pane(app))
        assert seen == ["positions", "orders", "alerts", "jobs", "workers"]
        await pilot.press("shift+tab")
        assert focused_pane(app) == "jobs"
        assert app.screen.query_one(Tabs).active == "tab-jobs"
        assert shown_panes(app) == ["jobs"]


async def test_digits_jump_to_their_pane(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        for digit, pane in [("3", "orders"), ("2", "positions"), ("4", "alerts"), ("1", "workers")]:
            await pilot.press(digit)
            assert focused_pane(app) == pane
            assert shown_panes(app) == [pane]
            assert app.focused is table(app, pane)


async def test_filter_narrows_the_focused_pane_and_escape_clears_it(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("2")
        everything = row_keys(app, "positions")
        jpy = {str(p.ticket) for p in app.state.positions.values() if p.symbol == "USDJPY"}
        assert jpy and len(jpy) < len(everything)

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"usdjpy")
        assert set(row_keys(app, "positions")) == jpy
        assert row_keys(app, "orders"), "other panes keep their rows"

        await pilot.press("enter")  # keep the filter, back to the rows
        assert app.focused is table(app, "positions")
        assert set(row_keys(app, "positions")) == jpy

        await pilot.press("escape")
        assert row_keys(app, "positions") == everything
        assert not app.screen.query_one("#positions .pane-filter", Input).display


async def test_80x24_shows_tabs(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert not app.screen.has_class("-tiled")
        assert app.screen.query_one(Tabs).display
        assert shown_panes(app) == ["workers"]


async def test_160x48_tiles_every_pane_and_follows_resizes(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert app.screen.has_class("-tiled")
        assert not app.screen.query_one(Tabs).display
        assert shown_panes(app) == PANES
        regions = [app.screen.query_one(f"#{p}", Pane).region for p in PANES]
        assert all(r.width > 0 and r.height > 0 for r in regions)
        assert len({(r.x, r.y) for r in regions}) == len(PANES), "panes do not overlap"

        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert shown_panes(app) == ["workers"]
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert shown_panes(app) == PANES
