"""The jobs, schedules and analytics endpoints on a real server: roles,
account scoping, 422 for an unknown handler or bad arguments, 200 vs 201 on
a dedup key, cancellation, the dead-letter queue, and the CSV export."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from engine.engine import Engine
from engine.jobs import Handler, JobContext
from engine.models import DailyReport
from tests.api.conftest import Api, ApiFactory
from tests.conftest import EngineFactory


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = None
    fail: bool = False


async def _hold(ctx: JobContext, args: Args) -> str:
    """Runs until cancelled, checking in every virtual second."""
    while True:
        await ctx.progress(50, "holding")
        await ctx.clock.sleep(1)


async def _quick(ctx: JobContext, args: Args) -> dict[str, Any]:
    if args.fail:
        raise RuntimeError("asked to fail")
    return {"account": args.account_id}


async def _served(engine_factory: EngineFactory, api_factory: ApiFactory) -> Api:
    engine = await engine_factory(start=False)
    engine.jobs.registry.register(Handler("hold", _hold, "runs until cancelled", Args))
    engine.jobs.registry.register(Handler("quick", _quick, "returns its account", Args))
    await engine.start(run_loops=False)
    return await api_factory(engine)


async def _until_state(client: httpx.AsyncClient, job_id: int, state: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
            if job["state"] == state:
                return job
            await asyncio.sleep(0.02)


async def test_enqueue_roles_and_validation(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    viewer, trader = api.client("viewer"), api.client("trader")

    refused = await viewer.post("/api/v1/jobs", json={"handler": "quick"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"

    unknown = await trader.post("/api/v1/jobs", json={"handler": "nope"})
    assert unknown.status_code == 422
    assert "Unknown job handler 'nope'" in unknown.json()["error"]["message"]
    bad = await trader.post("/api/v1/jobs", json={"handler": "quick", "args": {"fail": "often"}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["fields"][0]["path"] == "body.args.fail"
    assert (await viewer.get("/api/v1/jobs")).json()["total"] == 0  # nothing stored

    created = await trader.post(
        "/api/v1/jobs",
        json={"handler": "quick", "args": {"account_id": "account-002"}, "priority": "high"},
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["priority"] == "high" and job["account_id"] == "account-002"
    done = await _until_state(viewer, job["id"], "completed")
    assert done["result"] == {"account": "account-002"}
    result = await viewer.get(f"/api/v1/jobs/{job['id']}/result")
    assert result.json()["result"] == {"account": "account-002"}

    handlers = {h["name"]: h for h in (await viewer.get("/api/v1/jobs/handlers")).json()}
    assert {"reconcile_account", "equity_snapshot", "purge_history", "quick"} <= set(handlers)
    assert handlers["purge_history"]["args_schema"]["properties"]["days"]["minimum"] == 1


async def test_dedup_cancel_stats_and_scoping(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    viewer, trader, scoped = api.client("viewer"), api.client("trader"), api.client("scoped")
    body = {"handler": "hold", "args": {"account_id": "account-002"}, "dedup_key": "hold-2"}
    first = await trader.post("/api/v1/jobs", json=body)
    again = await trader.post("/api/v1/jobs", json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    job_id = first.json()["id"]
    running = await _until_state(viewer, job_id, "running")
    assert running["attempts"] == 1

    stats = (await viewer.get("/api/v1/jobs/stats")).json()
    assert stats["running"] == 1 and set(stats["queued"]) == {"critical", "high", "normal", "low"}
    listed = (await viewer.get("/api/v1/jobs", params={"state": ["running"]})).json()
    assert [j["id"] for j in listed["items"]] == [job_id]

    # A key limited to account-001 sees nothing of account-002's job.
    assert (await scoped.get(f"/api/v1/jobs/{job_id}")).status_code == 404
    assert (await scoped.post(f"/api/v1/jobs/{job_id}/cancel")).status_code == 404
    assert (await scoped.get("/api/v1/jobs")).json()["total"] == 0
    other = await scoped.post("/api/v1/jobs", json={"handler": "quick"})
    assert other.status_code == 403  # a system-wide job
    own = await scoped.post(
        "/api/v1/jobs", json={"handler": "quick", "args": {"account_id": "account-001"}}
    )
    assert own.status_code == 201

    assert (await viewer.post(f"/api/v1/jobs/{job_id}/cancel")).status_code == 403
    asked = await trader.post(f"/api/v1/jobs/{job_id}/cancel")
    assert asked.status_code == 200 and asked.json()["cancel_requested"] is True
    await api.engine.clock.advance(1)
    await _until_state(viewer, job_id, "cancelled")
    conflict = await trader.post(f"/api/v1/jobs/{job_id}/cancel")
    assert conflict.status_code == 409
    assert (await viewer.get("/api/v1/jobs/999999")).status_code == 404


async def test_dead_letter_queue_roles(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    viewer, trader, admin = api.client("viewer"), api.client("trader"), api.client("admin")
    job = (
        await trader.post(
            "/api/v1/jobs", json={"handler": "quick", "args": {"fail": True}, "max_retries": 0}
        )
    ).json()
    dead = await _until_state(viewer, job["id"], "dead")
    assert dead["error"] == "RuntimeError: asked to fail" and "Traceback" in dead["traceback"]
    dlq = (await viewer.get("/api/v1/jobs/dlq")).json()
    assert [j["id"] for j in dlq["items"]] == [job["id"]]
    alerts = (await viewer.get("/api/v1/risk/alerts")).json()["items"]
    assert any(a["kind"] == "job_dead" and a["data"]["job_id"] == job["id"] for a in alerts)

    assert (await viewer.post(f"/api/v1/jobs/dlq/{job['id']}/retry")).status_code == 403
    retried = await trader.post(f"/api/v1/jobs/dlq/{job['id']}/retry")
    assert retried.status_code == 200 and retried.json()["state"] == "pending"
    await _until_state(viewer, job["id"], "dead")

    assert (await trader.delete("/api/v1/jobs/dlq")).status_code == 403
    cleared = await admin.delete("/api/v1/jobs/dlq")
    assert cleared.status_code == 200 and cleared.json() == {"deleted": 1}
    assert (await viewer.get("/api/v1/jobs/dlq")).json()["total"] == 0


async def test_schedules_roles_and_lifecycle(api: Api) -> None:
    viewer, trader, admin = api.client("viewer"), api.client("trader"), api.client("admin")
    defaults = {s["name"] for s in (await viewer.get("/api/v1/schedules")).json()}
    assert {"reconcile-30m", "equity-snapshot-1h", "purge-history"} <= defaults

    body = {"name": "snap-5m", "handler": "equity_snapshot", "every_seconds": 300}
    assert (await trader.post("/api/v1/schedules", json=body)).status_code == 403
    created = await admin.post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["next_run_at"] == "2026-01-05T09:05:00Z"
    replaced = await admin.post("/api/v1/schedules", json={**body, "every_seconds": 600})
    assert replaced.status_code == 200 and replaced.json()["every_seconds"] == 600

    bad = await admin.post(
        "/api/v1/schedules", json={"name": "x", "handler": "purge_history", "cron": "99 * * * *"}
    )
    assert bad.status_code == 422 and "Invalid cron rule" in bad.json()["error"]["message"]
    bad_args = await admin.post(
        "/api/v1/schedules",
        json={"name": "y", "handler": "purge_history", "args": {"days": 0}, "every_seconds": 60},
    )
    assert bad_args.status_code == 422

    disabled = await admin.post("/api/v1/schedules/snap-5m/disable")
    assert disabled.json()["enabled"] is False and disabled.json()["next_run_at"] is None
    assert (await admin.post("/api/v1/schedules/snap-5m/disable")).status_code == 409
    run = await trader.post("/api/v1/schedules/snap-5m/run")
    assert run.status_code == 201 and run.json()["schedule"] == "snap-5m"
    assert (await viewer.post("/api/v1/schedules/snap-5m/run")).status_code == 403
    enabled = await admin.post("/api/v1/schedules/snap-5m/enable")
    assert enabled.json()["enabled"] is True
    assert (await admin.delete("/api/v1/schedules/snap-5m")).status_code == 204
    assert (await admin.delete("/api/v1/schedules/snap-5m")).status_code == 404


async def test_analytics_export_json_and_csv(api: Api) -> None:
    engine: Engine = api.engine
    day = date(2026, 1, 5)
    reports = [
        DailyReport(
            day=day,
            account_id=account,
            start_equity=Decimal("10000"),
            end_equity=Decimal(end),
            pnl=Decimal(end) - Decimal("10000"),
            trades=3,
            metrics={"total_return": ret, "sharpe": None},
            created_at=engine.clock.now(),
        )
        for account, end, ret in (("account-001", "10100", 0.01), ("total", "10100", 0.01))
    ]
    await engine.store.reports.save(reports)
    viewer, scoped = api.client("viewer"), api.client("scoped")

    as_json = await viewer.get("/api/v1/analytics/export")
    assert as_json.headers["content-type"].startswith("application/json")
    assert [r["account_id"] for r in as_json.json()] == ["account-001", "total"]
    assert as_json.json()[0]["pnl"] == "100"
    as_csv = await viewer.get("/api/v1/analytics/export", headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.splitlines()
    assert lines[0] == "day,account_id,start_equity,end_equity,pnl,trades,sharpe,total_return"
    assert lines[1] == "2026-01-05,account-001,10000,10100,100,3,,0.01"
    assert len(lines) == 3

    trends = (await viewer.get("/api/v1/analytics/trends", params={"metric": "pnl"})).json()
    assert trends["series"]["total"] == [{"day": "2026-01-05", "value": 100.0}]
    scoped_trends = (await scoped.get("/api/v1/analytics/trends")).json()
    assert set(scoped_trends["series"]) == {"account-001"}  # not the total

    dashboard = (await viewer.get("/api/v1/analytics/dashboard")).json()
    assert dashboard["day"] == "2026-01-05" and len(dashboard["reports"]) == 2
    assert dashboard["jobs"]["runners"] == 4
    bad = await viewer.get("/api/v1/analytics/trends", params={"metric": "luck"})
    assert bad.status_code == 422


async def test_models_train_list_and_deploy(api: Api) -> None:
    viewer, trader = api.client("viewer"), api.client("trader")
    strategy_id = "account-001:ma_crossover:1"
    bad = await trader.post(
        "/api/v1/models/train", json={"kind": "ma_crossover", "grid": {"fast": [2]}}
    )
    assert bad.status_code == 422 and "symbol" in bad.json()["error"]["message"]
    unknown = await trader.post(
        "/api/v1/models/train",
        json={"kind": "ma_crossover", "symbol": "EURUSD", "grid": {"speed": [2]}},
    )
    assert unknown.status_code == 422 and "no parameter speed" in unknown.text
    assert (
        await viewer.post("/api/v1/models/train", json={"strategy_id": strategy_id})
    ).status_code == 403

    job = await trader.post(
        "/api/v1/models/train",
        json={
            "strategy_id": strategy_id,
            "grid": {"fast": [2, 4], "slow": [6, 10]},
            "hours": 0.25,
            "objective": "total_return",
        },
    )
    assert job.status_code == 201, job.text
    done = await _until_state(viewer, job.json()["id"], "completed")
    assert done["progress"] == 100 and done["result"]["tried"] == 4

    table = (
        await viewer.get(
            "/api/v1/models",
            params={"job_id": done["id"], "sort": "rank", "order": "asc"},
        )
    ).json()
    assert table["total"] == 4 and [m["rank"] for m in table["items"]] == [1, 2, 3, 4]
    best = table["items"][0]
    assert (await viewer.get(f"/api/v1/models/{best['id']}")).json() == best

    body = {"model_id": best["id"]}
    assert (await viewer.post("/api/v1/models/deploy", json=body)).status_code == 403
    deployed = await trader.post("/api/v1/models/deploy", json=body)
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["id"] == strategy_id and deployed.json()["params"] == best["params"]
    live = (await viewer.get(f"/api/v1/strategies/{strategy_id}")).json()
    assert live["params"] == best["params"]
    wrong = await trader.post(
        "/api/v1/models/deploy", json={"model_id": best["id"], "strategy_id": "nope"}
    )
    assert wrong.status_code == 409
    assert (await trader.post("/api/v1/models/deploy", json={"model_id": 99999})).status_code == 404
