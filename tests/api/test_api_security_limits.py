"""Rate limits per caller and endpoint group, the login brute-force limit, and
counters that survive a restart, against a real server with small limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.models import RateLimitSettings
from engine.security.principal import Role
from tests.api.conftest import Api, ApiFactory

LIMITS = RateLimitSettings(
    window_seconds=60,
    default=3,
    groups={"workers": 2, "auth": 100},
    admin_multiplier=3,
    login_attempts=3,
)
PASSWORD = "correct horse battery"


async def small(api_factory: ApiFactory) -> Api:
    return await api_factory(rate_limits=LIMITS)


async def test_every_response_counts_down_then_429_with_retry_after(
    api_factory: ApiFactory,
) -> None:
    api = await small(api_factory)
    viewer = api.client("viewer")
    first = await viewer.get("/api/v1/workers")
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    # The Unix time the window turns, as the seed APIs document it.
    now = api.engine.clock.now().timestamp()
    reset = int(first.headers["X-RateLimit-Reset"]) - int(now)
    assert 1 <= reset <= 60
    # Errors are counted and carry the headers too.
    missing = await viewer.get("/api/v1/workers/nope")
    assert missing.status_code == 404
    assert missing.headers["X-RateLimit-Remaining"] == "0"

    refused = await viewer.get("/api/v1/workers")
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["request_id"] == refused.headers["X-Request-ID"]
    assert refused.headers["Retry-After"] == str(reset)
    assert refused.headers["X-RateLimit-Remaining"] == "0"

    # Another group has its own allowance (the default), another key its own counter.
    other_group = await viewer.get("/api/v1/instruments")
    assert other_group.status_code == 200
    assert other_group.headers["X-RateLimit-Limit"] == "3"
    assert (await api.client("trader").get("/api/v1/workers")).status_code == 200

    # When the window turns the caller is served again.
    await api.engine.clock.advance(reset)
    again = await viewer.get("/api/v1/workers")
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == "1"


async def test_admins_get_the_multiplier(api_factory: ApiFactory) -> None:
    api = await small(api_factory)
    admin = api.client("admin")
    statuses = [(await admin.get("/api/v1/workers")).status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]


async def test_anonymous_callers_are_limited_by_address_and_health_is_not(
    api_factory: ApiFactory,
) -> None:
    api = await small(api_factory)
    anonymous = api.client()
    statuses = [(await anonymous.get("/api/v1/workers")).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    for _ in range(5):
        health = await anonymous.get("/health")
        assert health.status_code == 200
        assert "X-RateLimit-Limit" not in health.headers
    # A valid key is its own subject, whatever the address.
    assert (await api.client("viewer").get("/api/v1/workers")).status_code == 200


async def test_login_brute_force_is_refused_per_user_and_per_address(
    api_factory: ApiFactory,
) -> None:
    api = await small(api_factory)
    await api.security.add_user("alice", PASSWORD, Role.VIEWER)
    client = api.client()

    async def login(username: str, password: str) -> int:
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["error"]["code"] == "RATE_LIMITED"
        return response.status_code

    assert [await login("alice", "guess-number-one") for _ in range(3)] == [401, 401, 401]
    # Even the right password is refused until the window turns.
    assert await login("alice", PASSWORD) == 429
    # The address is blocked too: guessing another user from it is refused.
    assert await login("bob", "guess-number-one") == 429

    await api.engine.clock.advance(60)
    assert await login("alice", PASSWORD) == 200


async def test_counters_survive_a_restart(api_factory: ApiFactory) -> None:
    api = await small(api_factory)
    anonymous = api.client()
    assert (await anonymous.get("/api/v1/workers")).status_code == 401
    assert (await anonymous.get("/api/v1/workers")).status_code == 401
    await api.close()

    # The same engine and database, a new server and security service.
    restarted = await api_factory(engine=api.engine, rate_limits=LIMITS)
    refused = await restarted.client().get("/api/v1/workers")
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"


ORDER = {"account_id": "account-001", "symbol": "EURUSD", "side": "buy", "volume": "0.10"}


async def test_order_submission_has_its_own_limit_apart_from_reads(
    api_factory: ApiFactory,
) -> None:
    limits = RateLimitSettings(
        default=100, groups={}, endpoints={"POST /orders": 2, "DELETE /orders/*": 1}
    )
    api = await api_factory(rate_limits=limits)
    api.engine.pause_strategies()
    trader = api.client("trader")
    for n in range(2):
        placed = await trader.post("/api/v1/orders", json=ORDER | {"client_order_id": f"r{n}"})
        assert placed.status_code == 201, placed.text
    assert placed.headers["X-RateLimit-Limit"] == "2"  # the tightest limit is shown
    refused = await trader.post("/api/v1/orders", json=ORDER | {"client_order_id": "r2"})
    assert refused.status_code == 429
    assert "2 per minute" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["window_seconds"] == 60
    # Reads of the same group are not held back by the submissions...
    listed = await trader.get("/api/v1/orders")
    assert listed.status_code == 200
    assert listed.headers["X-RateLimit-Limit"] == "100"
    assert listed.headers["X-RateLimit-Remaining"] == "97"  # ...but count in the group
    # The seeds' root path is the same endpoint, `*` one segment of a path.
    assert (await trader.post("/orders", json=ORDER | {"client_order_id": "r3"})).status_code == 429
    assert (await trader.delete("/api/v1/orders/999999")).status_code == 404
    assert (await trader.delete("/api/v1/orders/999998")).status_code == 429
    stored = await api.engine.store.ledger.orders("account-001", limit=100)
    assert {o.client_order_id for o in stored} >= {"r0", "r1"}
    assert not {"r2", "r3"} & {o.client_order_id for o in stored}


async def test_an_hourly_limit_with_a_burst(api_factory: ApiFactory) -> None:
    api = await api_factory(rate_limits=RateLimitSettings(default=3, hourly=5))
    viewer = api.client("viewer")
    codes = [(await viewer.get("/api/v1/instruments")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # the burst: 3 a minute
    await api.engine.clock.advance(60)
    served = [await viewer.get("/api/v1/instruments") for _ in range(3)]
    assert [r.status_code for r in served] == [200, 200, 429]  # 5 an hour
    refused = served[-1].json()["error"]
    assert "5 per hour" in refused["message"] and refused["details"]["window_seconds"] == 3600
    hour = int(served[-1].headers["X-RateLimit-Reset"])
    assert hour % 3600 == 0 and hour > api.engine.clock.now().timestamp()
    await api.engine.clock.advance(hour - api.engine.clock.now().timestamp())
    assert (await viewer.get("/api/v1/instruments")).status_code == 200
    assert (await api.client("trader").get("/api/v1/instruments")).status_code == 200


def test_a_malformed_endpoint_rule_is_refused_with_its_name() -> None:
    for key in ("orders", "FETCH /orders", "POST orders"):
        with pytest.raises(ValidationError) as refused:
            RateLimitSettings(endpoints={key: 5})
        assert repr(key) in str(refused.value)
    with pytest.raises(ValidationError, match="at least 1"):
        RateLimitSettings(endpoints={"POST /orders": 0})
