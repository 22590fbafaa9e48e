"""The control panel's API at its own paths (`/api/...`): every endpoint the
seed lists answers there, against a real server, with v1's shapes (the seed
documents paths, not bodies) and v1's roles."""

from __future__ import annotations

import pytest

from config.models import DialectSettings
from engine.security.principal import Role
from engine.version import version
from tests.api.conftest import Api, ApiFactory

# (method, path): the seed's 25 endpoints as it lists them, in order.
SEED_ENDPOINTS = [
    ("GET", "/api/system/status"),
    ("POST", "/api/system/mode"),
    ("POST", "/api/system/start"),
    ("POST", "/api/system/stop"),
    ("POST", "/api/system/restart"),
    ("GET", "/api/config"),
    ("GET", "/api/config/engine"),
    ("PUT", "/api/config/engine"),
    ("POST", "/api/config/export"),
    ("POST", "/api/config/import"),
    ("GET", "/api/instruments"),
    ("POST", "/api/instruments"),
    ("PUT", "/api/instruments/AUDCAD"),
    ("DELETE", "/api/instruments/AUDCAD"),
    ("GET", "/api/signals"),
    ("GET", "/api/signals/{signal_id}"),
    ("POST", "/api/signals/filter"),
    ("GET", "/api/models"),
    ("POST", "/api/models/train"),
    ("POST", "/api/models/deploy"),
    ("GET", "/api/auth/status"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/health"),
    ("GET", "/api/health/components"),
    ("GET", "/api/metrics"),
]


TEMPLATES = {
    "/api/config/engine": "/api/config/{section}",
    "/api/instruments/AUDCAD": "/api/instruments/{symbol}",
}


async def test_every_documented_endpoint_is_served(api: Api) -> None:
    paths = (await api.client("viewer").get("/api/openapi.json")).json()["paths"]
    assert len(SEED_ENDPOINTS) == 25
    missing = [
        (method, path)
        for method, path in SEED_ENDPOINTS
        if method.lower() not in paths.get(TEMPLATES.get(path, path), {})
    ]
    assert missing == []


@pytest.mark.parametrize(
    "path",
    ["/api/system/status", "/api/config", "/api/instruments", "/api/models", "/api/signals"],
)
async def test_reads_answer_what_v1_answers(api: Api, path: str) -> None:
    viewer = api.client("viewer")
    seed, v1 = await viewer.get(path), await viewer.get(path.replace("/api", "/api/v1", 1))
    assert seed.status_code == v1.status_code == 200
    assert seed.json().keys() == v1.json().keys() if isinstance(v1.json(), dict) else True
    if path != "/api/system/status":  # the status carries the clock's time
        assert seed.json() == v1.json()


async def test_writes_through_the_dialect_take_effect_and_respect_roles(api: Api) -> None:
    trader, admin = api.client("trader"), api.client("admin")
    refused = await trader.post("/api/system/mode", json={"mode": "paper"})
    assert refused.status_code == 403
    changed = await admin.post("/api/system/mode", json={"mode": "paper"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["mode"] == "paper"

    assert (await trader.post("/api/system/stop")).status_code == 403
    stopped = await admin.post("/api/system/stop")
    assert stopped.status_code == 200, stopped.text
    assert all(w.status.value == "stopped" for w in api.engine.workers())

    exported = await trader.post("/api/config/export")
    assert exported.status_code == 200


async def test_auth_status_says_who_without_refusing(api: Api) -> None:
    anonymous = await api.client().get("/api/auth/status")
    assert anonymous.status_code == 200
    assert anonymous.json()["authenticated"] is False
    assert anonymous.json()["login"] == "/api/auth/login"

    bad = await api.client().get("/api/auth/status", headers={"Authorization": "Bearer nope"})
    assert bad.json()["authenticated"] is False

    known = (await api.client("scoped").get("/api/auth/status")).json()
    assert (known["authenticated"], known["kind"], known["role"]) == (True, "key", "trader")
    assert known["accounts"] == ["account-001"]


async def test_login_gives_a_token_that_works_on_both_paths(api: Api) -> None:
    await api.security.add_user("ops", "correct horse battery", Role.VIEWER)
    login = await api.client().post(
        "/api/auth/login", json={"username": "ops", "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    status = (await api.client().get("/api/auth/status", headers=headers)).json()
    assert (status["authenticated"], status["kind"], status["name"]) == (True, "user", "ops")
    assert (await api.client().get("/api/v1/workers", headers=headers)).status_code == 200
    wrong = await api.client().post("/api/auth/login", json={"username": "ops", "password": "x"})
    assert wrong.status_code == 401


async def test_signals_filter_takes_its_filters_in_the_body(api: Api) -> None:
    await api.engine.clock.advance(120)
    await api.engine.quiesce()
    viewer = api.client("viewer")
    every = (await viewer.get("/api/signals", params={"limit": 500})).json()
    assert every["total"] > 0
    symbol = every["items"][0]["symbol"]
    filtered = await viewer.post("/api/signals/filter", json={"symbol": symbol, "limit": 500})
    assert filtered.status_code == 200, filtered.text
    body = filtered.json()
    assert body["items"] and all(s["symbol"] == symbol for s in body["items"])
    assert body["total"] == sum(1 for s in every["items"] if s["symbol"] == symbol)

    one = await viewer.get(f"/api/signals/{body['items'][0]['id']}")
    assert one.status_code == 200 and one.json() == body["items"][0]

    unknown = await viewer.post("/api/signals/filter", json={"symbl": symbol})
    assert unknown.status_code == 422
    assert "symbl" in unknown.text

    scoped = await api.client("scoped").post("/api/signals/filter", json={"limit": 500})
    assert {s["account_id"] for s in scoped.json()["items"]} <= {"account-001"}


async def test_health_components_and_metrics(api: Api) -> None:
    health = (await api.client().get("/api/health")).json()
    assert (health["status"], health["version"]) == ("ok", version())
    components = await api.client("viewer").get("/api/health/components")
    assert components.status_code == 200
    assert {c["name"] for c in components.json()["components"]} >= {"engine", "store"}
    metrics = await api.client("viewer").get("/api/metrics")
    assert metrics.status_code == 200
    assert "tradedeck_" in metrics.text
    assert (await api.client("scoped").get("/api/metrics")).status_code == 403


async def test_the_dialect_can_be_switched_off(api_factory: ApiFactory) -> None:
    api = await api_factory(dialects=DialectSettings(control_panel=False))
    viewer = api.client("viewer")
    assert (await viewer.get("/api/system/status")).status_code == 404
    assert (await viewer.get("/api/v1/system/status")).status_code == 200
    assert (await viewer.get("/api/workers")).status_code == 200
