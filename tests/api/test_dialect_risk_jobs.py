"""The jobs paths of the risk, market-data and jobs API (`/api/v1/jobs/...`):
the seed's documented requests replayed against a real server, checked for the
fields it documents; its literal paths are never captured by v1's
`/jobs/{job_id}`; v1 keeps its own shape where the seed names a v1 path."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from config.models import DialectSettings
from tests.api.conftest import Api, ApiFactory
from tests.api.test_api_jobs_rest import _served
from tests.conftest import EngineFactory

JOBS = "/api/v1/jobs"
PRIORITIES = {"critical", "high", "normal", "low"}


async def _until(client: httpx.AsyncClient, job_id: int, status: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            job: dict[str, Any] = (await client.get(f"{JOBS}/job/{job_id}")).json()
            if job["status"] == status:
                return job
            await asyncio.sleep(0.02)


async def test_enqueue_status_result_as_documented(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    enqueued = await trader.post(
        f"{JOBS}/enqueue",
        json={
            "name": "quick",
            "args": {"account_id": "account-002"},
            "priority": "high",
            "max_retries": 3,
            "timeout": 300,
        },
    )
    assert enqueued.status_code == 200, enqueued.text
    assert enqueued.json()["status"] == "enqueued"
    job_id = enqueued.json()["job_id"]

    job = await _until(trader, job_id, "completed")
    assert job.keys() >= {
        "id", "name", "args", "status", "priority", "created_at", "started_at",
        "completed_at", "result", "retry_count", "max_retries",
    }  # fmt: skip
    assert (job["name"], job["priority"], job["retry_count"], job["max_retries"]) == (
        "quick",
        "high",
        0,
        3,
    )
    assert job["result"] == {"account": "account-002"} and job["completed_at"]

    result = await trader.get(f"{JOBS}/job/{job_id}/result")
    assert result.json() == {
        "job_id": job_id,
        "status": "completed",
        "result": {"account": "account-002"},
        "error": None,
    }
    # v1 answers the same job in its own words.
    v1 = (await trader.get(f"{JOBS}/{job_id}")).json()
    assert (v1["handler"], v1["state"]) == ("quick", "completed")


async def test_an_unknown_name_is_a_422_and_nothing_is_stored(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    unknown = await trader.post(f"{JOBS}/enqueue", json={"name": "sync_portfolio"})
    assert unknown.status_code == 422
    assert "sync_portfolio" in unknown.json()["error"]["message"]
    assert (await trader.get(JOBS)).json()["total"] == 0
    assert (
        await api.client("viewer").post(f"{JOBS}/enqueue", json={"name": "quick"})
    ).status_code == 403


async def test_pending_cancel_and_queue_counts(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader, viewer = api.client("trader"), api.client("viewer")
    await api.engine.jobs.stop()  # nothing runs: what is enqueued stays pending
    ids = []
    for priority in ("high", "low", "low"):
        answer = await trader.post(f"{JOBS}/enqueue", json={"name": "quick", "priority": priority})
        ids.append(answer.json()["job_id"])

    pending = (await viewer.get(f"{JOBS}/pending", params={"limit": 2})).json()
    assert pending["count"] == 3 and len(pending["jobs"]) == 2
    assert all(j["status"] == "pending" for j in pending["jobs"])
    low = (await viewer.get(f"{JOBS}/pending", params={"priority": "low"})).json()
    assert low["count"] == 2 and {j["priority"] for j in low["jobs"]} == {"low"}

    queue = (await viewer.get(f"{JOBS}/queue/stats")).json()
    assert queue["pending"] == {"critical": 0, "high": 1, "normal": 0, "low": 2}
    assert queue["total_pending"] == 3 and queue["processing"] == 0

    cancelled = await trader.post(f"{JOBS}/job/{ids[0]}/cancel")
    assert cancelled.json() == {"job_id": ids[0], "status": "cancelled"}
    assert (await trader.post(f"{JOBS}/job/{ids[0]}/cancel")).status_code == 409
    assert (await viewer.get(f"{JOBS}/pending")).json()["count"] == 2
    assert (await viewer.get(f"{JOBS}/job/999999")).status_code == 404


async def test_health_and_runner_stats_count_outcomes(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader, viewer = api.client("trader"), api.client("viewer")
    ok = (await trader.post(f"{JOBS}/enqueue", json={"name": "quick"})).json()["job_id"]
    bad = await trader.post(
        f"{JOBS}/enqueue", json={"name": "quick", "args": {"fail": True}, "max_retries": 0}
    )
    await _until(trader, ok, "completed")
    dead = await _until(trader, bad.json()["job_id"], "failed")
    assert dead["error"] == "RuntimeError: asked to fail"

    health = (await viewer.get(f"{JOBS}/health")).json()
    assert health["running"] is True and health["timestamp"]
    assert health["scheduler"]["running"] is True
    assert set(health["queue"]["pending"]) == PRIORITIES
    assert health["queue"]["dead_letter"] == 1
    workers = health["workers"]
    assert (workers["jobs_processed"], workers["jobs_succeeded"], workers["jobs_failed"]) == (
        2,
        1,
        1,
    )
    assert workers["success_rate"] == 50.0
    assert workers == (await viewer.get(f"{JOBS}/workers/stats")).json()
    # The runners' counts cover every account: a scoped key is refused them.
    scoped = api.client("scoped")
    assert (await scoped.get(f"{JOBS}/workers/stats")).status_code == 403
    assert (await scoped.get(f"{JOBS}/queue/stats")).json()["dead_letter"] == 0


async def test_scheduled_tasks_register_run_enable_disable_delete(api: Api) -> None:
    admin, trader, viewer = api.client("admin"), api.client("trader"), api.client("viewer")
    registered = await admin.post(
        f"{JOBS}/scheduled/register",
        json={
            "name": "my_custom_task",
            "job_name": "equity_snapshot",
            "schedule_type": "interval",
            "interval_seconds": 300,
            "args": {},
            "priority": "normal",
            "enabled": True,
        },
    )
    assert registered.status_code == 200, registered.text
    task = registered.json()
    assert (task["name"], task["job_name"], task["schedule_type"], task["enabled"]) == (
        "my_custom_task",
        "equity_snapshot",
        "interval",
        True,
    )
    assert task["next_run"] is not None
    again = await admin.post(
        f"{JOBS}/scheduled/register",
        json={"name": "my_custom_task", "job_name": "equity_snapshot",
              "schedule_type": "interval", "interval_seconds": 60},
    )  # fmt: skip
    assert again.status_code == 409
    unknown = await admin.post(
        f"{JOBS}/scheduled/register",
        json={"name": "x", "job_name": "nope", "schedule_type": "interval", "interval_seconds": 60},
    )
    assert unknown.status_code == 422

    triggered = await trader.post(f"{JOBS}/scheduled/my_custom_task/run")
    assert triggered.status_code == 200
    assert triggered.json()["task_name"] == "my_custom_task"
    assert triggered.json()["status"] in {"triggered", "already_active"}

    await api.engine.clock.advance(301)  # the rule fires once
    await api.engine.quiesce()
    listed = (await viewer.get(f"{JOBS}/scheduled")).json()["tasks"]
    mine = next(t for t in listed if t["name"] == "my_custom_task")
    assert mine["run_count"] == 1 and mine["last_run"] is not None
    stats = (await viewer.get(f"{JOBS}/scheduler/stats")).json()
    assert stats["total_tasks"] == len(listed) and stats["run_count"] >= 1

    assert (await trader.post(f"{JOBS}/scheduled/my_custom_task/disable")).status_code == 403
    disabled = await admin.post(f"{JOBS}/scheduled/my_custom_task/disable")
    assert disabled.json()["enabled"] is False and disabled.json()["next_run"] is None
    enabled = await admin.post(f"{JOBS}/scheduled/my_custom_task/enable")
    assert enabled.json()["enabled"] is True
    assert (await admin.delete(f"{JOBS}/scheduled/my_custom_task")).status_code == 204
    assert (await admin.delete(f"{JOBS}/scheduled/my_custom_task")).status_code == 404


async def test_literal_paths_are_not_captured_and_v1_keeps_its_shapes(api: Api) -> None:
    viewer = api.client("viewer")
    for path in ("health", "pending", "scheduled", "queue/stats", "scheduler/stats"):
        answer = await viewer.get(f"{JOBS}/{path}")
        assert answer.status_code == 200, (path, answer.text)
    v1_stats = (await viewer.get(f"{JOBS}/stats")).json()
    assert v1_stats.keys() == {"queued", "states", "running", "dead", "runners"}
    assert "items" in (await viewer.get(f"{JOBS}/dlq")).json()


async def test_the_dialect_can_be_switched_off(api_factory: ApiFactory) -> None:
    api = await api_factory(dialects=DialectSettings(risk_jobs=False))
    viewer = api.client("viewer")
    assert (await viewer.get(f"{JOBS}/scheduled/stats")).status_code in {404, 422}
    assert (await viewer.get(f"{JOBS}/job/1")).status_code == 404
    assert (await viewer.get(f"{JOBS}/stats")).status_code == 200
    # Its cache and connection paths go with it; v1's stay.
    assert (await viewer.get("/api/v1/cache/health")).status_code == 404
    assert (await viewer.get("/api/v1/websocket/stats")).status_code == 404
    assert (await viewer.get("/api/v1/cache/stats")).status_code == 200
