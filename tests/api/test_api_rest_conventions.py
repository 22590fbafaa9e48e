"""SPEC 6 conventions, across routers: the one error envelope with a request id,
`X-Request-ID` on every response, decimals as strings, the list envelope and
its bounds, unknown fields refused, route order, and the documentation URLs."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_every_kind_of_error_has_the_envelope_and_request_id(api: Any) -> None:
    admin = api.client("admin")
    anonymous = api.client()
    viewer = api.client("viewer")

    assert_envelope(await admin.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")
    assert_envelope(await admin.delete("/api/v1/system/status"), 405, "INVALID_REQUEST")
    assert_envelope(await anonymous.get("/api/v1/system/status"), 401, "UNAUTHORIZED")
    assert_envelope(
        await viewer.post("/api/v1/system/mode", json={"mode": "paper"}), 403, "FORBIDDEN"
    )
    assert_envelope(await admin.get("/api/v1/strategies/nope"), 404, "NOT_FOUND")
    # Starting a worker that runs already is a conflict with the current state.
    assert_envelope(await admin.post("/api/v1/workers/account-001/start"), 409, "CONFLICT")

    body = assert_envelope(
        await admin.get("/api/v1/signals", params={"limit": 0, "since": "yesterday"}),
        422,
        "INVALID_REQUEST",
    )
    paths = {f["path"] for f in body["error"]["details"]["fields"]}
    assert paths == {"query.limit", "query.since"}


async def test_request_id_is_on_every_response_and_a_sane_one_is_echoed(api: Any) -> None:
    client = api.client("viewer")
    for response in (
        await client.get("/health"),
        await client.get("/api/v1/instruments"),
        await client.get("/api/v1/instruments/NOPE"),
        await api.client().get("/api/v1/instruments"),
    ):
        assert _HEX_ID.match(response.headers["x-request-id"])

    echoed = await client.get("/api/v1/instruments", headers={"X-Request-ID": "trace-42.a_b"})
    assert echoed.headers["x-request-id"] == "trace-42.a_b"

    error = await client.get("/api/v1/instruments/NOPE", headers={"X-Request-ID": "trace-43"})
    assert error.json()["request_id"] == "trace-43"

    for insane in ("has space", "x" * 65, "semi;colon"):
        response = await client.get("/api/v1/instruments", headers={"X-Request-ID": insane})
        assert _HEX_ID.match(response.headers["x-request-id"])


async def test_decimals_travel_as_strings(api: Any) -> None:
    await api.engine.clock.advance(60)
    await api.engine.quiesce()
    client = api.client("viewer")

    portfolio = (await client.get("/api/v1/portfolio")).json()
    for value in (portfolio["total"]["equity"], portfolio["accounts"][0]["balance"]):
        assert isinstance(value, str)
        Decimal(value)
    instrument = (await client.get("/api/v1/instruments/EURUSD")).json()
    assert instrument["point"] == "0.00001"
    quote = (await client.get("/api/v1/market/EURUSD")).json()["quote"]
    assert isinstance(quote["bid"], str) and isinstance(quote["ask"], str)
    positions = (await client.get("/api/v1/portfolio/positions")).json()["items"]
    assert positions, "the demo opens positions within a minute"
    assert all(isinstance(p["volume"], str) and isinstance(p["open_price"], str) for p in positions)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"skip": -1}, "query.skip"),
        ({"order": "sideways"}, "query.order"),
        ({"sort": "no_such_field"}, "query.sort"),
    ],
)
async def test_paging_bounds_and_sort_fields_are_checked(
    api: Any, params: dict[str, Any], field: str
) -> None:
    client = api.client("viewer")
    for path in (
        "/api/v1/instruments",
        "/api/v1/signals",
        "/api/v1/risk/alerts",
        "/api/v1/workers",  # its query validated as one model (`QueryModel`)
    ):
        body = assert_envelope(await client.get(path, params=params), 422, "INVALID_REQUEST")
        assert [f["path"] for f in body["error"]["details"]["fields"]] == [field]
        assert field in body["error"]["message"]


async def test_lists_have_the_envelope_and_page_within_bounds(api: Any) -> None:
    client = api.client("viewer")
    everything = (await client.get("/api/v1/instruments", params={"limit": 500})).json()
    assert set(everything) == {"items", "total", "skip", "limit"}
    total = everything["total"]
    assert total == len(everything["items"]) >= 6

    page = (await client.get("/api/v1/instruments", params={"skip": 2, "limit": 3})).json()
    assert (page["skip"], page["limit"], page["total"]) == (2, 3, total)
    assert page["items"] == everything["items"][2:5]

    beyond = (await client.get("/api/v1/instruments", params={"skip": total + 5})).json()
    assert beyond["items"] == [] and beyond["total"] == total

    descending = (
        await client.get("/api/v1/instruments", params={"sort": "symbol", "order": "desc"})
    ).json()
    symbols = [i["symbol"] for i in descending["items"]]
    assert symbols == sorted(symbols, reverse=True)


async def test_unknown_body_fields_are_refused(api: Any) -> None:
    admin = api.client("admin")
    body = assert_envelope(
        await admin.post("/api/v1/system/mode", json={"mode": "paper", "force": True}),
        422,
        "INVALID_REQUEST",
    )
    assert [f["path"] for f in body["error"]["details"]["fields"]] == ["body.force"]

    exported = (await admin.post("/api/v1/config/export")).json()
    body = assert_envelope(
        await admin.post("/api/v1/config/import", json={**exported, "owner": "me"}),
        422,
        "INVALID_REQUEST",
    )
    assert [f["path"] for f in body["error"]["details"]["fields"]] == ["body.owner"]


async def test_fixed_worker_paths_are_not_captured_by_the_account_parameter(api: Any) -> None:
    client = api.client("trader")
    validation = await client.get("/api/v1/workers/validate-all")
    assert validation.status_code == 200
    assert validation.json()["total_count"] == 4

    await client.post("/api/v1/workers/stop-all")
    started = await client.post("/api/v1/workers/start-all")
    assert started.status_code == 201
    assert started.json()["started_count"] == 4


async def test_every_fixed_get_path_is_answered_by_its_own_route(api: Any) -> None:
    """A fixed path captured by a parameterised one (`/workers/{account_id}`
    answering `/workers/validate-all`) would answer 404 or 422 here."""
    client = api.client("admin")
    spec = (await client.get("/api/openapi.json")).json()
    fixed = [
        path
        for path, operations in spec["paths"].items()
        if "{" not in path and path.startswith("/api/v1/") and "get" in operations
    ]
    assert "/api/v1/workers/validate-all" in fixed
    statuses = {path: (await client.get(path)).status_code for path in fixed}
    assert {path: s for path, s in statuses.items() if s != 200} == {}


async def test_openapi_and_the_documentation_are_served(api: Any) -> None:
    client = api.client()
    spec = (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/system/status",
        "/api/v1/system/health/components",
        "/api/v1/config/{section}",
        "/api/v1/config/import",
        "/api/v1/strategies/{strategy_id}",
        "/api/v1/instruments/{symbol}",
        "/api/v1/market/{symbol}",
        "/api/v1/signals/{signal_id}",
        "/api/v1/portfolio/history",
        "/api/v1/risk/alerts/{alert_id}/resolve",
    ):
        assert path in spec["paths"], path
    # A 422 is documented as the error envelope, never FastAPI's default shape.
    unprocessable = spec["paths"]["/api/v1/signals"]["get"]["responses"]["422"]
    assert unprocessable["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    sort = next(
        p for p in spec["paths"]["/api/v1/signals"]["get"]["parameters"] if p["name"] == "sort"
    )
    assert "strategy_id" in sort["schema"]["enum"]

    docs = await client.get("/api/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    redoc = await client.get("/api/redoc")
    assert redoc.status_code == 200 and "redoc" in redoc.text.lower()


def _served_in_order(app: Any) -> list[tuple[str, set[str], Any]]:
    """(full path, methods, compiled pattern) of every HTTP route, in the order
    the app tries them (routers flattened, prefixes applied)."""
    from fastapi.routing import APIRoute
    from starlette.routing import compile_path

    served: list[tuple[str, set[str], Any]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute) or hasattr(route, "methods"):
                path = prefix + route.path
                served.append((path, set(route.methods or ()), compile_path(path)[0]))

    walk(app.routes, "")
    return served


async def test_no_literal_path_is_answered_by_an_earlier_route(api: Any) -> None:
    """Routes are tried in order, and the most polled go first: for every
    literal path, the first route matching it by path and method is its own."""
    served = _served_in_order(api.app)
    assert served[1][0] == "/api/v1/workers", [path for path, _, _ in served[:3]]
    shadowed = []
    for path, methods, _ in served:
        if "{" in path:
            continue
        for method in methods:
            first = next(p for p, m, pattern in served if method in m and pattern.match(path))
            if first != path:
                shadowed.append(f"{method} {path} -> {first}")
    assert shadowed == []


async def test_a_query_model_is_documented_and_applied_as_separate_parameters(api: Any) -> None:
    """`/workers` validates its query as one model: OpenAPI lists each parameter
    with its bounds and choices, and each one works."""
    client = api.client("viewer")
    spec = (await client.get("/api/openapi.json")).json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/workers"]["get"]["parameters"]}
    assert set(parameters) == {"skip", "limit", "order", "sort", "status"}
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    assert parameters["limit"]["schema"]["maximum"] == 500
    assert "restarts" in parameters["sort"]["schema"]["enum"]
    statuses = str(parameters["status"]["schema"])
    assert "running" in statuses and "$ref" not in statuses

    everything = (await client.get("/api/v1/workers")).json()
    assert everything["total"] == 4 and everything["limit"] == 50
    page = (await client.get("/api/v1/workers", params={"skip": 1, "limit": 2})).json()
    assert [w["account_id"] for w in page["items"]] == [
        w["account_id"] for w in everything["items"][1:3]
    ]
    descending = (
        await client.get("/api/v1/workers", params={"sort": "account_id", "order": "desc"})
    ).json()
    ids = [w["account_id"] for w in descending["items"]]
    assert ids == sorted(ids, reverse=True)
    running = (await client.get("/api/v1/workers", params={"status": "running"})).json()
    assert {w["status"] for w in running["items"]} <= {"running"}
    body = assert_envelope(
        await client.get("/api/v1/workers", params={"status": "sleeping"}), 422, "INVALID_REQUEST"
    )
    assert [f["path"] for f in body["error"]["details"]["fields"]] == ["query.status"]
