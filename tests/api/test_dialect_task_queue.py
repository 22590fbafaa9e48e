"""The task queue's documented examples against a real server: create a task
and poll `.data.status` until it ends, list with pagination and filters,
cancel with PUT, delete, and the error envelope for an unknown task name."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import SCOPED_ACCOUNT, Api, ApiFactory
from tests.api.test_api_task_figures import _served
from tests.conftest import EngineFactory


async def _until_ended(api: Api, task_id: str) -> dict[str, Any]:
    """The seed's polling loop: until `completed` or `failed` (or `cancelled`)."""
    client = api.client("viewer")
    async with asyncio.timeout(10):
        while True:
            body = (await client.get(f"/api/v1/tasks/{task_id}")).json()
            if body["data"]["status"] in ("completed", "failed", "cancelled"):
                return body
            await api.engine.clock.advance(0.5)


async def test_create_and_monitor_a_task(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    created = await trader.post(
        "/api/v1/tasks",
        json={
            "name": "work",
            "description": "Process data",
            "priority": "high",
            "payload": {"account_id": SCOPED_ACCOUNT},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "success" and body["timestamp"]
    task = body["data"]
    assert (task["name"], task["description"], task["priority"], task["status"]) == (
        "work",
        "Process data",
        "high",
        "pending",
    )
    done = await _until_ended(api, task["id"])
    assert done["data"]["status"] == "completed"
    assert done["data"]["result"] == "done"
    assert done["data"]["duration"] == 2.0
    assert done["data"]["worker_id"].startswith("runner-")

    failing = (
        await trader.post("/api/v1/tasks", json={"name": "work", "payload": {"fail": True}})
    ).json()["data"]
    assert failing["priority"] == "medium"
    assert (await _until_ended(api, failing["id"]))["data"]["status"] == "failed"
    again = await trader.put(f"/api/v1/tasks/{failing['id']}", json={"status": "pending"})
    assert again.status_code == 200, again.text
    assert again.json()["data"]["status"] == "pending"


async def test_list_filters_paginates_and_sorts(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    for n in range(3):
        payload = {"account_id": SCOPED_ACCOUNT} if n == 0 else {}
        created = await trader.post("/api/v1/tasks", json={"name": "work", "payload": payload})
        assert created.status_code == 201
    ids = [t["id"] for t in (await trader.get("/api/v1/tasks")).json()["data"]]
    for task_id in ids:
        await _until_ended(api, task_id)
    page = (await trader.get("/api/v1/tasks", params={"skip": 0, "limit": 2})).json()
    assert page["pagination"] == {"skip": 0, "limit": 2, "total": 3, "pages": 2}
    assert len(page["data"]) == 2
    longest = (await trader.get("/api/v1/tasks", params={"sort": "duration"})).json()["data"]
    assert longest[0]["payload"]["account_id"] == SCOPED_ACCOUNT  # 2 s, the others 1 s
    completed = (await trader.get("/api/v1/tasks", params={"status": "completed"})).json()
    assert completed["pagination"]["total"] == 3
    assert (await trader.get("/api/v1/tasks", params={"status": "running"})).json()["data"] == []
    runner = longest[0]["worker_id"]
    by_runner = (await trader.get("/api/v1/tasks", params={"worker_id": runner})).json()
    assert {t["worker_id"] for t in by_runner["data"]} == {runner}
    scoped = (await api.client("scoped").get("/api/v1/tasks")).json()
    assert [t["payload"]["account_id"] for t in scoped["data"]] == [SCOPED_ACCOUNT]
    assert scoped["pagination"]["total"] == 1


async def test_cancel_delete_and_errors_in_the_envelope(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    unknown = await trader.post("/api/v1/tasks", json={"name": "Process Data"})
    assert unknown.status_code == 422, unknown.text
    error = unknown.json()
    assert error["status"] == "error" and error["timestamp"]
    assert error["error"]["code"] == "INVALID_REQUEST"
    assert "Process Data" in error["error"]["message"]
    assert (await trader.get("/api/v1/tasks")).json()["pagination"]["total"] == 0

    task = (await trader.post("/api/v1/tasks", json={"name": "work"})).json()["data"]
    busy = await trader.delete(f"/api/v1/tasks/{task['id']}")
    assert busy.status_code == 409 and busy.json()["status"] == "error"
    cancelled = await trader.put(f"/api/v1/tasks/{task['id']}", json={"status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    # Running: asked to stop, it ends at its next checkpoint.
    assert cancelled.json()["data"]["status"] == "running"
    assert (await _until_ended(api, task["id"]))["data"]["status"] == "cancelled"
    bad = await trader.put(f"/api/v1/tasks/{task['id']}", json={"priority": "low"})
    assert bad.status_code == 422
    assert (await api.client("viewer").delete(f"/api/v1/tasks/{task['id']}")).status_code == 403
    assert (await trader.delete(f"/api/v1/tasks/{task['id']}")).status_code == 204
    gone = await trader.get(f"/api/v1/tasks/{task['id']}")
    assert gone.status_code == 404 and gone.json()["status"] == "error"
    v1 = await trader.get("/api/v1/jobs/999999")
    assert "status" not in v1.json()  # v1's errors keep their shape
