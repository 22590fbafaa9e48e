"""L opens the risk screen: every limit against its warning and threshold as a
bar, the risk alerts, and the kill switch's state."""

from __future__ import annotations

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import RiskLevel
from tests.tui.helpers import plain, ready, until
from tui.app import TradeDeckApp
from tui.screens.main import MainScreen
from tui.screens.risk import RiskScreen
from tui.widgets.alerts import AlertsTable
from tui.widgets.risk_limits import LimitsTable


async def open_risk(pilot, app: TradeDeckApp) -> RiskScreen:
    await pilot.press("L")
    await until(pilot, lambda: isinstance(app.screen, RiskScreen))
    screen = app.screen
    assert isinstance(screen, RiskScreen)
    await until(pilot, lambda: screen.evaluation is not None)
    return screen


async def test_the_risk_screen_shows_every_limit_with_its_bar(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot)
        screen = await open_risk(pilot, app)
        limits = screen.query_one(LimitsTable)
        expected = engine.risk.evaluate()
        assert sorted(str(row.key.value) for row in limits.ordered_rows) == sorted(
            m.limit_id for m in expected.metrics
        )
        metric = next(m for m in expected.metrics if m.limit_id == "gold-index-positions")
        assert str(limits.get_cell("gold-index-positions", "threshold")).strip() == "8"
        assert str(limits.get_cell("gold-index-positions", "warning")).strip() == "6"
        value = str(limits.get_cell("gold-index-positions", "value")).strip()
        assert value == f"{metric.value.normalize():f} pos"
        bar = str(limits.get_cell("gold-index-positions", "bar"))
        filled = round(float(metric.value / metric.threshold) * 20)
        assert bar.count("█") + bar[:filled].count("|") == filled
        assert "|" in bar, "the warning is marked on the bar"
        assert "Kill switch: off" in plain(screen.query_one("#risk-kill-switch"))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_a_breach_and_its_alert_show_on_the_risk_screen(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot)
        screen = await open_risk(pilot, app)
        # Tighten a limit below what the account holds now: it is breached at once.
        held = next(
            m for m in engine.risk.evaluate().metrics if m.limit_id == "gold-index-positions"
        )
        assert held.value >= 2
        await engine.risk.update(
            "gold-index-positions", {"warning": None, "threshold": held.value - 1}
        )
        limits = screen.query_one(LimitsTable)
        await until(
            pilot, lambda: str(limits.get_cell("gold-index-positions", "level")) == "breach"
        )
        assert next(iter(limits.ordered_rows)).key.value == "gold-index-positions"
        assert engine.risk.level("gold-index-positions") is RiskLevel.BREACH
        alerts = screen.query_one(AlertsTable)
        await until(pilot, lambda: alerts.row_count > 0)
        messages = [str(alerts.get_row_at(i)[4]) for i in range(alerts.row_count)]
        assert any("gold-index-positions" in m or "max_open_positions" in m for m in messages)
