"""Rate limits per caller and endpoint group, the login brute-force limit, and
counters that survive a restart, against a real server with small limits."""

from __future__ import annotations

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
    reset = int(first.headers["X-RateLimit-Reset"])
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
