"""Strategies and instruments over REST: add, inspect, pause, resume and remove
strategies; add, change and delete instruments; with validation, roles, scoped
keys and the audit log."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import SCOPED_ACCOUNT, Api

STRATEGIES = "/api/v1/strategies"
INSTRUMENTS = "/api/v1/instruments"
NEW = {"account": "account-001", "kind": "donchian_breakout", "params": {"period": 4}}
AAPL = {"symbol": "AAPL", "digits": 2, "point": "0.01", "start_price": "180.00"}


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["path"] for f in response.json()["error"]["details"]["fields"]]


async def audit_actions(api: Api) -> list[tuple[str, str, str]]:
    entries = (await api.client("admin").get("/api/v1/audit", params={"limit": 500})).json()
    return [(e["action"], e["target"], e["outcome"]) for e in entries["items"]]


async def test_a_trader_adds_pauses_resumes_and_removes_a_strategy(api: Api) -> None:
    trader = api.client("trader")

    created = await trader.post(STRATEGIES, json={**NEW, "symbols": ["EURUSD"], "timeframe": "S5"})

    assert created.status_code == 201, created.text
    strategy = created.json()
    strategy_id = strategy["id"]
    assert strategy_id == "account-001:donchian_breakout:3"
    assert (strategy["state"], strategy["symbols"], strategy["params"]) == (
        "running",
        ["EURUSD"],
        {"period": 4},
    )
    assert (await trader.get(f"{STRATEGIES}/{strategy_id}")).json() == strategy
    listed = await trader.get(STRATEGIES, params={"account": "account-001"})
    assert strategy_id in [s["id"] for s in listed.json()["items"]]

    paused = await trader.put(f"{STRATEGIES}/{strategy_id}/pause")
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert (await trader.put(f"{STRATEGIES}/{strategy_id}/pause")).json()["state"] == "paused"
    resumed = await trader.put(f"{STRATEGIES}/{strategy_id}/resume")
    assert resumed.json()["state"] == "running"

    removed = await trader.delete(f"{STRATEGIES}/{strategy_id}")
    assert (removed.status_code, removed.json()["state"]) == (200, "stopped")
    gone = await trader.get(f"{STRATEGIES}/{strategy_id}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "NOT_FOUND")

    actions = await audit_actions(api)
    for action, target in [
        ("strategy.add", "account-001"),
        ("strategy.pause", strategy_id),
        ("strategy.resume", strategy_id),
        ("strategy.remove", strategy_id),
    ]:
        assert (action, target, "ok") in actions


async def test_bad_strategies_get_422_naming_each_field(api: Api) -> None:
    trader = api.client("trader")
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({**NEW, "params": {"period": 1}}, ["body.params.period"]),
        ({**NEW, "kind": "grid"}, ["body.kind"]),
        ({**NEW, "symbols": ["EURUSD", "XAUUSD"]}, ["body.symbols.1"]),
        ({**NEW, "timeframe": "M2"}, ["body.timeframe"]),
        ({**NEW, "risk": {"risk_percent": 0}}, ["body.risk.risk_percent"]),
        ({**NEW, "owner": "me"}, ["body.owner"]),
        ({"kind": "donchian_breakout"}, ["body.account"]),
    ]
    for body, paths in cases:
        assert fields(await trader.post(STRATEGIES, json=body)) == paths, body
    message = (await trader.post(STRATEGIES, json={**NEW, "params": {"period": 1}})).json()
    assert "params.period" in message["error"]["message"]
    taken = await trader.post(STRATEGIES, json={**NEW, "id": "account-001:ma_crossover:1"})
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "CONFLICT")
    assert ("strategy.add", "account-001", "INVALID_REQUEST") in await audit_actions(api)
    assert (
        len((await trader.get(STRATEGIES, params={"account": "account-001"})).json()["items"]) == 2
    )


async def test_unknown_strategies_and_accounts_are_404(api: Api) -> None:
    trader = api.client("trader")
    for method, path in [
        ("GET", f"{STRATEGIES}/nope"),
        ("PUT", f"{STRATEGIES}/nope/pause"),
        ("PUT", f"{STRATEGIES}/nope/resume"),
        ("DELETE", f"{STRATEGIES}/nope"),
    ]:
        response = await trader.request(method, path)
        assert response.status_code == 404, (method, path)
    missing = await trader.post(STRATEGIES, json={**NEW, "account": "account-404"})
    assert missing.status_code == 404


async def test_roles_guard_every_mutation(api: Api) -> None:
    viewer = api.client("viewer")
    anonymous = api.client()
    strategy_id = "account-001:ma_crossover:1"
    mutations = [
        ("POST", STRATEGIES, NEW),
        ("PUT", f"{STRATEGIES}/{strategy_id}/pause", None),
        ("PUT", f"{STRATEGIES}/{strategy_id}/resume", None),
        ("DELETE", f"{STRATEGIES}/{strategy_id}", None),
    ]
    for method, path, body in mutations:
        denied = await viewer.request(method, path, json=body)
        assert (denied.status_code, denied.json()["error"]["code"]) == (403, "FORBIDDEN")
        assert (await anonymous.request(method, path, json=body)).status_code == 401
    assert (await anonymous.get(STRATEGIES)).status_code == 401
    assert api.engine.strategy(strategy_id).state.value == "running"


async def test_a_scoped_key_sees_and_touches_only_its_accounts(api: Api) -> None:
    scoped = api.client("scoped")
    other = "account-002:donchian_breakout:1"

    listed = (await scoped.get(STRATEGIES)).json()["items"]
    assert {s["account_id"] for s in listed} == {SCOPED_ACCOUNT}
    for method, path in [
        ("GET", f"{STRATEGIES}/{other}"),
        ("PUT", f"{STRATEGIES}/{other}/pause"),
        ("DELETE", f"{STRATEGIES}/{other}"),
    ]:
        assert (await scoped.request(method, path)).status_code == 404, (method, path)
    foreign = await scoped.post(STRATEGIES, json={**NEW, "account": "account-002"})
    assert foreign.status_code == 404
    assert api.engine.strategy(other).state.value == "running"

    own = await scoped.put(f"{STRATEGIES}/{SCOPED_ACCOUNT}:ma_crossover:1/pause")
    assert own.json()["state"] == "paused"
    assert (await scoped.post(STRATEGIES, json=NEW)).status_code == 201


async def test_an_admin_adds_changes_and_deletes_an_instrument(api: Api) -> None:
    admin = api.client("admin")

    created = await admin.post(INSTRUMENTS, json=AAPL)
    assert created.status_code == 201, created.text
    assert (created.json()["symbol"], created.json()["point"]) == ("AAPL", "0.01")
    assert (await admin.post(INSTRUMENTS, json=AAPL)).status_code == 409

    changed = await admin.put(
        f"{INSTRUMENTS}/AAPL", json={**AAPL, "symbol": None} | {"volume_max": "5"}
    )
    assert fields(changed) == ["body.symbol"]  # the symbol is the path's
    body = {k: v for k, v in AAPL.items() if k != "symbol"} | {"volume_max": "5"}
    changed = await admin.put(f"{INSTRUMENTS}/AAPL", json=body)
    assert (changed.status_code, changed.json()["volume_max"]) == (200, "5")
    assert (await admin.get(f"{INSTRUMENTS}/AAPL")).json()["volume_max"] == "5"

    deleted = await admin.delete(f"{INSTRUMENTS}/AAPL")
    assert deleted.status_code == 200
    assert (await admin.get(f"{INSTRUMENTS}/AAPL")).status_code == 404
    assert (await admin.delete(f"{INSTRUMENTS}/AAPL")).status_code == 404
    actions = await audit_actions(api)
    assert ("instrument.add", "AAPL", "ok") in actions
    assert ("instrument.delete", "AAPL", "ok") in actions


async def test_instrument_edits_are_validated_and_guarded(api: Api) -> None:
    admin = api.client("admin")
    assert fields(await admin.post(INSTRUMENTS, json={**AAPL, "point": "0.015"})) == ["body.point"]
    assert fields(await admin.post(INSTRUMENTS, json={**AAPL, "digits": 11})) == ["body.digits"]
    assert fields(await admin.post(INSTRUMENTS, json={**AAPL, "symbol": "A B"})) == ["body.symbol"]

    in_use = await admin.delete(f"{INSTRUMENTS}/EURUSD")
    assert in_use.status_code == 409
    error = in_use.json()["error"]
    assert "account-001" in error["message"] and "account-004" in error["message"]
    assert error["details"]["used_by"]["accounts"] == ["account-001", "account-004"]

    for role in ("viewer", "trader", "scoped"):
        denied = await api.client(role).post(INSTRUMENTS, json=AAPL)
        assert denied.status_code == 403, role
    assert (await api.client().delete(f"{INSTRUMENTS}/EURUSD")).status_code == 401
    assert "AAPL" not in api.engine.settings.instruments
