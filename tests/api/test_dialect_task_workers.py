"""The task queue's workers and streams against a real server: a process's
heartbeat and `/workers/status` with it, `/ws/tasks` following a task to its
end, `/ws/metrics` counting it; the control panel's `/ws`; and `?token=` on
the stream only where the operator allows it."""

from __future__ import annotations

import functools

import pytest
import websockets

from config.models import DialectSettings
from tests.api.conftest import SCOPED_ACCOUNT, ApiFactory
from tests.api.test_api_task_figures import _served
from tests.api.ws_support import connect
from tests.conftest import EngineFactory

BEAT = {"worker_id": "worker-001", "status": "active", "current_load": 5, "max_capacity": 10}


async def test_a_heartbeat_lists_the_worker_until_it_falls_silent(api_factory: ApiFactory) -> None:
    api = await api_factory()
    trader = api.client("trader")
    beat = await trader.post("/api/v1/workers/heartbeat", json=BEAT)
    assert beat.status_code == 200, beat.text
    body = beat.json()
    assert body["status"] == "success" and body["timestamp"]
    assert body["data"] | {"last_heartbeat": None} == {
        "worker_id": "worker-001",
        "kind": "external",
        "account_id": None,
        "status": "active",
        "healthy": True,
        "current_load": 5,
        "max_capacity": 10,
        "last_heartbeat": None,
    }

    status = (await api.client("viewer").get("/workers/status")).json()
    assert status["status"] == "success"
    workers = {w["worker_id"]: w for w in status["data"]["workers"]}
    trading = [w for w in workers.values() if w["kind"] == "trading"]
    assert {w["account_id"] for w in trading} == {w.account_id for w in api.engine.workers()}
    assert all(w["status"] == "running" and w["healthy"] for w in trading)
    assert workers["engine-runners"]["max_capacity"] == api.engine.settings.jobs.runners
    assert workers["worker-001"]["status"] == "active"
    summary = status["data"]["summary"]
    assert summary == {"total": len(workers), "healthy": len(workers), "unhealthy": 0}

    await api.engine.clock.advance(61)
    silent = (await api.client("viewer").get("/workers/status")).json()["data"]
    external = next(w for w in silent["workers"] if w["worker_id"] == "worker-001")
    assert (external["status"], external["healthy"]) == ("offline", False)
    assert silent["summary"]["unhealthy"] == 1
    await trader.post("/api/v1/workers/heartbeat", json=BEAT | {"status": "busy"})
    back = (await api.client("viewer").get("/workers/status")).json()["data"]
    assert next(w for w in back["workers"] if w["worker_id"] == "worker-001")["status"] == "busy"

    audit = (await api.client("admin").get("/api/v1/audit", params={"limit": 100})).json()
    registered = [e for e in audit["items"] if e["action"] == "task_worker.register"]
    assert len(registered) == 1  # the first report only


async def test_heartbeats_that_cannot_be_taken(api_factory: ApiFactory) -> None:
    api = await api_factory()
    trader = api.client("trader")
    own = await trader.post("/api/v1/workers/heartbeat", json=BEAT | {"worker_id": SCOPED_ACCOUNT})
    assert own.status_code == 409
    assert own.json()["status"] == "error"
    assert "trading worker" in own.json()["error"]["message"]
    over = await trader.post("/api/v1/workers/heartbeat", json=BEAT | {"current_load": 11})
    assert over.status_code == 422
    assert "max_capacity" in over.json()["error"]["message"]
    bad = await trader.post("/api/v1/workers/heartbeat", json=BEAT | {"status": "sleeping"})
    assert bad.status_code == 422
    viewer = await api.client("viewer").post("/api/v1/workers/heartbeat", json=BEAT)
    assert viewer.status_code == 403
    scoped = await api.client("scoped").post("/api/v1/workers/heartbeat", json=BEAT)
    assert scoped.status_code == 403
    # v1's worker routes beside it are untouched.
    assert (await trader.get(f"/api/v1/workers/{SCOPED_ACCOUNT}")).status_code == 200
    # A scoped key sees its own trading worker only.
    mine = (await api.client("scoped").get("/workers/status")).json()["data"]["workers"]
    assert [(w["kind"], w["account_id"]) for w in mine] == [("trading", SCOPED_ACCOUNT)]


async def test_ws_tasks_follows_a_task_to_its_end(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    api = await _served(engine_factory, api_factory)
    async with connect(api.url, api.keys["viewer"], path="/ws/tasks", welcome=False) as stream:
        connected = await stream.recv()
        assert connected["type"] == "connected" and connected["data"]["role"] == "viewer"
        assert "seq" not in connected
        tasks = await stream.recv()
        assert tasks["type"] == "tasks" and isinstance(tasks["data"], list)
        created = await api.client("trader").post("/api/v1/tasks", json={"name": "work"})
        task_id = created.json()["data"]["id"]
        seen: list[str] = []
        while "completed" not in seen:
            await api.engine.clock.advance(0.5)
            update = await stream.until(lambda m: m["type"] == "task_update")
            assert update["data"]["id"] == task_id and update["timestamp"]
            seen.append(update["data"]["status"])
        assert seen[0] == "pending" and "running" in seen
        assert update["data"]["result"] == "done"

    # A key limited to an account hears only its account's tasks.
    async with connect(api.url, api.keys["scoped"], path="/ws/tasks", welcome=False) as stream:
        await stream.expect("tasks")
        trader = api.client("trader")
        await trader.post("/api/v1/tasks", json={"name": "work"})
        mine = await trader.post(
            "/api/v1/tasks", json={"name": "work", "payload": {"account_id": SCOPED_ACCOUNT}}
        )
        update = await stream.expect("task_update")
        assert update["data"]["id"] == mine.json()["data"]["id"]


async def test_ws_metrics_sends_the_figures_as_they_change(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    often = DialectSettings(ws_metrics_seconds=0.2)
    api = await _served(engine_factory, functools.partial(api_factory, dialects=often))
    async with connect(api.url, api.keys["viewer"], path="/ws/metrics", welcome=False) as stream:
        assert (await stream.recv())["type"] == "connected"
        first = await stream.expect("metrics")
        assert first["data"]["total_tasks"] == 0
        assert first["data"]["workers_active"] == first["data"]["workers_total"] > 0
        await api.client("trader").post("/api/v1/tasks", json={"name": "work"})
        counted = await stream.until(lambda m: m["type"] == "metrics" and m["data"]["total_tasks"])
        assert counted["data"]["pending_tasks"] + counted["data"]["completed_tasks"] >= 0
        assert set(counted["data"]) == {
            "total_tasks",
            "completed_tasks",
            "failed_tasks",
            "pending_tasks",
            "completion_rate",
            "average_duration",
            "workers_active",
            "workers_total",
        }
    refused = connect(api.url, "tdk_nope_nope", path="/ws/metrics", welcome=False)
    async with refused as stream:
        assert (await stream.closed())[0] == 1008


async def test_control_panel_ws_subscribes_to_what_the_seed_lists(api_factory: ApiFactory) -> None:
    api = await api_factory()
    async with connect(api.url, api.keys["viewer"], path="/ws") as stream:
        snapshots = set()
        while len(snapshots) < 4:
            snapshots.add((await stream.expect("snapshot"))["channel"])
        assert snapshots == {"system", "signals", "alerts", "jobs"}
        listed = (await api.client("admin").get("/api/v1/connections")).json()["items"]
        assert [(c["path"], c["framing"]) for c in listed] == [("/ws", "v1")]


async def test_a_token_in_the_url_only_where_the_operator_allows_it(
    api_factory: ApiFactory,
) -> None:
    closed = await api_factory()
    query = f"token={closed.keys['viewer']}"
    async with connect(closed.url, query=query, welcome=False) as stream:
        code, reason = await stream.closed()
    assert code == 1008 and "ws_query_token" in reason and stream.seen == []

    open_ = await api_factory(closed.engine, dialects=DialectSettings(ws_query_token=True))
    async with connect(open_.url, query=f"token={open_.keys['viewer']}") as stream:
        await stream.subscribe("workers")
        listed = (await open_.client("admin").get("/api/v1/connections")).json()["items"]
        assert [(c["auth"], c["path"]) for c in listed] == [("query", "/api/v1/ws")]
    for name in ("api_key", "access_token"):  # only `token`, the seeds' name
        async with connect(open_.url, query=f"{name}=x", welcome=False) as stream:
            assert (await stream.closed())[0] == 1008
    async with connect(open_.url, query="token=tdk_nope_nope", welcome=False) as stream:
        assert (await stream.closed())[0] == 1008


async def test_the_task_queue_and_portfolio_dialects_can_be_switched_off(
    api_factory: ApiFactory,
) -> None:
    api = await api_factory(dialects=DialectSettings(task_queue=False, portfolio=False))
    trader = api.client("trader")
    assert (await trader.get("/api/v1/tasks")).status_code == 404
    assert (await trader.get("/workers/status")).status_code == 404
    beat = await trader.post("/api/v1/workers/heartbeat", json=BEAT)
    assert beat.status_code in (404, 405)  # v1's /workers/{account_id} is all that is left
    assert (await trader.post("/webhooks", json={"url": "http://x"})).status_code in (404, 405)
    for path in ("/strategies", "/portfolio", "/catalog", "/performance"):
        assert (await trader.get(path)).status_code == 404, path
    assert (await trader.get("/api/v1/catalog")).status_code == 200  # v1 stays
    with pytest.raises(websockets.InvalidStatus):  # no such socket: the handshake is refused
        async with connect(api.url, api.keys["viewer"], path="/ws/tasks", welcome=False):
            pass
