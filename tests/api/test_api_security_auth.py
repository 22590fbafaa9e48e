"""Logins, JWTs, API keys and users over a real server: token rotation and
reuse detection, expiry, algorithm pinning, key revocation, roles and account
scoping."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt

from engine.security.principal import Role
from tests.api.conftest import Api, ApiFactory

PASSWORD = "correct horse battery"


def bearer(api: Api, token: str) -> Any:
    client = api.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def login(api: Api, username: str = "alice", password: str = PASSWORD) -> Any:
    return await api.client().post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def test_login_gives_tokens_that_identify_the_user(api: Api) -> None:
    await api.security.add_user("alice", PASSWORD, Role.TRADER)
    response = await login(api)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == api.security.settings.access_token_minutes * 60

    me = await bearer(api, pair["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json() == {
        "kind": "user",
        "name": "alice",
        "role": "trader",
        "accounts": None,
        "key_id": None,
    }
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert {"sub", "role", "jti", "typ", "iat", "exp"} <= set(claims)
    assert (claims["sub"], claims["role"], claims["typ"]) == ("alice", "trader", "access")
    # A refresh token is not an access token.
    assert (await bearer(api, pair["refresh_token"]).get("/api/v1/auth/me")).status_code == 401


async def test_wrong_password_unknown_user_and_bad_bodies(api: Api) -> None:
    await api.security.add_user("alice", PASSWORD, Role.VIEWER)
    for username, password in (("alice", "wrong password"), ("nobody", PASSWORD)):
        response = await login(api, username, password)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    missing = await api.client().post("/api/v1/auth/login", json={"username": "alice"})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"]["fields"][0]["path"] == "body.password"
    extra = await api.client().post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD, "role": "admin"}
    )
    assert extra.status_code == 422


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(api: Api) -> None:
    await api.security.add_user("alice", PASSWORD, Role.TRADER)
    first = (await login(api)).json()
    refresh = api.client()

    rotated = await refresh.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await bearer(api, second["access_token"]).get("/api/v1/auth/me")).status_code == 200

    # The first refresh token is used up: presenting it again looks like theft.
    reused = await refresh.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "UNAUTHORIZED"
    # ... so every token of that login is dead, the newest included.
    again = await refresh.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert again.status_code == 401
    for pair in (first, second):
        me = await bearer(api, pair["access_token"]).get("/api/v1/auth/me")
        assert me.status_code == 401

    # Another login is another family and works.
    third = (await login(api)).json()
    assert (await bearer(api, third["access_token"]).get("/api/v1/auth/me")).status_code == 200


async def test_refresh_with_garbage_or_an_access_token_is_refused(api: Api) -> None:
    await api.security.add_user("alice", PASSWORD, Role.VIEWER)
    pair = (await login(api)).json()
    client = api.client()
    for token in ("not-a-jwt", pair["access_token"]):
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401
    empty = await client.post("/api/v1/auth/refresh", json={})
    assert empty.status_code == 422


async def test_access_tokens_expire_on_the_engine_clock(api_factory: ApiFactory) -> None:
    api = await api_factory(access_token_minutes=1)
    await api.security.add_user("alice", PASSWORD, Role.VIEWER)
    pair = (await login(api)).json()
    client = bearer(api, pair["access_token"])
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    await api.engine.clock.advance(61)
    expired = await client.get("/api/v1/auth/me")
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == "Bearer"
    # The refresh token outlives it and gets a fresh one.
    renewed = await api.client().post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert renewed.status_code == 200
    fresh = bearer(api, renewed.json()["access_token"])
    assert (await fresh.get("/api/v1/auth/me")).status_code == 200


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_only_hs256_with_our_secret_is_accepted(api: Api) -> None:
    await api.security.add_user("root", PASSWORD, Role.ADMIN)
    good = (await login(api, "root")).json()["access_token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    secret = bytes.fromhex(api.secret_path.read_text().strip())
    forged = [
        _unsigned(claims),
        jwt.encode(claims, b"k" * 64, algorithm="HS256"),
        jwt.encode(claims, secret, algorithm="HS512"),
    ]
    for token in forged:
        response = await bearer(api, token).get("/api/v1/auth/me")
        assert response.status_code == 401, token
    assert (await bearer(api, good).get("/api/v1/auth/me")).status_code == 200


async def test_user_tokens_follow_the_user(api: Api) -> None:
    """Removing a user or changing their password ends their sessions; a role
    change applies to tokens already issued."""
    await api.security.add_user("alice", PASSWORD, Role.TRADER)
    token = (await login(api)).json()["access_token"]
    client = bearer(api, token)
    await api.security.set_role("alice", Role.VIEWER)
    assert (await client.get("/api/v1/auth/me")).json()["role"] == "viewer"
    await api.security.set_password("alice", "another good password")
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    assert (await login(api)).status_code == 401

    token = (await login(api, password="another good password")).json()["access_token"]
    await api.security.remove_user("alice")
    assert (await bearer(api, token).get("/api/v1/auth/me")).status_code == 401


async def test_me_describes_a_key_and_needs_one(api: Api) -> None:
    me = await api.client("scoped").get("/api/v1/auth/me")
    assert me.status_code == 200
    body = me.json()
    assert (body["kind"], body["role"], body["accounts"]) == ("key", "trader", ["account-001"])
    assert api.keys["scoped"].startswith(f"tdk_{body['key_id']}_")
    anonymous = await api.client().get("/api/v1/auth/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"
    wrong = await bearer(api, api.keys["viewer"][:-2] + "xx").get("/api/v1/auth/me")
    assert wrong.status_code == 401


async def test_api_keys_are_created_once_listed_by_prefix_and_revoked(api: Api) -> None:
    admin = api.client("admin")
    body = {"role": "viewer", "name": "dashboard", "accounts": ["account-002"]}
    created = await admin.post("/api/v1/api-keys", json=body)
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith(f"{body['prefix']}_") and body["prefix"] == f"tdk_{body['id']}"
    assert (body["role"], body["accounts"], body["revoked_at"]) == ("viewer", ["account-002"], None)

    listed = await admin.get("/api/v1/api-keys", params={"limit": 500})
    assert listed.status_code == 200
    page = listed.json()
    assert page["total"] == 5  # the fixture's four and this one
    entry = next(item for item in page["items"] if item["id"] == body["id"])
    assert "key" not in entry and "key_hash" not in entry
    assert key not in listed.text
    assert all(k not in listed.text for k in api.keys.values())

    new = bearer(api, key)
    assert (await new.get("/api/v1/workers/account-002")).status_code == 200
    revoked = await admin.delete(f"/api/v1/api-keys/{body['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await new.get("/api/v1/workers/account-002")).status_code == 401
    assert (await admin.delete(f"/api/v1/api-keys/{body['id']}")).status_code == 409
    missing = await admin.delete("/api/v1/api-keys/000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


async def test_api_key_bodies_are_validated(api: Api) -> None:
    admin = api.client("admin")
    for body in (
        {"role": "superuser"},
        {"name": "no role"},
        {"role": "viewer", "key_hash": "x"},
        {"role": "viewer", "accounts": []},
    ):
        response = await admin.post("/api/v1/api-keys", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "INVALID_REQUEST"


async def test_credentials_are_for_unscoped_admins_only(api: Api) -> None:
    for role in ("viewer", "trader", "scoped"):
        client = api.client(role)
        for method, path, body in (
            ("GET", "/api/v1/api-keys", None),
            ("POST", "/api/v1/api-keys", {"role": "admin"}),
            ("DELETE", "/api/v1/api-keys/abc", None),
            ("GET", "/api/v1/users", None),
            ("POST", "/api/v1/users", {"name": "eve", "password": PASSWORD, "role": "admin"}),
            ("DELETE", "/api/v1/users/eve", None),
        ):
            response = await client.request(method, path, json=body)
            assert response.status_code == 403, (role, method, path)
            assert response.json()["error"]["code"] == "FORBIDDEN"
    assert (await api.client().get("/api/v1/users")).status_code == 401
    assert (await api.client().post("/api/v1/api-keys", json={"role": "admin"})).status_code == 401
    _, scoped_admin = await api.security.create_key(role=Role.ADMIN, accounts=["account-001"])
    response = await bearer(api, scoped_admin).post("/api/v1/api-keys", json={"role": "admin"})
    assert response.status_code == 403
    assert len(await api.security.list_keys()) == 5


async def test_users_are_added_listed_updated_and_removed(api: Api) -> None:
    admin = api.client("admin")
    added = await admin.post(
        "/api/v1/users", json={"name": "bob", "password": PASSWORD, "role": "viewer"}
    )
    assert added.status_code == 201, added.text
    assert added.json()["name"] == "bob" and "password" not in added.text
    assert PASSWORD not in added.text
    duplicate = await admin.post(
        "/api/v1/users", json={"name": "bob", "password": PASSWORD, "role": "viewer"}
    )
    assert duplicate.status_code == 409
    short = await admin.post("/api/v1/users", json={"name": "c", "password": "x", "role": "viewer"})
    assert short.status_code == 422
    assert short.json()["error"]["details"]["fields"][0]["path"] == "body.password"

    listed = (await admin.get("/api/v1/users")).json()
    assert [u["name"] for u in listed["items"]] == ["bob"]
    assert "password" not in json.dumps(listed)

    promoted = await admin.put("/api/v1/users/bob", json={"role": "trader"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "trader"
    assert (await admin.put("/api/v1/users/ghost", json={"role": "admin"})).status_code == 404
    assert (await admin.put("/api/v1/users/bob", json={"name": "x"})).status_code == 422

    removed = await admin.delete("/api/v1/users/bob")
    assert removed.status_code == 200 and removed.json()["name"] == "bob"
    assert (await admin.delete("/api/v1/users/bob")).status_code == 404
    assert (await login(api, "bob")).status_code == 401


async def test_a_scoped_key_sees_only_its_account(api: Api) -> None:
    scoped = api.client("scoped")
    listed = await scoped.get("/api/v1/workers")
    assert listed.status_code == 200
    assert [w["account_id"] for w in listed.json()["items"]] == ["account-001"]
    assert listed.json()["total"] == 1
    assert (await scoped.get("/api/v1/workers/account-001")).status_code == 200
    other = await scoped.get("/api/v1/workers/account-002")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"
    stop = await scoped.post("/api/v1/workers/account-002/stop")
    assert stop.status_code == 404
    unscoped = await api.client("viewer").get("/api/v1/workers")
    assert unscoped.json()["total"] == 4
