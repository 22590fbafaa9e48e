"""Alerts show their severity in colour; high and critical ones also pop up."""

from __future__ import annotations

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import Severity
from tests.tui.helpers import notifications, ready, row_keys, table, until
from tui.app import TradeDeckApp


async def test_high_and_critical_alerts_pop_up_once_and_lower_ones_do_not(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        raised = {
            severity: engine.alerts.raise_alert(
                "risk_limit", severity, f"{severity.value} thing", account_id="account-002"
            )
            for severity in Severity
        }
        ids = sorted(str(a.id) for a in raised.values() if a is not None)
        await until(pilot, lambda: set(ids) <= set(row_keys(app, "alerts")))
        await until(pilot, lambda: len(_alert_notes(app)) == 2)
        high, critical = _alert_notes(app)
        assert (high.title, high.severity) == ("High alert", "warning")
        assert high.message == "account-002: high thing"
        assert (critical.title, critical.severity) == ("Critical alert", "error")

        alerts = table(app, "alerts")
        styles = {
            severity: alerts.get_cell(str(raised[severity].id), "severity").style  # type: ignore[union-attr]
            for severity in Severity
        }
        assert styles[Severity.CRITICAL] == "bold white on red"
        assert styles[Severity.HIGH] == "bold red"
        assert styles[Severity.MEDIUM] == "yellow"

        # Acknowledging changes the alert but raises no second pop-up.
        critical_alert = raised[Severity.CRITICAL]
        assert critical_alert is not None and critical_alert.id is not None
        await engine.alerts.acknowledge(critical_alert.id)
        await until(
            pilot,
            lambda: str(alerts.get_cell(str(critical_alert.id), "status")) == "acknowledged",
        )
        assert len(_alert_notes(app)) == 2


def _alert_notes(app: TradeDeckApp) -> list:
    return [n for n in notifications(app) if n.title.endswith(" alert")]
