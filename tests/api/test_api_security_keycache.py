"""API keys are remembered once they authenticated (no hash per request): the
memory must never admit a key that would fail the full check."""

from __future__ import annotations

from dataclasses import replace

from tests.api.conftest import Api


async def test_a_known_key_id_with_another_secret_stays_refused(api: Api) -> None:
    key = api.keys["viewer"]
    good = api.client("viewer")
    assert (await good.get("/api/v1/workers")).status_code == 200  # now remembered
    # `tdk_<12 hex>_<secret>`; the secret may hold `_` itself, so split by length.
    prefix, secret = key[: len("tdk_") + 13], key[len("tdk_") + 13 :]
    other = "A" if secret[0] != "A" else "B"  # the same key id, another secret
    forged = api.client()
    forged.headers["X-API-Key"] = f"{prefix}{other}{secret[1:]}"
    refused = await forged.get("/api/v1/workers")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert (await good.get("/api/v1/workers")).status_code == 200


async def test_revoking_a_remembered_key_refuses_its_next_request(api: Api) -> None:
    created = await api.client("admin").post("/api/v1/api-keys", json={"role": "viewer"})
    key_id, key = created.json()["id"], created.json()["key"]
    client = api.client()
    client.headers["X-API-Key"] = key
    for _ in range(3):  # remembered, and kept while valid
        assert (await client.get("/api/v1/workers")).status_code == 200
    await api.security.revoke_key(key_id)
    refused = await client.get("/api/v1/workers")
    assert refused.status_code == 401
    # Refused before the route: the rate limit counts it as the client address.
    assert "x-ratelimit-limit" in refused.headers and "x-request-id" in refused.headers


async def test_reloading_keys_forgets_what_was_remembered(api: Api) -> None:
    created = await api.client("admin").post("/api/v1/api-keys", json={"role": "viewer"})
    key_id, key = created.json()["id"], created.json()["key"]
    client = api.client()
    client.headers["X-API-Key"] = key
    assert (await client.get("/api/v1/workers")).status_code == 200
    # Written to the database behind the service's back (no marker rewritten).
    row = next(r for r in await api.engine.store.security.keys() if r.id == key_id)
    await api.engine.store.security.save_key(replace(row, revoked_at=api.engine.clock.now()))
    assert (await client.get("/api/v1/workers")).status_code == 200  # not reloaded yet
    await api.security.reload()
    assert (await client.get("/api/v1/workers")).status_code == 401
