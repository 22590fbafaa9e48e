"""K asks before engaging the kill switch, saying exactly what will happen;
engaged, trading halts and the header says so; an admin clears it."""

from __future__ import annotations

from engine.client import EngineClient, LocalEngineClient
from engine.engine import Engine
from tests.tui.helpers import RestrictedClient, notifications, plain, ready, until
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.kill_switch import KillSwitchScreen
from tui.screens.main import MainScreen
from tui.widgets.header import StatusHeader


async def open_kill_switch(pilot, app: TradeDeckApp) -> KillSwitchScreen:
    await pilot.press("K")
    await until(pilot, lambda: isinstance(app.screen, KillSwitchScreen))
    screen = app.screen
    assert isinstance(screen, KillSwitchScreen)
    return screen


async def test_k_states_what_will_happen_and_escape_does_nothing(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        positions = len(engine.snapshot().positions)
        pending = sum(1 for o in engine.snapshot().orders if o.status.is_open)
        screen = await open_kill_switch(pilot, app)
        effects = plain(screen.query_one("#kill-effects"))
        assert "halts trading on all 4 accounts until an admin clears it" in effects
        assert f"{pending} pending order" in effects
        assert f"{positions} open positions kept (flatten is off)" in effects
        await pilot.press("f")
        await until(
            pilot,
            lambda: (
                f"{positions} open positions closed at market"
                in plain(screen.query_one("#kill-effects"))
            ),
        )
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert not engine.kill_switch.engaged


async def test_k_with_flatten_halts_cancels_and_closes_everything(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        assert engine.snapshot().positions
        await open_kill_switch(pilot, app)
        await pilot.press("f", "y")
        await until(pilot, lambda: engine.kill_switch.engaged)
        await until(pilot, lambda: not engine.snapshot().positions)
        assert not [o for o in engine.snapshot().orders if o.status.is_open]
        await until(pilot, lambda: any(n.title == "Trading halted" for n in notifications(app)))
        header = app.screen.query_one(StatusHeader)
        await until(pilot, lambda: "HALTED" in plain(header))


async def test_the_kill_switch_clear_is_an_admin_action(engine: Engine):
    trader = TradeDeckApp(RestrictedClient(LocalEngineClient(engine), _trader_actions()))
    async with trader.run_test() as pilot:
        await ready(pilot)
        assert "ctrl+k" not in trader.screen.active_bindings or not (
            trader.screen.active_bindings["ctrl+k"].enabled
        )
    await engine.kill_switch.engage(by="test")
    app = TradeDeckApp(LocalEngineClient(engine))
    async with app.run_test() as pilot:
        await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Clear kill switch" in titles
        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not engine.kill_switch.engaged)
        header = app.screen.query_one(StatusHeader)
        await until(pilot, lambda: "HALTED" not in plain(header))


def _trader_actions() -> frozenset[str]:
    from engine.client import ACTION_ROLES

    return frozenset(a for a, role in ACTION_ROLES.items() if role == "trader")
