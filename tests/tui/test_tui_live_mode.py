"""M switches between paper and live trading, after a confirmation that says
MetaTrader 5 accounts will trade real money; only for an admin's client, and
never out of a kill-switch halt."""

from __future__ import annotations

from engine.client import ACTIONS, LocalEngineClient
from engine.domain import SystemMode
from engine.engine import Engine
from tests.tui.helpers import RestrictedClient, notifications, ready, until
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen


async def test_m_asks_then_goes_live_and_back_to_paper(engine: Engine) -> None:
    app = TradeDeckApp(LocalEngineClient(engine))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert "LIVE" in app.screen.question and "real money" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert engine.status().mode is SystemMode.PAPER

        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: engine.status().mode is SystemMode.LIVE)
        await until(pilot, lambda: any("now live" in n.message for n in notifications(app)))
        await until(
            pilot, lambda: app.state.system is not None and app.state.system.mode is SystemMode.LIVE
        )

        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "paper" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(pilot, lambda: engine.status().mode is SystemMode.PAPER)


async def test_m_is_disabled_without_the_admin_permission(engine: Engine) -> None:
    trader = RestrictedClient(LocalEngineClient(engine), ACTIONS - {"system.mode"})
    app = TradeDeckApp(trader)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert not app.active_bindings["M"].enabled
        await pilot.press("M")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert engine.status().mode is SystemMode.PAPER
