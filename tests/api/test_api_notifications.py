"""The notification router against real HTTP receivers on 127.0.0.1: rules
send alerts to an Apprise target (a JSON webhook), the same alert at most
once per interval; signed webhooks registered over the API; a receiver that
fails gets its retries, then the dead-letter queue, whose alert reaches the
other destinations and the alerts pane; `tradedeck notify test`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from config.loader import load_settings
from config.models import NotificationSettings
from engine.models import Job, JobState, Severity
from engine.notify import DELIVER
from engine.server.server import ServerHandle
from tests.api.conftest import SCOPED_ACCOUNT, Api, ApiFactory
from tests.conftest import EngineFactory

SECRET = "a-shared-secret-of-some-length"
LOSS = "Daily loss 520 over 500"
DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


@dataclass
class Receiver:
    port: int = 0
    seen: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def got(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.seen.get(path, [])]

    async def wait(self, path: str, count: int = 1, api: Api | None = None) -> None:
        """Until `path` has `count` requests; the engine's clock is moved on
        (retries wait for their backoff on it)."""
        await until(lambda: len(self.seen.get(path, [])) >= count, api)


async def until(done: Callable[[], object], api: Api | None = None) -> None:
    """Poll `done` (deliveries arrive over real sockets: there is no event to wait on)."""
    async with asyncio.timeout(20):
        while not done():
            if api is not None:
                await api.engine.clock.advance(5)
            await asyncio.sleep(0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Records every request; `/fail...` answers 500, anything else 200."""
    record = Receiver()

    async def hook(request: Request) -> JSONResponse:
        path = request.path_params["path"]
        record.seen.setdefault(path, []).append((dict(request.headers), await request.body()))
        return JSONResponse(
            {"ok": not path.startswith("fail")}, 500 if path.startswith("fail") else 200
        )

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    handle = ServerHandle(app, "127.0.0.1", 0)
    await handle.start()
    record.port = handle.port
    yield record
    await handle.stop()


def _settings(receiver: Receiver, **notifications: Any) -> Any:
    settings = load_settings(None, env={})
    settings.jobs.backoff_jitter = 0
    settings.notifications = NotificationSettings(
        targets=[
            {"name": "ops", "url": f"json://127.0.0.1:{receiver.port}/apprise"},
            {"name": "broken", "url": f"json://127.0.0.1:{receiver.port}/fail-apprise"},
        ],
        rules=[{"targets": ["ops"], "min_severity": "high"}],
        **notifications,
    )
    return settings


async def _api(engine_factory: EngineFactory, api_factory: ApiFactory, settings: Any) -> Api:
    return await api_factory(await engine_factory(settings))


async def test_rules_send_alerts_to_a_target_once_per_interval(
    engine_factory: EngineFactory, api_factory: ApiFactory, receiver: Receiver
) -> None:
    api = await _api(engine_factory, api_factory, _settings(receiver, dedup_seconds=300))
    alerts = api.engine.alerts
    alerts.raise_alert("risk_limit", Severity.LOW, "below the rule's severity")
    alerts.raise_alert("risk_limit", Severity.HIGH, LOSS, account_id=SCOPED_ACCOUNT)
    await receiver.wait("apprise")
    sent = [m for m in receiver.got("apprise") if m["message"] == LOSS]
    assert len(sent) == 1
    assert all(m["message"] != "below the rule's severity" for m in receiver.got("apprise"))
    assert sent[0]["title"] == f"[tradedeck] HIGH risk_limit {SCOPED_ACCOUNT}"
    assert sent[0]["type"] == "failure"

    # The same alert again within the interval: not sent; after it: sent.
    alerts.raise_alert("risk_limit", Severity.HIGH, LOSS, account_id=SCOPED_ACCOUNT)
    await api.engine.quiesce()
    await asyncio.sleep(0.5)
    assert [m["message"] for m in receiver.got("apprise")].count(LOSS) == 1
    await api.engine.clock.advance(301)
    alerts.raise_alert("risk_limit", Severity.HIGH, LOSS, account_id=SCOPED_ACCOUNT)
    await until(lambda: [m["message"] for m in receiver.got("apprise")].count(LOSS) == 2)

    async def deliveries() -> list[Job]:
        return [
            j
            for j in await api.engine.jobs.recent(50)
            if j.handler == DELIVER and j.args["alert"]["message"] == LOSS
        ]

    # The receiver has the message a moment before the job's completion commits.
    for _ in range(500):
        jobs = await deliveries()
        if {j.state for j in jobs} == {JobState.COMPLETED}:
            break
        await asyncio.sleep(0.02)
    assert len(jobs) == 2 and {j.state for j in jobs} == {JobState.COMPLETED}
    assert all(j.account_id == SCOPED_ACCOUNT for j in jobs)  # a scoped key sees them


async def test_signed_webhooks_retries_and_the_dead_letter_queue(
    engine_factory: EngineFactory, api_factory: ApiFactory, receiver: Receiver
) -> None:
    api = await _api(engine_factory, api_factory, _settings(receiver, max_retries=2))
    admin = api.client("admin")
    good = await admin.post(
        "/api/v1/webhooks", json={"url": receiver.url("good"), "events": ["*"], "secret": SECRET}
    )
    assert good.status_code == 201, good.text
    assert good.json()["secret_shown"] == SECRET and "secret" not in good.json()
    bad = await admin.post(
        "/webhooks", json={"url": receiver.url("fail-hook"), "events": ["worker_error"]}
    )  # the task queue's root path
    assert bad.status_code == 201, bad.text
    assert len(bad.json()["secret_shown"]) >= 32  # made when not given

    api.engine.alerts.raise_alert(
        "worker_error", Severity.HIGH, "account-002: connection lost", account_id="account-002"
    )
    await receiver.wait("good")
    headers, body = receiver.seen["good"][0]
    stamp = headers["x-tradedeck-timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-tradedeck-signature"] == f"sha256={expected}"
    assert headers["x-tradedeck-event"] == "worker_error"
    delivered = json.loads(body)
    assert delivered["event"] == "worker_error" and delivered["test"] is False
    assert delivered["alert"]["message"] == "account-002: connection lost"

    # The failing receiver: the first attempt and two retries, then the DLQ.
    await receiver.wait("fail-hook", 3, api)
    await until(lambda: any(a.kind == "job_dead" for a in api.engine.alerts.recent()), api)
    dead = [a for a in api.engine.alerts.recent() if a.kind == "job_dead"]
    assert dead[0].data["handler"] == DELIVER and "answered 500" in dead[0].data["error"]
    job = await api.engine.jobs.get(dead[0].data["job_id"])
    assert (job.state, job.attempts) == (JobState.DEAD, 3)
    # The dead delivery's alert reaches the other webhook, never the one that failed.
    await receiver.wait("good", 2)
    assert receiver.got("good")[1]["event"] == "job_dead"
    await asyncio.sleep(0.5)
    assert len(receiver.seen["fail-hook"]) == 3
    # ...and the alerts pane lists it, as the API does.
    listed = (await admin.get("/api/v1/risk/alerts", params={"limit": 100})).json()["items"]
    assert any(a["kind"] == "job_dead" and a["data"]["handler"] == DELIVER for a in listed)


async def test_webhook_routes_refuse_what_they_cannot_take(
    engine_factory: EngineFactory, api_factory: ApiFactory, receiver: Receiver
) -> None:
    api = await _api(engine_factory, api_factory, _settings(receiver))
    admin = api.client("admin")
    assert (await admin.post("/api/v1/webhooks", json={"url": "ftp://x"})).status_code == 422
    short = await admin.post("/api/v1/webhooks", json={"url": receiver.url("a"), "secret": "x"})
    assert short.status_code == 422
    viewer = await api.client("trader").post("/api/v1/webhooks", json={"url": receiver.url("a")})
    assert viewer.status_code == 403
    made = (await admin.post("/api/v1/webhooks", json={"url": receiver.url("t")})).json()
    listed = (await admin.get("/api/v1/webhooks")).json()["items"]
    assert [h["id"] for h in listed] == [made["id"]] and "secret" not in listed[0]
    test = await admin.post(f"/api/v1/webhooks/{made['id']}/test")
    assert test.status_code == 202
    await receiver.wait("t")
    assert receiver.got("t")[0]["test"] is True
    assert receiver.got("t")[0]["event"] == "notification_test"
    target = await admin.post("/api/v1/notifications/targets/ops/test")
    assert target.status_code == 202
    await receiver.wait("apprise")
    targets = (await admin.get("/api/v1/notifications/targets")).json()
    assert {"name": "ops", "service": f"json://127.0.0.1:{receiver.port}"} in targets
    assert (await admin.post("/api/v1/notifications/targets/nope/test")).status_code == 404
    assert (await admin.delete(f"/api/v1/webhooks/{made['id']}")).status_code == 200
    assert (await admin.delete(f"/api/v1/webhooks/{made['id']}")).status_code == 404
    # Kept in the store: a restarted engine still has the others.
    assert await api.engine.store.webhooks.all() == []
    config = (await admin.get("/api/v1/config/notifications")).json()
    assert [t["url"] for t in config["targets"]] == ["********"] * 2  # tokens stay hidden


@pytest.mark.slow
async def test_notify_test_command(receiver: Receiver, tmp_path: Path) -> None:
    config = tmp_path / "notify.toml"
    config.write_text(
        DEMO.read_text()
        + f"""
[[notifications.targets]]
name = "ops"
url = "json://127.0.0.1:{receiver.port}/apprise"

[[notifications.targets]]
name = "broken"
url = "json://127.0.0.1:{receiver.port}/fail-apprise"
"""
    )

    async def notify(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui.cli",
            "--config",
            str(config),
            "notify",
            "test",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=os.environ.copy(),
        )
        out, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode()

    code, out = await notify("ops")
    assert (code, out.strip()) == (0, "ops: sent")
    assert receiver.got("apprise")[0]["title"] == "[tradedeck] LOW notification_test"
    code, out = await notify()
    assert code == 1
    assert "ops: sent" in out and "broken: failed: json://127.0.0.1" in out
    code, out = await notify("nope")
    assert code == 1 and "No notification target 'nope'" in out
