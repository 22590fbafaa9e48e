"""The read-only groups: strategies, instruments, market, signals and portfolio.
Each: success, filters, validation, not found, unauthenticated, and a key
limited to account-001 seeing nothing of the other accounts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest


@pytest.fixture
async def traded(api: Any) -> Any:
    """The demo after two virtual minutes of trading: signals, positions and
    equity samples exist."""
    await api.engine.clock.advance(125)
    await api.engine.quiesce()
    return api


async def items(client: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# --- strategies --------------------------------------------------------------------------


async def test_strategies_of_every_account_with_filters(api: Any) -> None:
    viewer = api.client("viewer")
    every = await items(viewer, "/api/v1/strategies", limit=500)
    configured = sum(len(a.strategies) for a in api.engine.settings.accounts)
    assert len(every) == configured
    assert {s["account_id"] for s in every} == {f"account-00{n}" for n in range(1, 5)}
    assert [s["id"] for s in every] == sorted(s["id"] for s in every)
    assert all(s["state"] == "running" for s in every)

    mine = await items(viewer, "/api/v1/strategies", account="account-002")
    assert mine and all(s["account_id"] == "account-002" for s in mine)
    crossovers = await items(viewer, "/api/v1/strategies", kind="ma_crossover")
    assert crossovers and all(s["kind"] == "ma_crossover" for s in crossovers)
    assert await items(viewer, "/api/v1/strategies", state="paused") == []

    one = await viewer.get(f"/api/v1/strategies/{every[0]['id']}")
    assert one.status_code == 200 and one.json() == every[0]
    assert (await viewer.get("/api/v1/strategies/none")).status_code == 404
    bad_state = await viewer.get("/api/v1/strategies", params={"state": "sleeping"})
    assert bad_state.status_code == 422
    assert (await api.client().get("/api/v1/strategies")).status_code == 401


async def test_stopped_workers_still_list_their_strategies(api: Any) -> None:
    await api.client("trader").post("/api/v1/workers/account-003/stop")
    stopped = await items(api.client("viewer"), "/api/v1/strategies", account="account-003")
    assert stopped and all(s["state"] == "stopped" for s in stopped)


async def test_strategies_are_scoped(api: Any) -> None:
    scoped = api.client("scoped")
    listed = await items(scoped, "/api/v1/strategies", limit=500)
    assert listed and {s["account_id"] for s in listed} == {"account-001"}
    other = next(s for s in api.engine.strategies() if s.account_id == "account-002")
    assert (await scoped.get(f"/api/v1/strategies/{other.id}")).status_code == 404


# --- instruments and market --------------------------------------------------------------


async def test_instruments_list_search_and_lookup(api: Any) -> None:
    viewer = api.client("viewer")
    listed = await items(viewer, "/api/v1/instruments")
    assert [i["symbol"] for i in listed] == sorted(api.engine.settings.instruments)
    gold = await items(viewer, "/api/v1/instruments", q="gold")
    assert [i["symbol"] for i in gold] == ["XAUUSD"]

    eurusd = (await viewer.get("/api/v1/instruments/EURUSD")).json()
    assert (eurusd["symbol"], eurusd["digits"], eurusd["volume_step"]) == ("EURUSD", 5, "0.01")
    missing = await viewer.get("/api/v1/instruments/EURXXX")
    assert missing.status_code == 404 and "EURXXX" in missing.json()["error"]["message"]
    assert (await api.client().get("/api/v1/instruments")).status_code == 401


async def test_market_gives_the_latest_quote_and_recent_bars(api: Any) -> None:
    await api.engine.clock.advance(3)
    viewer = api.client("viewer")
    market = (
        await viewer.get("/api/v1/market/EURUSD", params={"timeframe": "M5", "bars": 12})
    ).json()
    quote = api.engine.quote("EURUSD")
    assert market["quote"]["bid"] == str(quote.bid) and market["quote"]["ask"] == str(quote.ask)
    assert Decimal(market["quote"]["bid"]) < Decimal(market["quote"]["ask"])
    assert market["timeframe"] == "M5" and len(market["bars"]) == 12
    times = [b["time"] for b in market["bars"]]
    assert times == sorted(times)
    assert all(b["low"] <= min(b["open"], b["close"]) for b in market["bars"])

    assert (await viewer.get("/api/v1/market/EURUSD", params={"bars": 0})).json()["bars"] == []
    assert (await viewer.get("/api/v1/market/EURUSD", params={"bars": 501})).status_code == 422
    assert (
        await viewer.get("/api/v1/market/EURUSD", params={"timeframe": "M2"})
    ).status_code == 422
    assert (await viewer.get("/api/v1/market/NOPE")).status_code == 404
    assert (await api.client().get("/api/v1/market/EURUSD")).status_code == 401


# --- signals -----------------------------------------------------------------------------


async def test_signals_newest_first_with_filters(traded: Any) -> None:
    viewer = traded.client("viewer")
    page = (await viewer.get("/api/v1/signals", params={"limit": 500})).json()
    signals = page["items"]
    assert page["total"] == len(signals) > 3
    assert [s["id"] for s in signals] == sorted((s["id"] for s in signals), reverse=True)

    first = signals[-1]
    by_strategy = await items(viewer, "/api/v1/signals", strategy=first["strategy_id"], limit=500)
    assert by_strategy and all(s["strategy_id"] == first["strategy_id"] for s in by_strategy)
    by_symbol = await items(viewer, "/api/v1/signals", symbol=first["symbol"], limit=500)
    assert by_symbol and all(s["symbol"] == first["symbol"] for s in by_symbol)
    by_account = await items(viewer, "/api/v1/signals", account="account-002", limit=500)
    assert all(s["account_id"] == "account-002" for s in by_account)
    assert len(by_account) == sum(1 for s in signals if s["account_id"] == "account-002")

    middle = signals[len(signals) // 2]["time"]
    since = await items(viewer, "/api/v1/signals", since=middle, limit=500)
    assert since and all(s["time"] >= middle for s in since)
    assert len(since) < len(signals)

    oldest = await items(viewer, "/api/v1/signals", sort="time", order="asc", limit=2)
    assert [s["time"] for s in oldest] == sorted(s["time"] for s in signals)[:2]
    paged = (await viewer.get("/api/v1/signals", params={"skip": 1, "limit": 2})).json()
    assert paged["items"] == signals[1:3] and paged["total"] == page["total"]

    one = await viewer.get(f"/api/v1/signals/{first['id']}")
    assert one.status_code == 200 and one.json() == first
    assert (await viewer.get("/api/v1/signals/999999")).status_code == 404
    assert (await viewer.get("/api/v1/signals/first")).status_code == 422
    assert (await traded.client().get("/api/v1/signals")).status_code == 401


async def test_signals_are_scoped(traded: Any) -> None:
    scoped = traded.client("scoped")
    mine = await items(scoped, "/api/v1/signals", limit=500)
    assert mine and {s["account_id"] for s in mine} == {"account-001"}
    assert await items(scoped, "/api/v1/signals", account="account-002") == []
    every = await items(traded.client("viewer"), "/api/v1/signals", limit=500)
    other = next(s for s in every if s["account_id"] != "account-001")
    assert (await scoped.get(f"/api/v1/signals/{other['id']}")).status_code == 404


# --- portfolio ---------------------------------------------------------------------------


async def test_portfolio_per_account_and_in_total(traded: Any) -> None:
    viewer = traded.client("viewer")
    portfolio = (await viewer.get("/api/v1/portfolio")).json()
    accounts = portfolio["accounts"]
    assert [a["account_id"] for a in accounts] == [f"account-00{n}" for n in range(1, 5)]
    for field in ("balance", "equity", "realised_pnl", "unrealised_pnl"):
        assert Decimal(portfolio["total"][field]) == sum(Decimal(a[field]) for a in accounts)
    assert portfolio["total"]["open_positions"] == sum(a["open_positions"] for a in accounts)

    one = (await viewer.get("/api/v1/portfolio", params={"account": "account-003"})).json()
    assert [a["account_id"] for a in one["accounts"]] == ["account-003"]
    assert one["total"]["equity"] == one["accounts"][0]["equity"]
    assert (
        await viewer.get("/api/v1/portfolio", params={"account": "account-999"})
    ).status_code == 404
    assert (await traded.client().get("/api/v1/portfolio")).status_code == 401


async def test_positions_with_filters(traded: Any) -> None:
    viewer = traded.client("viewer")
    positions = await items(viewer, "/api/v1/portfolio/positions", limit=500)
    assert positions
    assert len(positions) == len(traded.engine.snapshot().positions)
    assert [p["ticket"] for p in positions] == sorted(p["ticket"] for p in positions)
    symbol = positions[0]["symbol"]
    filtered = await items(viewer, "/api/v1/portfolio/positions", symbol=symbol, side="buy")
    assert all(p["symbol"] == symbol and p["side"] == "buy" for p in filtered)
    assert len(filtered) == sum(
        1 for p in positions if p["symbol"] == symbol and p["side"] == "buy"
    )
    by_profit = await items(viewer, "/api/v1/portfolio/positions", sort="profit", order="desc")
    profits = [Decimal(p["profit"]) for p in by_profit]
    assert profits == sorted(profits, reverse=True)


async def test_equity_history_between_times(traded: Any) -> None:
    viewer = traded.client("viewer")
    history = (await viewer.get("/api/v1/portfolio/history", params={"limit": 500})).json()
    points = history["items"]
    assert history["total"] == len(points) >= 8  # 4 accounts, sampled every 60 s
    assert [p["time"] for p in points] == sorted(p["time"] for p in points)
    assert all(isinstance(p["equity"], str) for p in points)

    start = traded.engine.started_at + timedelta(seconds=30)
    later = await items(viewer, "/api/v1/portfolio/history", **{"from": start.isoformat()})
    assert later and all(p["time"] >= start.isoformat().replace("+00:00", "Z") for p in later)
    assert len(later) < len(points)
    window = await items(
        viewer,
        "/api/v1/portfolio/history",
        account="account-004",
        to=start.isoformat(),
    )
    assert [p["account_id"] for p in window] == ["account-004"]

    backwards = await viewer.get(
        "/api/v1/portfolio/history",
        params={"from": start.isoformat(), "to": traded.engine.started_at.isoformat()},
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["details"]["fields"][0]["path"] == "query.to"


async def test_portfolio_is_scoped(traded: Any) -> None:
    scoped = traded.client("scoped")
    portfolio = (await scoped.get("/api/v1/portfolio")).json()
    assert [a["account_id"] for a in portfolio["accounts"]] == ["account-001"]
    assert portfolio["total"]["equity"] == portfolio["accounts"][0]["equity"]
    assert (
        await scoped.get("/api/v1/portfolio", params={"account": "account-002"})
    ).status_code == 404
    positions = await items(scoped, "/api/v1/portfolio/positions", limit=500)
    assert {p["account_id"] for p in positions} <= {"account-001"}
    history = await items(scoped, "/api/v1/portfolio/history", limit=500)
    assert history and {p["account_id"] for p in history} == {"account-001"}
    assert await items(scoped, "/api/v1/portfolio/history", account="account-002") == []
