"""The risk/market API's cache, connection and stream paths against a real
server: cache health and types, a symbol's market data with its order book
and 24-hour figures, clearing a cache type, the WebSocket management routes,
risk evaluation for one symbol, and the flat ticker of a `?token=` client."""

from __future__ import annotations

from decimal import Decimal

from config.models import DialectSettings
from tests.api.conftest import ApiFactory
from tests.api.test_api_ws_ticker import SYMBOL, _quotes
from tests.api.ws_support import connect


async def test_cache_health_types_and_market_data(api_factory: ApiFactory) -> None:
    api = await api_factory()
    viewer = api.client("viewer")
    data = await viewer.get(f"/api/v1/cache/market-data/{SYMBOL}")
    assert data.status_code == 200, data.text
    body = data.json()
    assert body["symbol"] == SYMBOL and body["cached_at"]
    bid, ask, price = Decimal(body["bid"]), Decimal(body["ask"]), Decimal(body["price"])
    assert bid < price < ask
    book = body["order_book"]
    assert len(book["bids"]) == len(book["asks"]) == 5
    assert book["bids"][0][0] == float(bid) and book["asks"][0][0] == float(ask)
    assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
    assert [a[0] for a in book["asks"]] == sorted(a[0] for a in book["asks"])
    assert all(level[1] > 0 for level in book["bids"] + book["asks"])
    assert float(body["change_24h"]) == float(body["change_24h"])  # a number, not null
    assert int(float(body["volume_24h"])) > 0
    again = (await viewer.get(f"/api/v1/cache/market-data/{SYMBOL}")).json()
    assert again["order_book"] == book  # the same quote shows the same book

    price_only = (await viewer.get(f"/api/v1/cache/price/{SYMBOL}")).json()
    assert price_only["price"] == body["price"] and price_only["change_24h"] == body["change_24h"]
    assert (await viewer.get("/api/v1/cache/price/NOPE")).status_code == 404

    health = (await viewer.get("/api/v1/cache/health")).json()
    assert health["status"] == "healthy" and health["redis_connected"] is False
    assert health["backend"] == "in-process" and 0 <= health["cache_hit_rate"] <= 1
    stats = (await viewer.get("/api/v1/cache/stats")).json()
    assert stats["bars"]["hits"] >= 1  # v1's shape is kept...
    market = stats["market_data_cache"]  # ...with the seed's types beside it
    assert market["keys"] >= 1 and market["avg_ttl_seconds"] > 0
    assert stats["price_cache"]["keys"] == len(api.engine.settings.instruments)
    assert stats["price_cache"]["avg_ttl_seconds"] is None


async def test_price_alerts_and_clearing_caches(api_factory: ApiFactory) -> None:
    api = await api_factory()
    trader, admin = api.client("trader"), api.client("admin")
    created = await trader.post(
        "/api/v1/cache/price-alert",
        json={"symbol": SYMBOL, "direction": "above", "level": "9.5"},
    )
    assert created.status_code == 201, created.text
    listed = (await trader.get("/api/v1/cache/price-alerts")).json()["alerts"]
    assert [a["id"] for a in listed] == [created.json()["id"]]

    await trader.get(f"/api/v1/cache/market-data/{SYMBOL}")
    assert (await trader.delete("/api/v1/cache/market_data")).status_code == 403
    cleared = (await admin.delete("/api/v1/cache/market_data")).json()
    assert cleared["cache_type"] == "market_data" and cleared["cleared"] >= 1
    assert (await admin.get("/api/v1/cache/stats")).json()["market_data_cache"]["keys"] == 0
    assert (await admin.delete("/api/v1/cache/price")).json()["cleared"] == 0
    sessions = (await admin.delete("/api/v1/cache/user_session")).json()
    assert sessions["cleared"] == len(api.keys)
    assert (await trader.get("/api/v1/cache/health")).status_code == 200  # keys still work
    bad = await admin.delete("/api/v1/cache/everything")
    assert bad.status_code == 422
    audit = (await admin.get("/api/v1/audit", params={"limit": 100})).json()["items"]
    assert sum(e["action"] == "cache.clear" for e in audit) == 3


async def test_websocket_management_routes(api_factory: ApiFactory) -> None:
    api = await api_factory()
    admin = api.client("admin")
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("ticker", symbols=[SYMBOL])
        await stream.subscribe("workers")
        listed = (await admin.get("/api/v1/websocket/connections")).json()["connections"]
        assert len(listed) == 1
        assert listed[0]["client_id"] == "test-viewer"
        assert sorted(listed[0]["subscriptions"]) == [f"ticker:{SYMBOL}", "workers"]
        assert (await admin.get("/api/v1/websocket/stats")).json()["clients"] == 1
        sent = await admin.post("/api/v1/websocket/broadcast", json={"message": "maintenance"})
        assert sent.json() == {"delivered": 1}
        notice = await stream.until(lambda m: m["channel"] == "logs")
        assert "maintenance" in notice["data"]["record"]["message"]
        refused = await api.client("viewer").delete(
            f"/api/v1/websocket/connections/{listed[0]['connection_id']}"
        )
        assert refused.status_code == 403
        gone = await admin.delete(f"/api/v1/websocket/connections/{listed[0]['connection_id']}")
        assert gone.status_code == 200
        assert (await stream.closed())[0] == 1008
    assert (await admin.delete("/api/v1/websocket/connections/nope")).status_code == 404


async def test_risk_evaluation_for_a_symbol(api_factory: ApiFactory) -> None:
    api = await api_factory()
    admin = api.client("admin")
    limit = await admin.post(
        "/api/v1/risk/limits",
        json={
            "scope": "symbol",
            "symbol": "GBPUSD",
            "kind": "max_position_size",
            "threshold": "50",
        },
    )
    assert limit.status_code == 201, limit.text
    whole = (await admin.post("/api/v1/risk/evaluate")).json()
    assert "GBPUSD" in {m["symbol"] for m in whole["metrics"]}
    assert whole["risk_level"] in ("low", "moderate", "high", "critical")
    assert 0 <= Decimal(whole["margin_ratio"]) <= 1
    one = (await admin.post("/api/v1/risk/evaluate", json={"symbol": SYMBOL})).json()
    assert one["symbol"] == SYMBOL
    assert {m["symbol"] for m in one["metrics"]} <= {None, SYMBOL}
    binding = [m for m in whole["metrics"] if m["symbol"] in (None, SYMBOL)]
    assert len(one["metrics"]) == len(binding) < len(whole["metrics"])
    assert (await admin.post("/api/v1/risk/evaluate", json={"symbol": "NOPE"})).status_code == 404
    assert (await admin.post("/api/v1/risk/evaluate", json={"sym": "x"})).status_code == 422

    await admin.post("/api/v1/system/kill-switch", json={"reason": "test"})
    halted = (await admin.post("/api/v1/risk/evaluate", json={"symbol": SYMBOL})).json()
    assert halted["risk_level"] == "critical"


async def test_a_token_client_reads_the_flat_ticker(api_factory: ApiFactory) -> None:
    api = await api_factory(dialects=DialectSettings(ws_query_token=True), ws_ticker_interval_ms=0)
    query = f"token={api.keys['viewer']}"
    async with connect(api.url, query=query, welcome=False) as stream:
        welcome = await stream.recv()
        assert welcome["type"] == "ack" and welcome["data"]["role"] == "viewer"
        await stream.send(action="subscribe", channel="ticker", symbols=[SYMBOL, "GBPUSD"])
        await stream.until(lambda m: m.get("type") == "snapshot")
        api.engine.process_quotes(_quotes(api.engine, 1))
        tick = await stream.until(lambda m: m.get("channel") == "ticker" and "symbol" in m)
        assert set(tick) == {
            "channel",
            "symbol",
            "price",
            "bid",
            "ask",
            "change_24h",
            "volume_24h",
            "timestamp",
        }
        assert tick["symbol"] == SYMBOL and Decimal(tick["bid"]) < Decimal(tick["price"])
        await stream.send(action="unsubscribe", channel="ticker", symbols=["GBPUSD"])
        ack = await stream.until(lambda m: m.get("type") == "ack")
        assert ack["data"]["symbols"] == [SYMBOL]


async def test_the_trades_channel_prints_what_moved_the_price(api_factory: ApiFactory) -> None:
    api = await api_factory(dialects=DialectSettings(ws_query_token=True), ws_ticker_interval_ms=0)
    async with (
        connect(api.url, api.keys["viewer"]) as v1,
        connect(api.url, query=f"token={api.keys['viewer']}", welcome=False) as seed,
    ):
        snapshot = await v1.subscribe("trades", symbols=[SYMBOL])
        assert [q["symbol"] for q in snapshot["data"]["quotes"]] == [SYMBOL]
        await seed.send(action="subscribe", channel="trades", symbols=[SYMBOL])
        await seed.until(lambda m: m.get("type") == "snapshot")
        up = _quotes(api.engine, 2)  # two quotes, each a point above the last
        api.engine.process_quotes(up[:1])
        api.engine.process_quotes(up[1:])
        event = await v1.expect("event", "trades")
        trade = event["data"]["trade"]
        assert trade["symbol"] == SYMBOL and trade["side"] == "buy"
        assert Decimal(trade["price"]) in (up[0].ask, up[1].ask)  # an uptick lifts the ask
        assert Decimal("0.01") <= Decimal(trade["volume"]) <= Decimal("5")
        flat = await seed.until(lambda m: m.get("channel") == "trades" and "price" in m)
        assert set(flat) == {"channel", "symbol", "price", "quantity", "side", "timestamp"}
        assert flat["side"] == "buy"
