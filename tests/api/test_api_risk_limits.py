"""`/risk/limits` and `/risk/evaluate`: everyone reads, admins change limits
(a limit binds the traders, so they cannot loosen it), keys limited to some
accounts see and change only their accounts' limits (404 for the others)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

LIMITS = "/api/v1/risk/limits"
NEW = {
    "id": "fx-size",
    "scope": "symbol",
    "account_id": "account-001",
    "symbol": "EURUSD",
    "kind": "max_position_size",
    "warning": "1.5",
    "threshold": "2",
}


async def test_everyone_reads_the_limits_and_only_admins_change_them(api: Api) -> None:
    viewer, trader, admin = api.client("viewer"), api.client("trader"), api.client("admin")
    page = (await viewer.get(LIMITS)).json()
    demo = {item["id"] for item in page["items"]}
    assert "book-drawdown" in demo and page["total"] == len(demo)
    assert (await viewer.post(LIMITS, json=NEW)).status_code == 403
    refused = await trader.post(LIMITS, json=NEW)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"

    created = await admin.post(LIMITS, json=NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["id"], body["threshold"], body["origin"]) == ("fx-size", "2", "runtime")
    assert (await viewer.get(f"{LIMITS}/fx-size")).json() == body
    duplicate = await admin.post(LIMITS, json=NEW)
    assert duplicate.status_code == 409

    changed = await admin.put(f"{LIMITS}/fx-size", json={"threshold": "3", "warning": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["threshold"], changed.json()["warning"]) == ("3", None)
    assert changed.json()["symbol"] == "EURUSD"  # left out: kept
    assert (await trader.put(f"{LIMITS}/fx-size", json={"threshold": "9"})).status_code == 403

    deleted = await admin.delete(f"{LIMITS}/fx-size")
    assert deleted.status_code == 200 and deleted.json()["id"] == "fx-size"
    missing = await viewer.get(f"{LIMITS}/fx-size")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert (await api.client().get(LIMITS)).status_code == 401


async def test_bad_limits_are_422_naming_the_field(api: Api) -> None:
    admin = api.client("admin")
    cases: dict[str, dict[str, Any]] = {
        "body.warning": {**NEW, "warning": "2"},
        "body.account_id": {**NEW, "account_id": "account-999"},
        "body.kind": {**NEW, "kind": "max_leverage"},
        "body.threshold": {**NEW, "threshold": "-1"},
        "body.colour": {**NEW, "colour": "red"},
    }
    for field, body in cases.items():
        response = await admin.post(LIMITS, json=body)
        assert response.status_code == 422, (field, response.text)
        error = response.json()["error"]
        assert error["code"] == "INVALID_REQUEST"
        assert field in {f["path"] for f in error["details"]["fields"]}, (field, error)
    bad_change = await admin.put(f"{LIMITS}/book-drawdown", json={"warning": "50"})
    assert bad_change.status_code == 422
    assert (await admin.get(f"{LIMITS}/book-drawdown")).json()["warning"] == "10"


async def test_filters_and_account_scoping(api: Api) -> None:
    viewer, scoped = api.client("viewer"), api.client("scoped")
    mine = (await viewer.get(LIMITS, params={"account": "account-004"})).json()["items"]
    assert {item["id"] for item in mine} == {"balanced-order-rate", "balanced-drawdown"}
    drawdowns = (await viewer.get(LIMITS, params={"kind": "max_drawdown"})).json()["items"]
    assert {item["scope"] for item in drawdowns} == {"global", "account"}

    seen = {item["id"] for item in (await scoped.get(LIMITS)).json()["items"]}
    assert seen == {"book-drawdown", "fx-trend-daily-loss"}  # all accounts' and its own
    assert (await scoped.get(f"{LIMITS}/balanced-drawdown")).status_code == 404


async def test_evaluate_returns_metrics_violations_and_warnings(api: Api) -> None:
    response = await api.client("viewer").post("/api/v1/risk/evaluate")
    assert response.status_code == 200, response.text
    evaluation = response.json()
    metrics = {m["limit_id"]: m for m in evaluation["metrics"]}
    assert set(metrics) >= {"book-drawdown", "gold-index-positions"}
    drawdown = metrics["book-drawdown"]
    assert (drawdown["unit"], drawdown["threshold"], drawdown["level"]) == ("%", "20", "ok")
    assert evaluation["violations"] == [] and evaluation["warnings"] == []
    assert evaluation["kill_switch"]["engaged"] is False
    assert {b["account_id"] for b in evaluation["books"]} >= {"account-001", "*"}

    scoped = (await api.client("scoped").post("/api/v1/risk/evaluate")).json()
    assert {m["limit_id"] for m in scoped["metrics"]} == {"book-drawdown", "fx-trend-daily-loss"}
    assert {b["account_id"] for b in scoped["books"]} == {"account-001"}


async def test_limit_changes_are_audited_and_streamed_as_events(api: Api) -> None:
    events = api.engine.subscribe()
    admin = api.client("admin")
    assert (await admin.post(LIMITS, json=NEW)).status_code == 201
    audit = (await admin.get("/api/v1/audit", params={"limit": 500})).json()["items"]
    assert any(e["action"] == "risk_limit.create" and e["outcome"] == "ok" for e in audit)
    event = await events.get()
    while event.kind != "risk_limit":
        event = await events.get()
    assert event.limit.id == "fx-size" and event.deleted is False  # type: ignore[union-attr]
    await events.close()


async def test_changing_a_limits_action_is_stored_and_audited(api: Api) -> None:
    """`action` is both a limit's field and the audit record's own name for what
    was done: the change must reach both without the one shadowing the other."""
    admin = api.client("admin")
    changed = await admin.put(f"{LIMITS}/fx-trend-daily-loss", json={"action": "pause"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["action"] == "pause"
    audit = (await admin.get("/api/v1/audit", params={"action": "risk_limit.update"})).json()
    record = audit["items"][0]
    assert (record["target"], record["outcome"]) == ("fx-trend-daily-loss", "ok")
    assert record["details"]["action"] == "pause"

    for field in ("scope", "action"):
        refused = await admin.put(f"{LIMITS}/fx-trend-daily-loss", json={field: None})
        assert refused.status_code == 422, (field, refused.text)
        assert f"body.{field}" in {f["path"] for f in refused.json()["error"]["details"]["fields"]}
    assert (await admin.get(f"{LIMITS}/fx-trend-daily-loss")).json()["action"] == "pause"
