"""The audit log: every mutation, refused ones included, with actor, action,
target, outcome and request id; readable by admins at `GET /api/v1/audit`."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


async def entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = await api.client("admin").get("/api/v1/audit", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def key_actor(api: Api, role: str) -> str:
    """The audit log names a key by its visible prefix."""
    return "_".join(api.keys[role].split("_")[:2])


async def test_a_mutation_is_recorded_with_its_request_id(api: Api) -> None:
    response = await api.client("trader").post(
        "/api/v1/workers/account-001/stop", headers={"X-Request-ID": "stop-1"}
    )
    assert response.status_code == 200, response.text
    [entry] = await entries(api, actor=key_actor(api, "trader"))
    assert entry["action"] == "POST /api/v1/workers/{account_id}/stop"
    assert entry["target"] == "/api/v1/workers/account-001/stop"
    assert (entry["outcome"], entry["role"], entry["actor_kind"]) == ("ok", "trader", "key")
    assert entry["request_id"] == "stop-1"


async def test_refused_mutations_are_recorded_with_their_error_code(api: Api) -> None:
    await api.client("viewer").post("/api/v1/workers/account-001/stop")
    await api.client().post("/api/v1/workers/account-001/stop")
    await api.client("trader").post("/api/v1/workers/account-001/stop", json={"timeout": -1})
    await api.client("scoped").post("/api/v1/workers/account-002/stop")
    by_actor = {e["actor"]: e["outcome"] for e in await entries(api)}
    assert by_actor == {
        key_actor(api, "viewer"): "FORBIDDEN",
        "anonymous": "UNAUTHORIZED",
        key_actor(api, "trader"): "INVALID_REQUEST",
        key_actor(api, "scoped"): "NOT_FOUND",
    }


async def test_routes_name_their_own_actions_once(api: Api) -> None:
    admin = api.client("admin")
    created = (await admin.post("/api/v1/api-keys", json={"role": "viewer"})).json()
    await admin.delete(f"/api/v1/api-keys/{created['id']}")
    await admin.delete(f"/api/v1/api-keys/{created['id']}")
    log = await entries(api, order="asc")
    assert [(e["action"], e["target"], e["outcome"]) for e in log] == [
        ("api_key.create", f"api_key:{created['id']}", "ok"),
        ("api_key.revoke", f"api_key:{created['id']}", "ok"),
        ("api_key.revoke", f"api_key:{created['id']}", "CONFLICT"),
    ]
    assert created["key"] not in str(log)


async def test_reads_are_not_audited_and_logins_are(api: Api) -> None:
    await api.client("viewer").get("/api/v1/workers")
    await api.client().post("/api/v1/auth/login", json={"username": "x", "password": "nope"})
    [entry] = await entries(api)
    assert (entry["action"], entry["target"], entry["outcome"]) == (
        "auth.login",
        "user:x",
        "UNAUTHORIZED",
    )
    assert "nope" not in str(entry)


async def test_filters_and_paging(api: Api) -> None:
    trader = api.client("trader")
    for account in ("account-001", "account-002"):
        await trader.post(f"/api/v1/workers/{account}/stop")
    await api.engine.clock.advance(5)
    since = api.engine.clock.now().isoformat()
    await trader.post("/api/v1/workers/account-003/stop")
    await api.client("admin").post("/api/v1/api-keys", json={"role": "viewer"})

    assert len(await entries(api)) == 4
    newest_first = [e["target"] for e in await entries(api, actor=key_actor(api, "trader"))]
    assert newest_first == [f"/api/v1/workers/account-00{n}/stop" for n in (3, 2, 1)]
    assert len(await entries(api, action="api_key.create")) == 1
    assert {e["target"] for e in await entries(api, since=since)} >= {
        "/api/v1/workers/account-003/stop"
    }
    assert len(await entries(api, since=since)) == 2

    page = (await api.client("admin").get("/api/v1/audit", params={"skip": 1, "limit": 2})).json()
    assert (page["total"], page["skip"], page["limit"], len(page["items"])) == (4, 1, 2, 2)
    bad = await api.client("admin").get("/api/v1/audit", params={"since": "yesterday"})
    assert bad.status_code == 422


async def test_the_log_is_for_admins(api: Api) -> None:
    for role in ("viewer", "trader", "scoped"):
        response = await api.client(role).get("/api/v1/audit")
        assert response.status_code == 403, role
    assert (await api.client().get("/api/v1/audit")).status_code == 401
