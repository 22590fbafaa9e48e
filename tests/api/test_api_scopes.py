"""Account scopes hold on every route and every channel.

The routes come from the live OpenAPI document, so a route added tomorrow is
walked the day it is added. Two real servers run the same seeded demo: one
with all four accounts, one with only `account-001`. The same activity is
made on each account of each (an order, a price alert, a job, an equity
sample). A key limited to `account-001` must then:

- never meet another account's name in any response or stream message;
- read the same counts, totals and list lengths on the four-account server
  as on the one-account server (what it sees may not depend on accounts it
  cannot see);
- be refused (403 or 404) on every route that reaches another account's
  resource, and on every action on the whole system.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from config.loader import load_settings
from engine.security.principal import Role
from engine.server.ws_channels import CHANNELS
from tests.api.conftest import SCOPED_ACCOUNT, Api, ApiFactory
from tests.api.ws_support import connect
from tests.conftest import EngineFactory

pytestmark = pytest.mark.slow

OTHERS = ("account-002", "account-003", "account-004")
_OTHER_NAME = re.compile("|".join(OTHERS))
# Values that legitimately differ between two servers (ids, the caller's own
# key, timings, uptime), wherever they appear.
_VOLATILE = re.compile(
    r"(^|_)(id|ids|ticket|tickets|key|prefix|request_id|uptime|latency|seconds|ms|"
    r"duration|created_at|updated_at|last_used_at|rss|cpu|lag|files|port|pid|order|deal|"
    r"position|signal|job)$",
    re.IGNORECASE,
)

# Routes with no account in their path or body that a scoped key may still
# call: they act on the caller alone or change nothing.
CALLER_ONLY = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/ws/ticket"),
    ("POST", "/api/v1/risk/evaluate"),
    ("POST", "/api/v1/config/export"),
    ("POST", "/api/signals/filter"),  # a query in a body: it reads, filtered by scope
}
# Actions on every account that a scoped key may take on its own accounts;
# the test checks afterwards that the others were not touched.
WITHIN_CALLER = {
    ("POST", "/api/v1/workers/start-all"),
    ("POST", "/api/v1/workers/stop-all"),
}


async def _activity(api: Api, accounts: list[str]) -> None:
    """The same deterministic activity on each account of a server."""
    admin = api.client("admin")
    settings = {a.id: a for a in api.engine.settings.accounts}
    for account in accounts:
        symbol = settings[account].symbols[0]
        order = await admin.post(
            "/api/v1/orders",
            json={
                "account_id": account,
                "symbol": symbol,
                "side": "buy",
                "volume": "0.01",
                "client_order_id": f"scope-{account}",
            },
        )
        assert order.status_code in (200, 201), order.text
        alert = await admin.post(
            "/api/v1/price-alerts",
            json={
                "symbol": symbol,
                "direction": "above",
                "level": "999999",
                "account": account,
            },
        )
        assert alert.status_code == 201, alert.text
        job = await admin.post(
            "/api/v1/jobs", json={"handler": "reconcile_account", "args": {"account_id": account}}
        )
        assert job.status_code in (200, 201), job.text
        schedule = await admin.post(
            "/api/v1/schedules",
            json={
                "name": f"reconcile-{account}",
                "handler": "reconcile_account",
                "args": {"account_id": account},
                "every_seconds": 3600,
            },
        )
        assert schedule.status_code == 201, schedule.text
    api.engine.mark(sample_equity=True)
    await api.engine.quiesce()


async def _served(api_factory: ApiFactory, engine_factory: EngineFactory, tmp: Any, only: bool):
    settings = load_settings(None, env={})
    if only:
        settings.accounts = [a for a in settings.accounts if a.id == SCOPED_ACCOUNT]
    engine = await engine_factory(
        settings, db_path=tmp / f"{'one' if only else 'all'}.db", run_loops=False
    )
    api = await api_factory(engine)
    _, api.keys["scoped-viewer"] = await api.security.create_key(
        role=Role.VIEWER, name="scoped-viewer", accounts=[SCOPED_ACCOUNT]
    )
    await _activity(api, [a.id for a in settings.accounts])
    return api


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        yield f"{path}#len", len(value)
        for item in value:
            yield from _leaves(item, f"{path}[]")
    else:
        yield path, value


def _aggregates(body: Any) -> dict[str, list[Any]]:
    """Every number (counts, totals, sums, prices) and every list's length, by
    path (the items of a list merged), less the values that differ between
    two servers by nature (ids, timings)."""
    found: dict[str, list[Any]] = {}
    for path, value in _leaves(body):
        key = path.rsplit(".", 1)[-1].replace("[]", "")
        if path.endswith("#len") or (not _VOLATILE.search(key) and _numeric(value)):
            found.setdefault(path, []).append(value)
    return found


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value) is not None


def _names_other(text: str) -> str | None:
    match = _OTHER_NAME.search(text)
    return None if match is None else text[max(0, match.start() - 120) : match.end() + 60]


class Resources:
    """One resource of each kind per side (the scoped key's own, another's),
    read with the admin key, to fill path parameters."""

    def __init__(self) -> None:
        self.own: dict[str, str] = {"account_id": SCOPED_ACCOUNT}
        self.other: dict[str, str] = {"account_id": OTHERS[0]}
        self.shared: dict[str, str] = {}

    async def read(self, admin: httpx.AsyncClient) -> None:
        async def owned(url: str, param: str, key: str = "id", field: str = "account_id"):
            response = await admin.get(url)
            assert response.status_code == 200, (url, response.text)
            body = response.json()
            items = body["items"] if isinstance(body, dict) and "items" in body else body
            for item in items:
                owner = item.get(field) or (item.get("args") or {}).get("account_id")
                side = self.own if owner == SCOPED_ACCOUNT else self.other
                if owner in (SCOPED_ACCOUNT, OTHERS[0]):
                    side.setdefault(param, str(item[key]))

        await owned("/api/v1/orders?limit=100", "ticket", "ticket")
        await owned("/api/v1/jobs?limit=100", "job_id")
        await owned("/api/v1/price-alerts", "alert_id")
        await owned("/api/v1/strategies", "strategy_id")
        await owned("/api/v1/schedules", "task_name", "name")
        self.shared.update(
            symbol="EURUSD",
            section="engine",
            model_id="Order",
            name="test-admin",
            key_id="0" * 12,
            limit_id="999999",
            connection_id="999999",
            cache_type="market_data",
            dataset_id="fills",
            hook_id="999999",
            signal_id="999999",
        )
        positions = (await admin.get("/api/v1/portfolio/positions")).json()
        for position in positions["items"] if isinstance(positions, dict) else positions:
            owner = position["account_id"]
            side = self.own if owner == SCOPED_ACCOUNT else self.other
            if owner in (SCOPED_ACCOUNT, OTHERS[0]):
                side.setdefault("position_ticket", str(position["ticket"]))

    def fill(self, path: str, side: str) -> str | None:
        """`path` with its parameters filled from `side` ("own" or "other");
        None when a parameter has no value on that side."""
        values = {**self.shared, **(self.own if side == "own" else self.other)}

        def value(match: re.Match[str]) -> str:
            name = match[1]
            if name == "ticket" and "/positions/" in path:
                name = "position_ticket"
            if name == "task_id":
                name = "job_id"  # a task is a job
            if name == "name" and "/schedules/" in path:
                name = "task_name"  # a schedule belongs to the account in its args
            if name == "alert_id" and "/price-alerts/" not in path:
                name = "__alert"  # a risk alert: none to point at, use a number
                return values.get(name, "999999")
            if name not in values:
                raise KeyError(name)
            return values[name]

        try:
            return re.sub(r"\{([a-z_]+)\}", value, path)
        except KeyError:
            return None


def _twin(method: str, path: str) -> tuple[str, str]:
    """The v1 route a dialect's route adapts (docs/dialects.md): the seeds'
    `/api/<group>` paths are v1's `/api/v1/<group>`; a v1 route is its own."""
    if path.startswith("/api/") and not path.startswith("/api/v1/"):
        return method, "/api/v1/" + path.removeprefix("/api/")
    return method, path


def _account_params(path: str) -> bool:
    if "/schedules/{name}" in path:
        return True
    return bool(
        re.search(r"\{(account_id|ticket|job_id|alert_id|strategy_id|task_name|task_id)\}", path)
    )


def _openapi_routes(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _body_for(operation: dict[str, Any], spec: dict[str, Any], account: str) -> Any | None:
    """A valid JSON body for `operation` (None without one) whose account
    (`account_id`, `account` or `args.account_id`) is `account`."""
    content = (operation.get("requestBody") or {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return None
    schema = _resolve(schema, spec)
    body = _example(schema, spec)
    properties = schema.get("properties", {})
    for field in ("account_id", "account"):
        if field in properties:
            body[field] = account
    if "args" in properties:
        body["args"] = {"account_id": account}
    return body


def _names_account(operation: dict[str, Any], spec: dict[str, Any]) -> bool:
    content = (operation.get("requestBody") or {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return False
    properties = _resolve(schema, spec).get("properties", {})
    return bool({"account_id", "account", "args"} & set(properties))


# Bodies a schema alone cannot make valid (rules across fields).
_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/models/train"): {
        "kind": "ma_crossover",
        "symbol": "EURUSD",
        "grid": {"fast": [5]},
    },
}

_OVERRIDES: dict[str, Any] = {
    "symbol": "EURUSD",
    "side": "buy",
    "volume": "0.01",
    "handler": "reconcile_account",
    "kind": "ma_crossover",
    "direction": "above",
    "level": "999999",
    "params": {},
    "args": {},
    "client_order_id": "scope-walk",
}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(options[0], spec)
    return schema


def _example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    schema = _resolve(schema, spec)
    if "properties" in schema:
        return {
            name: _OVERRIDES[name] if name in _OVERRIDES else _example(sub, spec)
            for name, sub in schema["properties"].items()
            if name in schema.get("required", [])
        }
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    return {
        "string": "x",
        "integer": 1,
        "number": 1,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(schema.get("type", "string"), "x")


@pytest.fixture
async def servers(api_factory: ApiFactory, engine_factory: EngineFactory, tmp_path):
    full = await _served(api_factory, engine_factory, tmp_path, only=False)
    alone = await _served(api_factory, engine_factory, tmp_path, only=True)
    return full, alone


async def test_every_route_answers_a_scoped_key_within_its_accounts(servers) -> None:
    full, alone = servers
    spec = (await full.client("admin").get("/api/openapi.json")).json()
    routes = _openapi_routes(spec)
    assert len(routes) > 90  # the walk really walks the API
    resources = {"full": Resources(), "alone": Resources()}
    await resources["full"].read(full.client("admin"))
    await resources["alone"].read(alone.client("admin"))
    failures: list[str] = []
    walked = 0
    for role in ("scoped-viewer", "scoped"):
        client_full, client_alone = full.client(role), alone.client(role)
        for method, path, _ in routes:
            if method != "GET":
                continue
            url_full = resources["full"].fill(path, "own")
            url_alone = resources["alone"].fill(path, "own")
            if url_full is None or url_alone is None:
                failures.append(f"{path}: no value for a path parameter")
                continue
            walked += 1
            got, ref = await client_full.get(url_full), await client_alone.get(url_alone)
            where = f"{role} GET {url_full}"
            if got.status_code >= 500:
                failures.append(f"{where}: {got.status_code}")
                continue
            leaked = _names_other(got.text)
            if leaked:
                failures.append(f"{where} names another account: ...{leaked}...")
            if got.status_code != ref.status_code:
                failures.append(
                    f"{where}: {got.status_code} with four accounts, {ref.status_code} with one"
                )
                continue
            if "json" in got.headers.get("content-type", "") and got.status_code == 200:
                seen, alone_seen = _aggregates(got.json()), _aggregates(ref.json())
                for leaf, values in seen.items():
                    if alone_seen.get(leaf) != values:
                        failures.append(
                            f"{where} {leaf}: {values[:6]} with four accounts, "
                            f"{alone_seen.get(leaf, [])[:6]} with one"
                        )
            if _account_params(path):
                url_other = resources["full"].fill(path, "other")
                if url_other is not None:
                    other = await client_full.get(url_other)
                    if other.status_code not in (403, 404):
                        failures.append(f"{role} GET {url_other}: {other.status_code}, not 404")
    assert walked > 40
    assert not failures, "\n".join(failures)


async def test_every_action_refuses_a_scoped_trader_outside_its_accounts(servers) -> None:
    full, _ = servers
    spec = (await full.client("admin").get("/api/openapi.json")).json()
    resources = Resources()
    await resources.read(full.client("admin"))
    trader = full.client("scoped")
    failures: list[str] = []
    checked = 0
    within: list[tuple[str, str]] = []
    for method, path, operation in _openapi_routes(spec):
        twin = _twin(method, path)
        if method == "GET" or (method, path) in CALLER_ONLY or twin in CALLER_ONLY:
            continue
        if twin in WITHIN_CALLER:
            within.append((method, path))
            continue  # called last: they act, on the caller's own accounts
        body = _BODIES.get(twin) or _body_for(operation, spec, OTHERS[0])
        if _account_params(path):
            url = resources.fill(path, "other")
            expected: tuple[int, ...] = (403, 404)
        elif _names_account(operation, spec):
            url = resources.fill(path, "own")
            expected = (403, 404)
        else:
            # No account anywhere: an action on the whole system (or on keys,
            # users, instruments, the configuration) is not for a scoped key.
            url = resources.fill(path, "own")
            expected = (403,)
        assert url is not None, path
        response = await trader.request(method, url, json=body)
        checked += 1
        if response.status_code not in expected:
            failures.append(
                f"{method} {url}: {response.status_code}, expected {expected}: "
                f"{response.text[:200]}"
            )
    assert set(WITHIN_CALLER) <= set(within)
    for method, path in sorted(within):
        response = await trader.request(method, path)
        assert response.status_code < 300, (path, response.text)
    workers = (await full.client("admin").get("/api/v1/workers")).json()["items"]
    running = {w["account_id"] for w in workers if w["status"] == "running"}
    assert set(OTHERS) <= running, f"a scoped key's action reached another account: {running}"
    assert checked > 40
    assert not failures, "\n".join(failures)


async def test_every_channel_streams_a_scoped_key_only_its_accounts(servers) -> None:
    full, alone = servers
    names = CHANNELS.names
    assert {"system", "orders", "positions", "alerts", "portfolio"} <= set(names)
    snapshots: dict[str, dict[str, Any]] = {}
    for api, label in ((full, "full"), (alone, "alone")):
        async with connect(api.url, api.keys["scoped-viewer"]) as stream:
            for name in names:
                snapshot = await stream.subscribe(name)
                snapshots[f"{label}:{name}"] = snapshot["data"]
            if api is full:
                # Activity on another account while subscribed: none of it may arrive.
                admin = api.client("admin")
                response = await admin.post(
                    "/api/v1/orders",
                    json={
                        "account_id": OTHERS[0],
                        "symbol": "XAUUSD",
                        "side": "buy",
                        "volume": "0.01",
                        "client_order_id": "scope-late",
                    },
                )
                assert response.status_code == 201, response.text
                await admin.post(f"/api/v1/workers/{OTHERS[1]}/stop")
                api.engine.mark(sample_equity=True)
                await api.engine.quiesce()
                stream.seen.clear()
                try:
                    async with asyncio.timeout(1.5):
                        while True:
                            await stream.recv()
                except TimeoutError:
                    pass
                for message in stream.seen:
                    leaked = _names_other(json.dumps(message))
                    assert leaked is None, f"{message.get('channel')}: ...{leaked}..."
                    if message.get("channel") == "system" and message["type"] == "event":
                        status = message["data"]["status"]
                        assert status["workers_total"] == 1, status
    failures = []
    for name in names:
        full_data, alone_data = snapshots[f"full:{name}"], snapshots[f"alone:{name}"]
        leaked = _names_other(json.dumps(full_data))
        if leaked:
            failures.append(f"{name} snapshot names another account: ...{leaked}...")
        seen, alone_seen = _aggregates(full_data), _aggregates(alone_data)
        for leaf, values in seen.items():
            if alone_seen.get(leaf) != values:
                failures.append(f"{name} {leaf}: {values[:6]} vs {alone_seen.get(leaf)}")
    assert not failures, "\n".join(failures)
