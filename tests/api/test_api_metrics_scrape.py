"""`GET /metrics`: Prometheus text a real scraper can parse, with the engine's
workers, equity, orders and fills, event counts, WebSocket clients and the
HTTP latency histogram; a viewer key may scrape, anonymous callers and
account-scoped keys may not."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from engine.models import Event, FillEvent
from tests.api.ws_support import connect


async def _scrape(api: Any) -> dict[str, list[Sample]]:
    response = await api.client("viewer").get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


async def test_scraping_needs_an_unscoped_key_but_health_does_not(api: Any) -> None:
    assert (await api.client().get("/metrics")).status_code == 401
    scoped = await api.client("scoped").get("/metrics")
    assert scoped.status_code == 403
    assert scoped.json()["error"]["code"] == "FORBIDDEN"
    assert (await api.client().get("/health")).status_code == 200


async def test_engine_figures(api: Any) -> None:
    engine = api.engine
    before = await _scrape(api)
    fills: Counter[str] = Counter()

    def count(event: Event) -> None:
        if isinstance(event, FillEvent):
            fills[event.fill.account_id] += 1

    engine.bus.add_listener(count)
    published = engine.bus.published
    await engine.clock.advance(300)
    await engine.quiesce()
    after = await _scrape(api)
    engine.bus.remove_listener(count)

    assert _value(after["tradedeck_engine_up"], "tradedeck_engine_up") == 1
    running = sum(1 for w in engine.workers() if w.status == "running")
    assert _value(after["tradedeck_workers"], "tradedeck_workers", state="running") == running
    assert _value(after["tradedeck_workers"], "tradedeck_workers", state="error") == 0

    for account in engine.snapshot().accounts:
        equity = _value(
            after["tradedeck_account_equity"],
            "tradedeck_account_equity",
            account=account.account_id,
            currency=account.currency,
        )
        assert equity == float(account.equity)

    assert sum(fills.values()) > 0
    fills_before = {s.labels["account"]: s.value for s in before["tradedeck_fills"]}
    fills_after = {s.labels["account"]: s.value for s in after["tradedeck_fills"]}
    for account, seen in fills.items():
        assert fills_after[account] - fills_before.get(account, 0.0) == seen
    filled = [
        s
        for s in after["tradedeck_orders"]
        if s.name == "tradedeck_orders_total" and s.labels["status"] == "filled"
    ]
    assert sum(s.value for s in filled) > 0
    events = _value(after["tradedeck_events_published"], "tradedeck_events_published_total")
    assert events >= engine.bus.published - 1 and events > published


async def test_websocket_clients_and_http_latency(api: Any) -> None:
    viewer = api.client("viewer")
    for _ in range(3):
        assert (await viewer.get("/api/v1/workers")).status_code == 200
    assert (await viewer.get("/api/v1/workers/account-001")).status_code == 200
    assert (await api.client().get("/api/v1/workers")).status_code == 401
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("orders")
        families = await _scrape(api)
        assert _value(families["tradedeck_ws_clients"], "tradedeck_ws_clients") == 1
        sent = _value(families["tradedeck_ws_messages_sent"], "tradedeck_ws_messages_sent_total")
        assert sent >= 3

    latency = families["tradedeck_http_request_duration_seconds"]
    ok = dict(method="GET", route="/api/v1/workers", status="200")
    assert _value(latency, "tradedeck_http_request_duration_seconds_count", **ok) == 3
    assert _value(latency, "tradedeck_http_request_duration_seconds_bucket", le="+Inf", **ok) == 3
    refused = dict(method="GET", route="/api/v1/workers", status="401")
    assert _value(latency, "tradedeck_http_request_duration_seconds_count", **refused) == 1
    # The route template is the label, never the raw path.
    one = dict(method="GET", route="/api/v1/workers/{account_id}", status="200")
    assert _value(latency, "tradedeck_http_request_duration_seconds_count", **one) == 1
    assert "/api/v1/workers/account-001" not in {s.labels.get("route") for s in latency}
