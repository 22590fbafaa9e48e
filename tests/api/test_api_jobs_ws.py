"""The `jobs` stream channel: a snapshot for the jobs pane, then every state
change and progress report of every job, scoped to a key's accounts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.jobs import Handler, JobContext
from tests.api.conftest import ApiFactory
from tests.api.ws_support import Message, Stream, connect
from tests.conftest import EngineFactory


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = None


async def _steps(ctx: JobContext, args: Args) -> str:
    for percent in (25, 50, 75):
        await ctx.progress(percent, f"{percent}% done")
    return "done"


def _job_event(job_id: int, state: str) -> Any:
    def match(message: Message) -> bool:
        return (
            message["type"] == "event"
            and message["channel"] == "jobs"
            and message["data"].get("kind") == "job"
            and message["data"]["job"]["id"] == job_id
            and message["data"]["job"]["state"] == state
        )

    return match


async def test_jobs_channel_snapshot_then_changes(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    engine = await engine_factory(start=False)
    engine.jobs.registry.register(Handler("steps", _steps, "three steps", Args))
    await engine.start(run_loops=False)
    api = await api_factory(engine)
    trader = api.client("trader")

    async with connect(api.url, api.keys["viewer"]) as stream:
        snapshot = await stream.subscribe("jobs")
        data = snapshot["data"]
        assert data["stats"]["runners"] == 4 and data["running"] == [] and data["recent"] == []
        assert {s["name"] for s in data["schedules"]} >= {"reconcile-30m", "purge-history"}

        job = (await trader.post("/api/v1/jobs", json={"handler": "steps"})).json()
        pending = await stream.until(_job_event(job["id"], "pending"))
        completed = await stream.until(_job_event(job["id"], "completed"))
        progress = [
            m["data"]["job"]["progress"] for m in stream.seen if _job_event(job["id"], "running")(m)
        ]
        assert progress == [0, 25, 50, 75]
        assert completed["data"]["job"]["result"] == "done"
        assert stream.seen.index(pending) < stream.seen.index(completed)
        seqs = [m["seq"] for m in stream.seen]
        assert seqs == list(range(1, len(seqs) + 1))

        await api.client("admin").post("/api/v1/schedules/purge-history/disable")
        changed = await stream.until(
            lambda m: m["type"] == "event" and m["data"].get("kind") == "schedule"
        )
        assert changed["data"]["schedule"]["name"] == "purge-history"
        assert changed["data"]["schedule"]["enabled"] is False


async def test_jobs_channel_is_scoped_to_a_keys_accounts(
    engine_factory: EngineFactory, api_factory: ApiFactory
) -> None:
    engine = await engine_factory(start=False)
    engine.jobs.registry.register(Handler("steps", _steps, "three steps", Args))
    await engine.start(run_loops=False)
    api = await api_factory(engine)
    trader = api.client("trader")

    async with connect(api.url, api.keys["scoped"]) as stream:
        snapshot = await stream.subscribe("jobs")
        assert snapshot["data"]["stats"] is None and snapshot["data"]["schedules"] == []
        system = (await trader.post("/api/v1/jobs", json={"handler": "steps"})).json()
        other = (
            await trader.post(
                "/api/v1/jobs", json={"handler": "steps", "args": {"account_id": "account-002"}}
            )
        ).json()
        own = (
            await trader.post(
                "/api/v1/jobs", json={"handler": "steps", "args": {"account_id": "account-001"}}
            )
        ).json()
        await stream.until(_job_event(own["id"], "completed"))
        seen = _ids(stream)
    assert own["id"] in seen and system["id"] not in seen and other["id"] not in seen


def _ids(stream: Stream) -> set[int]:
    return {
        m["data"]["job"]["id"]
        for m in stream.seen
        if m["type"] == "event" and m["data"].get("kind") == "job"
    }
