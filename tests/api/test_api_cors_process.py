"""CORS for the configured origins only (preflights answered before any
credential is asked for), and the serving process in component health."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from config.models import ServerSettings
from tests.api.conftest import ApiFactory

DASH = "https://dash.example.com"
PREFLIGHT = {
    "Origin": DASH,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_no_origin_is_allowed_by_default(api_factory: ApiFactory) -> None:
    api = await api_factory()
    got = await api.client("viewer").get("/api/v1/workers", headers={"Origin": DASH})
    assert got.status_code == 200
    assert "access-control-allow-origin" not in got.headers
    preflight = await api.client().options("/api/v1/orders", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_configured_origin_is_answered_and_others_are_not(
    api_factory: ApiFactory,
) -> None:
    api = await api_factory(cors_origins=[DASH, "http://localhost:3000"])
    anonymous = api.client()
    preflight = await anonymous.options("/api/v1/orders", headers=PREFLIGHT)
    assert preflight.status_code == 200  # no key needed, no rate limit spent
    assert preflight.headers["access-control-allow-origin"] == DASH
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-api-key" in allowed

    got = await api.client("viewer").get("/api/v1/workers", headers={"Origin": DASH})
    assert got.headers["access-control-allow-origin"] == DASH
    exposed = got.headers["access-control-expose-headers"].lower()
    assert "x-ratelimit-remaining" in exposed and "x-request-id" in exposed

    stranger = {**PREFLIGHT, "Origin": "https://evil.example"}
    refused = await anonymous.options("/api/v1/orders", headers=stranger)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    plain = await api.client("viewer").get(
        "/api/v1/workers", headers={"Origin": stranger["Origin"]}
    )
    assert "access-control-allow-origin" not in plain.headers


def test_an_origin_with_a_path_is_refused_by_name() -> None:
    for origin in ("https://dash.example.com/app", "dash.example.com", "ftp://x"):
        with pytest.raises(ValidationError) as refused:
            ServerSettings(cors_origins=[origin])
        assert repr(origin) in str(refused.value)
    assert ServerSettings(cors_origins=["*"]).cors_origins == ["*"]


async def test_component_health_has_the_process(api_factory: ApiFactory) -> None:
    api = await api_factory()
    viewer = api.client("viewer")
    first = (await viewer.get("/api/v1/system/health/components")).json()
    process = next(c for c in first["components"] if c["name"] == "process")
    details = process["details"]
    assert details["rss_bytes"] > 10 * 2**20 and details["open_files"] > 0
    assert details["threads"] >= 1 and details["cpu_percent"] >= 0
    assert process["status"] == "ok"

    await asyncio.sleep(0.3)  # the lag sampler has run once
    time.sleep(0.8)  # hold the loop, as a blocking call would  # noqa: ASYNC251
    await asyncio.sleep(0.3)
    held = (await viewer.get("/api/v1/system/health/components")).json()
    process = next(c for c in held["components"] if c["name"] == "process")
    assert process["details"]["loop_lag_max_ms"] >= 500  # 800 ms less one sampling period
    assert process["status"] == "degraded" and "event loop" in process["message"]
    assert held["status"] == "degraded"
    # The control panel's path is the same handler.
    seed = (await viewer.get("/api/health/components")).json()
    assert "process" in {c["name"] for c in seed["components"]}
