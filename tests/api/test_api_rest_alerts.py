"""`/risk/alerts`: listing with filters, acknowledging and resolving, roles and
account scoping; the new status is stored."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import AlertStatus, Severity


@pytest.fixture
async def alerts(api: Any) -> dict[str, int]:
    """Three alerts: one for account-001, one for account-002, one system-wide."""
    raise_alert = api.engine.alerts.raise_alert
    raised = {
        "mine": raise_alert(
            "risk_limit", Severity.HIGH, "daily loss near its limit", account_id="account-001"
        ),
        "other": raise_alert(
            "worker_error", Severity.LOW, "worker restarted", account_id="account-002"
        ),
        "system": raise_alert("job_dead", Severity.CRITICAL, "backup job dead-lettered"),
    }
    await api.engine.quiesce()
    return {name: alert.id for name, alert in raised.items()}


async def test_alerts_newest_first_with_filters(api: Any, alerts: dict[str, int]) -> None:
    viewer = api.client("viewer")
    page = (await viewer.get("/api/v1/risk/alerts")).json()
    assert [a["id"] for a in page["items"]] == [alerts["system"], alerts["other"], alerts["mine"]]
    assert page["total"] == 3

    critical = (await viewer.get("/api/v1/risk/alerts", params={"severity": "critical"})).json()
    assert [a["id"] for a in critical["items"]] == [alerts["system"]]
    by_account = (await viewer.get("/api/v1/risk/alerts", params={"account": "account-002"})).json()
    assert [a["id"] for a in by_account["items"]] == [alerts["other"]]
    resolved = (await viewer.get("/api/v1/risk/alerts", params={"status": "resolved"})).json()
    assert resolved["items"] == []
    assert (await viewer.get("/api/v1/risk/alerts", params={"severity": "dire"})).status_code == 422
    assert (await api.client().get("/api/v1/risk/alerts")).status_code == 401


async def test_acknowledge_then_resolve(api: Any, alerts: dict[str, int]) -> None:
    trader = api.client("trader")
    alert_id = alerts["mine"]

    acknowledged = await trader.post(f"/api/v1/risk/alerts/{alert_id}/acknowledge")
    assert acknowledged.status_code == 200
    body = acknowledged.json()
    assert body["status"] == "acknowledged" and body["acknowledged_at"] is not None
    again = await trader.post(f"/api/v1/risk/alerts/{alert_id}/acknowledge")
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"

    resolved = await trader.post(f"/api/v1/risk/alerts/{alert_id}/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert (await trader.post(f"/api/v1/risk/alerts/{alert_id}/resolve")).status_code == 409

    listed = (await trader.get("/api/v1/risk/alerts", params={"status": "resolved"})).json()
    assert [a["id"] for a in listed["items"]] == [alert_id]
    await api.engine.quiesce()
    stored = await api.engine.store.alerts.list(status=AlertStatus.RESOLVED)
    assert [a.id for a in stored] == [alert_id]


async def test_an_alert_can_be_resolved_without_acknowledging_it(
    api: Any, alerts: dict[str, int]
) -> None:
    resolved = await api.client("trader").post(f"/api/v1/risk/alerts/{alerts['other']}/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"


async def test_acting_on_alerts_needs_the_trader_role(api: Any, alerts: dict[str, int]) -> None:
    viewer = api.client("viewer")
    for action in ("acknowledge", "resolve"):
        response = await viewer.post(f"/api/v1/risk/alerts/{alerts['mine']}/{action}")
        assert response.status_code == 403
    statuses = {a.id: a.status for a in api.engine.alerts.recent()}
    assert statuses[alerts["mine"]] is AlertStatus.TRIGGERED
    assert (
        await api.client().post(f"/api/v1/risk/alerts/{alerts['mine']}/resolve")
    ).status_code == 401


async def test_unknown_alerts_are_not_found(api: Any) -> None:
    trader = api.client("trader")
    missing = await trader.post("/api/v1/risk/alerts/4242/acknowledge")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert (await trader.post("/api/v1/risk/alerts/latest/resolve")).status_code == 422


async def test_a_scoped_key_sees_and_touches_only_its_accounts_alerts(
    api: Any, alerts: dict[str, int]
) -> None:
    scoped = api.client("scoped")
    listed = (await scoped.get("/api/v1/risk/alerts")).json()
    assert [a["id"] for a in listed["items"]] == [alerts["mine"]]
    for name in ("other", "system"):
        response = await scoped.post(f"/api/v1/risk/alerts/{alerts[name]}/acknowledge")
        assert response.status_code == 404, name
    statuses = {a.id: a.status for a in api.engine.alerts.recent()}
    assert statuses[alerts["other"]] is AlertStatus.TRIGGERED
    assert (
        await scoped.post(f"/api/v1/risk/alerts/{alerts['mine']}/acknowledge")
    ).status_code == 200
