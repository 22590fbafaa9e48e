"""The worker manager's API at its own paths (`/api/workers`): the seed's
documented requests replayed against a real server, each checked for the
status and the fields the seed documents."""

from __future__ import annotations

from typing import Any

from config.models import DialectSettings
from tests.api.conftest import Api, ApiFactory
from tests.api.test_api_security_audit import entries, key_actor

# The fields of the seed's WorkerInfoResponse.
WORKER_FIELDS = {
    "worker_id",
    "account_id",
    "status",
    "created_at",
    "started_at",
    "stopped_at",
    "error",
    "metadata",
}
VALIDATION_FIELDS = {"valid", "account_id", "errors", "warnings", "has_errors", "has_warnings"}


def assert_worker(body: dict[str, Any], account_id: str, status: str) -> None:
    assert WORKER_FIELDS <= body.keys()
    assert (body["account_id"], body["status"]) == (account_id, status)


async def test_list_is_a_bare_array_of_workers(api: Api) -> None:
    response = await api.client("viewer").get("/api/workers")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [w["account_id"] for w in body] == [w.account_id for w in api.engine.workers()]
    for worker in body:
        assert WORKER_FIELDS <= worker.keys()


async def test_stop_start_restart_as_the_seed_documents(api: Api) -> None:
    trader = api.client("trader")
    stopped = await trader.post("/api/workers/account-001/stop", json={"timeout": 30.0})
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == {"success": True, "message": "Worker stopped for account account-001"}
    assert api.engine.worker("account-001").status.value == "stopped"

    started = await trader.post(
        "/api/workers/account-001/start", json={"apply_defaults": True, "validate": True}
    )
    assert started.status_code == 201, started.text
    assert_worker(started.json(), "account-001", "running")

    restarted = await trader.post("/api/workers/account-001/restart")
    assert restarted.status_code == 200
    assert_worker(restarted.json(), "account-001", "running")
    assert restarted.json()["worker_id"] != started.json()["worker_id"]

    info = await trader.get("/api/workers/account-001")
    assert info.status_code == 200
    assert info.json()["worker_id"] == restarted.json()["worker_id"]


async def test_unknown_worker_is_404_and_stopping_twice_is_a_conflict(api: Api) -> None:
    trader = api.client("trader")
    assert (await trader.get("/api/workers/account-999")).status_code == 404
    assert (await trader.post("/api/workers/account-999/stop")).status_code == 404
    assert (await trader.post("/api/workers/account-001/stop")).status_code == 200
    again = await trader.post("/api/workers/account-001/stop")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


async def test_batch_stop_and_start_with_the_seeds_query(api: Api) -> None:
    trader = api.client("trader")
    running = sum(1 for w in api.engine.workers() if w.status.value == "running")
    stopped = await trader.post("/api/workers/stop-all", params={"timeout": 30.0})
    assert stopped.status_code == 200
    assert stopped.json() == {"stopped_count": running}

    started = await trader.post(
        "/api/workers/start-all", params={"apply_defaults": "true", "validate": "true"}
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["started_count"] == len(body["started_workers"]) >= 1
    for account_id, worker in body["started_workers"].items():
        assert_worker(worker, account_id, "running")


async def test_validation_shapes(api: Api) -> None:
    viewer = api.client("viewer")
    one = await viewer.get("/api/workers/account-001/validate")
    assert one.status_code == 200
    assert one.json().keys() == VALIDATION_FIELDS
    assert one.json()["account_id"] == "account-001"

    every = await viewer.get("/api/workers/validate-all")
    assert every.status_code == 200
    body = every.json()
    assert body.keys() == {"total_count", "valid_count", "invalid_count", "results"}
    assert body["total_count"] == len(api.engine.workers()) == len(body["results"])
    assert body["valid_count"] + body["invalid_count"] == body["total_count"]


async def test_roles_scopes_audit_and_rate_limits_are_v1s(api: Api) -> None:
    assert (await api.client().get("/api/workers")).status_code == 401
    refused = await api.client("viewer").post("/api/workers/account-001/stop")
    assert refused.status_code == 403

    scoped = api.client("scoped")
    listed = await scoped.get("/api/workers")
    assert [w["account_id"] for w in listed.json()] == ["account-001"]
    assert (await scoped.get("/api/workers/account-002")).status_code == 404
    assert (await scoped.post("/api/workers/account-002/stop")).status_code == 404
    batch = await scoped.post("/api/workers/stop-all")
    assert batch.json() == {"stopped_count": 1}
    assert api.engine.worker("account-002").status.value == "running"

    trader = api.client("trader")
    answer = await trader.post("/api/workers/account-002/stop", headers={"X-Request-ID": "d-1"})
    assert answer.headers["x-ratelimit-limit"]
    [entry] = await entries(api, actor=key_actor(api, "trader"))
    assert entry["action"] == "POST /api/workers/{account_id}/stop"
    assert (entry["target"], entry["outcome"], entry["request_id"]) == (
        "/api/workers/account-002/stop",
        "ok",
        "d-1",
    )


async def test_the_dialect_can_be_switched_off(api_factory: ApiFactory) -> None:
    api = await api_factory(dialects=DialectSettings(workers=False))
    viewer = api.client("viewer")
    assert (await viewer.get("/api/workers")).status_code == 404
    assert (await viewer.get("/api/v1/workers")).status_code == 200
    paths = (await viewer.get("/api/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/api/workers")]


async def test_v1_finds_a_worker_by_its_worker_id_too(api: Api) -> None:
    viewer = api.client("viewer")
    worker_id = api.engine.worker("account-002").worker_id
    assert worker_id is not None
    found = await viewer.get(f"/api/v1/workers/{worker_id}")
    assert found.status_code == 200
    assert found.json()["account_id"] == "account-002"
    assert (await api.client("scoped").get(f"/api/v1/workers/{worker_id}")).status_code == 404
    assert (await viewer.get("/api/v1/workers/account-002-00000000")).status_code == 404
