"""What the task queue's clients read from v1: the dashboard's task figures,
job trends, a job's runner and description, sorting by duration, deleting an
ended job, the login's `token`, and health with version and uptime."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from engine.jobs import Handler, JobContext
from engine.security.principal import Role
from engine.version import version
from tests.api.conftest import SCOPED_ACCOUNT, Api, ApiFactory
from tests.api.test_api_jobs_rest import Args
from tests.conftest import EngineFactory


async def _work(ctx: JobContext, args: Args) -> str:
    await ctx.clock.sleep(2 if args.account_id else 1)
    ctx.checkpoint()
    if args.fail:
        raise RuntimeError("asked to fail")
    return "done"


async def _served(engine_factory: EngineFactory, api_factory: ApiFactory) -> Api:
    engine = await engine_factory(start=False)
    engine.settings.jobs.default_max_retries = 0
    engine.jobs.registry.register(Handler("work", _work, "sleeps, maybe fails", Args))
    await engine.start(run_loops=False)
    return await api_factory(engine)


async def _ended(api: Api, client: httpx.AsyncClient, job_id: int) -> dict[str, Any]:
    """The job once it has ended, the virtual clock moved on in half seconds."""
    async with asyncio.timeout(10):
        while True:
            job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
            if job["state"] in ("completed", "dead"):
                return job
            await api.engine.clock.advance(0.5)


async def test_dashboard_and_trends_count_the_callers_jobs(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    bodies = [
        {"handler": "work", "args": {"account_id": SCOPED_ACCOUNT}, "description": "mine"},
        {"handler": "work", "args": {"account_id": "account-002"}},
        {"handler": "work", "args": {"fail": True}},
    ]
    ids = [(await trader.post("/api/v1/jobs", json=b)).json()["id"] for b in bodies]
    jobs = [await _ended(api, trader, i) for i in ids]
    assert [j["state"] for j in jobs] == ["completed", "completed", "dead"]
    assert jobs[0]["description"] == "mine"
    assert jobs[0]["runner"] is not None  # the runner that ran it stays named
    listed = (await trader.get("/api/v1/jobs", params={"runner": jobs[0]["runner"]})).json()
    assert ids[0] in {j["id"] for j in listed["items"]}
    by_duration = (
        await trader.get("/api/v1/jobs", params={"sort": "duration", "order": "desc"})
    ).json()["items"]
    assert by_duration[0]["args"].get("account_id") is not None  # the 2 s ones first

    board = (await trader.get("/api/v1/analytics/dashboard")).json()
    assert (board["total_tasks"], board["completed_tasks"], board["failed_tasks"]) == (3, 2, 1)
    assert board["pending_tasks"] == 0
    assert board["completion_rate"] == round(2 / 3, 4)
    assert board["average_duration"] == 2.0
    assert board["workers_total"] == len(api.engine.settings.accounts)
    scoped = (await api.client("scoped").get("/api/v1/analytics/dashboard")).json()
    assert (scoped["total_tasks"], scoped["completed_tasks"], scoped["workers_total"]) == (1, 1, 1)

    for metric, value in (("completion_rate", round(2 / 3, 4)), ("error_rate", round(1 / 3, 4))):
        trend = (await trader.get("/api/v1/analytics/trends", params={"metric": metric})).json()
        assert [p["value"] for p in trend["series"]["jobs"]] == [value]
    duration = (
        await api.client("scoped").get(
            "/api/v1/analytics/trends", params={"metric": "avg_duration"}
        )
    ).json()
    assert [p["value"] for p in duration["series"]["jobs"]] == [2.0]


async def test_an_ended_job_is_deleted_and_an_active_one_refused(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    trader = api.client("trader")
    job = (await trader.post("/api/v1/jobs", json={"handler": "work", "delay_seconds": 60})).json()
    refused = await trader.delete(f"/api/v1/jobs/{job['id']}")
    assert refused.status_code == 409, refused.text
    assert "cancel it" in refused.json()["error"]["message"]
    assert (await trader.post(f"/api/v1/jobs/{job['id']}/cancel")).status_code == 200
    assert (await api.client("viewer").delete(f"/api/v1/jobs/{job['id']}")).status_code == 403
    assert (await trader.delete(f"/api/v1/jobs/{job['id']}")).status_code == 204
    assert (await trader.get(f"/api/v1/jobs/{job['id']}")).status_code == 404


async def test_health_info_and_the_logins_token(api: Api) -> None:
    anonymous = api.client()
    health = (await anonymous.get("/health")).json()
    assert (health["status"], health["version"]) == ("ok", version())
    assert health["uptime_seconds"] >= 0 and health["timestamp"]
    info = (await anonymous.get("/info")).json()
    assert (info["environment"], info["mode"], info["debug"]) == ("paper", "paper", False)
    api.engine.settings.server.environment = "staging"
    assert (await anonymous.get("/info")).json()["environment"] == "staging"
    await api.security.add_user("ops", "a long passphrase", Role.VIEWER)
    login = await anonymous.post(
        "/api/v1/auth/login", json={"username": "ops", "password": "a long passphrase"}
    )
    assert login.status_code == 200, login.text
    assert login.json()["token"] == login.json()["access_token"]
