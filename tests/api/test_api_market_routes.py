"""Market data and price alerts over REST and the stream: a symbol's cached
market, the cache's statistics and invalidation, and price alerts whose
crossings arrive on the `alerts` channel; with roles and scoped keys."""

from __future__ import annotations

from decimal import Decimal

from engine.models import Quote
from tests.api.conftest import SCOPED_ACCOUNT, Api
from tests.api.test_api_strategies_routes import audit_actions, fields
from tests.api.ws_support import connect
from tests.strategies_runtime.helpers import run_until

ALERTS = "/api/v1/price-alerts"


def cross(api: Api, symbol: str, bid: str) -> None:
    price = Decimal(bid)
    api.engine.process_quotes(
        [
            Quote(
                symbol=symbol,
                bid=price,
                ask=price + Decimal("0.0001"),
                time=api.engine.clock.now(),
                mid=float(price),
            )
        ]
    )


async def test_market_view_comes_from_the_cache(api: Api) -> None:
    viewer = api.client("viewer")

    first = await viewer.get("/api/v1/market/EURUSD", params={"bars": 5, "timeframe": "S15"})
    second = await viewer.get("/api/v1/market/EURUSD", params={"bars": 5, "timeframe": "S15"})

    assert first.status_code == 200, first.text
    view = first.json()
    assert view["quote"]["bid"] == str(api.engine.quote("EURUSD").bid)  # type: ignore[union-attr]
    assert len(view["bars"]) == 5 and view["timeframe"] == "S15"
    assert second.json()["bars"] == view["bars"]
    stats = (await viewer.get("/api/v1/cache/stats")).json()
    # S15 bars asked for, and the H1 bars of the 24-hour figures (`day`).
    assert (stats["bars"]["hits"], stats["bars"]["misses"]) == (2, 2)
    assert (stats["trades"]["hits"], stats["trades"]["misses"]) == (1, 1)
    assert stats["bar_series"] == 2
    assert view["day"]["volume_24h"] > 0 and view["day"]["low"] <= view["day"]["last"]

    assert (await viewer.get("/api/v1/market/NOPE")).status_code == 404
    assert fields(await viewer.get("/api/v1/market/EURUSD", params={"bars": 501})) == ["query.bars"]
    assert (await api.client().get("/api/v1/market/EURUSD")).status_code == 401
    assert (await api.client().get("/api/v1/cache/stats")).status_code == 401


async def test_invalidating_the_cache(api: Api) -> None:
    trader = api.client("trader")
    await trader.get("/api/v1/market/EURUSD")
    await trader.get("/api/v1/market/GBPUSD")

    one = await trader.post("/api/v1/cache/invalidate", json={"symbol": "EURUSD", "kind": "bars"})
    assert one.status_code == 200, one.text
    # Each view holds two bar series (its timeframe and the H1 of `day`) and trades.
    assert one.json()["dropped"] == 2
    assert one.json()["stats"]["bar_series"] == 2
    everything = await trader.post("/api/v1/cache/invalidate")
    assert everything.json()["dropped"] == 4
    assert everything.json()["stats"]["invalidations"] == 2

    assert fields(await trader.post("/api/v1/cache/invalidate", json={"kind": "quotes"})) == [
        "body.kind"
    ]
    assert (
        await trader.post("/api/v1/cache/invalidate", json={"symbol": "NOPE"})
    ).status_code == 404
    assert (await api.client("viewer").post("/api/v1/cache/invalidate")).status_code == 403
    assert ("cache.invalidate", "EURUSD", "ok") in await audit_actions(api)


async def test_a_scoped_key_sees_only_its_accounts_trades(api: Api) -> None:
    engine = api.engine

    async def both_traded() -> bool:
        accounts = {f.account_id for f in await engine.store.trades.recent("EURUSD", 100)}
        return {SCOPED_ACCOUNT, "account-004"} <= accounts

    await run_until(engine, both_traded, limit=7200)
    params = {"trades": 100}
    everyone = (await api.client("viewer").get("/api/v1/market/EURUSD", params=params)).json()
    scoped = (await api.client("scoped").get("/api/v1/market/EURUSD", params=params)).json()

    assert {t["account_id"] for t in everyone["trades"]} == {SCOPED_ACCOUNT, "account-004"}
    assert {t["account_id"] for t in scoped["trades"]} == {SCOPED_ACCOUNT}


async def test_a_price_alert_fires_on_the_alerts_channel(api: Api) -> None:
    trader = api.client("trader")
    bid = api.engine.quote("EURUSD").bid  # type: ignore[union-attr]
    level = str(bid + Decimal("0.01"))

    created = await trader.post(
        ALERTS,
        json={"symbol": "EURUSD", "direction": "above", "level": level, "severity": "high"},
    )
    assert created.status_code == 201, created.text
    alert = created.json()
    assert (alert["armed"], alert["active"], alert["level"]) == (True, True, level)
    assert (await trader.get(f"{ALERTS}/{alert['id']}")).json() == alert

    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("alerts")
        cross(api, "EURUSD", level)
        event = await stream.until(lambda m: m["type"] == "event" and m["channel"] == "alerts")

    fired = event["data"]["alert"]
    assert (fired["kind"], fired["severity"]) == ("price_alert", "high")
    assert fired["data"]["price_alert_id"] == alert["id"]
    listed = (await trader.get(ALERTS, params={"active": "false"})).json()
    assert [(a["id"], a["triggered_count"]) for a in listed["items"]] == [(alert["id"], 1)]

    deleted = await trader.delete(f"{ALERTS}/{alert['id']}")
    assert deleted.status_code == 200
    assert (await trader.get(f"{ALERTS}/{alert['id']}")).status_code == 404
    assert (await trader.delete(f"{ALERTS}/{alert['id']}")).status_code == 404
    assert ("price_alert.add", "EURUSD", "ok") in await audit_actions(api)


async def test_bad_price_alerts_get_422_and_roles_apply(api: Api) -> None:
    trader = api.client("trader")
    good = {"symbol": "EURUSD", "direction": "below", "level": "1.05"}
    for body, path in [
        ({**good, "level": "0"}, "body.level"),
        ({**good, "level": "cheap"}, "body.level"),
        ({**good, "direction": "sideways"}, "body.direction"),
        ({**good, "symbol": "NOPE"}, "body.symbol"),
        ({**good, "note": "x" * 201}, "body.note"),
        ({**good, "id": 7}, "body.id"),
    ]:
        assert fields(await trader.post(ALERTS, json=body)) == [path], body
    assert (await trader.post(ALERTS, json={**good, "account": "account-404"})).status_code == 404

    denied = await api.client("viewer").post(ALERTS, json=good)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert (await api.client().get(ALERTS)).status_code == 401
    assert (await trader.get(ALERTS)).json()["total"] == 0


async def test_a_scoped_key_keeps_to_its_accounts_price_alerts(api: Api) -> None:
    trader, scoped = api.client("trader"), api.client("scoped")
    body = {"symbol": "EURUSD", "direction": "below", "level": "1.05"}
    shared = (await trader.post(ALERTS, json=body)).json()
    foreign = (await trader.post(ALERTS, json={**body, "account": "account-002"})).json()

    assert fields(await scoped.post(ALERTS, json=body)) == ["body.account"]
    assert (await scoped.post(ALERTS, json={**body, "account": "account-002"})).status_code == 404
    own = await scoped.post(ALERTS, json={**body, "account": SCOPED_ACCOUNT})
    assert own.status_code == 201

    visible = {a["id"] for a in (await scoped.get(ALERTS)).json()["items"]}
    assert visible == {shared["id"], own.json()["id"]}
    assert (await scoped.get(f"{ALERTS}/{foreign['id']}")).status_code == 404
    assert (await scoped.delete(f"{ALERTS}/{foreign['id']}")).status_code == 404
    assert (await scoped.delete(f"{ALERTS}/{shared['id']}")).status_code == 404
    assert (await scoped.delete(f"{ALERTS}/{own.json()['id']}")).status_code == 200
    assert len(api.engine.list_price_alerts()) == 2
