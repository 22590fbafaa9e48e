"""`/system`: status, trading mode, start/stop/restart of every worker, and the
health of the engine's components, against a real server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.domain import SystemMode
from engine.models import WorkerState
from engine.security.principal import Role


async def scoped_admin(api: Any) -> Any:
    """An admin key limited to account-001."""
    _, key = await api.security.create_key(
        role=Role.ADMIN, name="scoped-admin", accounts=["account-001"]
    )
    client = api.client()
    client.headers["Authorization"] = f"Bearer {key}"
    return client


def states(api: Any) -> dict[str, WorkerState]:
    return {w.account_id: w.status for w in api.engine.workers()}


async def test_status_is_read_by_any_role_and_never_anonymously(api: Any) -> None:
    response = await api.client("viewer").get("/api/v1/system/status")
    assert response.status_code == 200
    status = response.json()
    assert (status["state"], status["mode"]) == ("running", "paper")
    assert (status["workers_total"], status["workers_running"]) == (4, 4)
    assert Decimal(status["total_equity"]) == api.engine.status().total_equity

    assert (await api.client().get("/api/v1/system/status")).status_code == 401


async def test_a_scoped_key_sees_the_totals_of_its_accounts_only(api: Any) -> None:
    await api.engine.clock.advance(30)
    # Let the fills and marks of those 30 s land, so both reads see one picture.
    await api.engine.quiesce()
    status = (await api.client("scoped").get("/api/v1/system/status")).json()
    portfolio = (await api.client("scoped").get("/api/v1/portfolio")).json()
    assert (status["workers_total"], status["workers_running"]) == (1, 1)
    assert status["total_equity"] == portfolio["total"]["equity"]
    assert Decimal(status["total_equity"]) < api.engine.status().total_equity


async def test_admin_switches_between_paper_and_live(api: Any) -> None:
    admin = api.client("admin")
    response = await admin.post("/api/v1/system/mode", json={"mode": "live"})
    assert response.status_code == 200
    assert response.json()["mode"] == "live"
    assert api.engine.settings.engine.mode is SystemMode.LIVE
    assert (await admin.get("/api/v1/system/status")).json()["mode"] == "live"

    back = await admin.post("/api/v1/system/mode", json={"mode": "paper"})
    assert back.json()["mode"] == "paper"


async def test_mode_is_for_unscoped_admins_and_halted_only_for_the_kill_switch(
    api: Any,
) -> None:
    body = {"mode": "live"}
    assert (await api.client("trader").post("/api/v1/system/mode", json=body)).status_code == 403
    limited = await scoped_admin(api)
    assert (await limited.post("/api/v1/system/mode", json=body)).status_code == 403

    halted = await api.client("admin").post("/api/v1/system/mode", json={"mode": "halted"})
    assert halted.status_code == 422
    assert halted.json()["error"]["details"]["fields"][0]["path"] == "body.mode"
    assert api.engine.settings.engine.mode is SystemMode.PAPER


async def test_a_halted_system_is_not_resumed_by_a_mode_change(api: Any) -> None:
    api.engine.settings.engine.mode = SystemMode.HALTED  # as the kill switch leaves it
    response = await api.client("admin").post("/api/v1/system/mode", json={"mode": "paper"})
    assert response.status_code == 409
    assert "kill switch" in response.json()["error"]["message"]
    assert api.engine.settings.engine.mode is SystemMode.HALTED


async def test_stop_start_and_restart_every_worker(api: Any) -> None:
    admin = api.client("admin")
    assert (await api.client("trader").post("/api/v1/system/stop")).status_code == 403

    stopped = (await admin.post("/api/v1/system/stop")).json()
    assert stopped["action"] == "stop"
    assert sorted(stopped["succeeded"]) == [
        "account-001",
        "account-002",
        "account-003",
        "account-004",
    ]
    assert stopped["failed"] == {}
    assert stopped["status"]["workers_running"] == 0
    assert set(states(api).values()) == {WorkerState.STOPPED}
    assert (await admin.post("/api/v1/system/stop")).json()["succeeded"] == []

    started = (await admin.post("/api/v1/system/start")).json()
    assert len(started["succeeded"]) == 4
    assert set(states(api).values()) == {WorkerState.RUNNING}

    before = {w.account_id: w.worker_id for w in api.engine.workers()}
    restarted = (await admin.post("/api/v1/system/restart")).json()
    assert len(restarted["succeeded"]) == 4
    after = {w.account_id: w.worker_id for w in api.engine.workers()}
    assert all(after[a] != before[a] for a in before), "a restart gives every worker a new id"
    assert set(states(api).values()) == {WorkerState.RUNNING}


async def test_a_scoped_admin_starts_and_stops_only_its_accounts(api: Any) -> None:
    limited = await scoped_admin(api)
    stopped = (await limited.post("/api/v1/system/stop")).json()
    assert stopped["succeeded"] == ["account-001"]
    assert states(api) == {
        "account-001": WorkerState.STOPPED,
        "account-002": WorkerState.RUNNING,
        "account-003": WorkerState.RUNNING,
        "account-004": WorkerState.RUNNING,
    }
    assert (await limited.post("/api/v1/system/start")).json()["succeeded"] == ["account-001"]
    assert states(api)["account-001"] is WorkerState.RUNNING


async def test_component_health_reports_each_component(api: Any) -> None:
    await api.engine.clock.advance(5)
    response = await api.client("viewer").get("/api/v1/system/health/components")
    assert response.status_code == 200
    health = response.json()
    components = {c["name"]: c for c in health["components"]}
    assert set(components) == {"engine", "store", "market", "workers", "process"}
    assert health["status"] == "ok"
    assert all(c["status"] == "ok" for c in components.values())
    assert components["market"]["details"]["quoted"] == components["market"]["details"]["symbols"]
    assert components["workers"]["details"]["by_state"]["running"] == 4
    assert components["store"]["details"]["failed"] == 0


async def test_a_worker_in_error_degrades_health_for_those_who_see_it(api: Any) -> None:
    worker = api.engine.manager.get("account-002")
    worker.set_state(WorkerState.ERROR, error="broker connection refused")

    health = (await api.client("viewer").get("/api/v1/system/health/components")).json()
    workers = next(c for c in health["components"] if c["name"] == "workers")
    assert (health["status"], workers["status"]) == ("degraded", "degraded")
    assert workers["details"]["errors"] == {"account-002": "broker connection refused"}

    scoped = (await api.client("scoped").get("/api/v1/system/health/components")).json()
    workers = next(c for c in scoped["components"] if c["name"] == "workers")
    assert workers["status"] == "ok"
    assert workers["details"]["total"] == 1 and workers["details"]["errors"] == {}
