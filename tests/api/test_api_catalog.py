"""The data catalog against a real server: the datasets with their columns,
rows, time range and size; downloads as CSV and JSON Lines within a key's
accounts and a time range; bars drawn a chunk at a time; the seed's root
paths; and the seed's channel names on `/ws`."""

from __future__ import annotations

import csv
import io
import itertools
import json
import tracemalloc
from datetime import datetime, timedelta

import pytest

from engine.catalog import BAR_TIMEFRAMES, BARS_DAYS
from engine.domain import Timeframe
from tests.api.conftest import SCOPED_ACCOUNT, Api
from tests.api.ws_support import connect

OTHER = "account-002"


async def _trade(api: Api) -> None:
    """Two filled orders on the scoped account, one on another; stored."""
    api.engine.pause_strategies()
    trader = api.client("trader")
    symbols = {a.id: a.symbols[0] for a in api.engine.settings.accounts}
    for n, account in enumerate((SCOPED_ACCOUNT, SCOPED_ACCOUNT, OTHER)):
        placed = await trader.post(
            "/api/v1/orders",
            json={
                "account_id": account,
                "symbol": symbols[account],
                "side": "buy",
                "volume": "1" if account == OTHER else "0.10",
                "client_order_id": f"catalog-{n}",
            },
        )
        assert placed.json()["status"] == "filled", placed.text
    await api.engine.store.db.writer.flush()


async def test_the_catalog_lists_what_the_engine_holds(api: Api) -> None:
    await _trade(api)
    listed = (await api.client("viewer").get("/api/v1/catalog", params={"limit": 500})).json()
    by_id = {d["id"]: d for d in listed["items"]}
    symbols = sorted(api.engine.settings.instruments)
    bars = {f"bars.{s}.{tf.value}" for s in symbols for tf in BAR_TIMEFRAMES}
    assert set(by_id) == {"fills", "orders", "equity_history", "signals"} | bars
    fills = by_id["fills"]
    stored = await api.engine.store.db.fetchone("SELECT count(*) AS n FROM fills")
    assert stored is not None and fills["rows"] == stored["n"] >= 3
    assert {"ticket", "account_id", "symbol", "price", "volume", "time"} <= {
        c["name"] for c in fills["columns"]
    }
    assert fills["start"] <= fills["end"] and fills["size_bytes"] > 0
    assert fills["size_estimated"] is False
    hourly = by_id["bars.EURUSD.H1"]
    assert hourly["rows"] == BARS_DAYS * 24 and hourly["kind"] == "market"
    start, end = datetime.fromisoformat(hourly["start"]), datetime.fromisoformat(hourly["end"])
    assert end - start == timedelta(hours=BARS_DAYS * 24 - 1)

    scoped = (await api.client("scoped").get("/api/v1/catalog/datasets/fills")).json()
    mine = await api.engine.store.db.fetchone(
        "SELECT count(*) AS n FROM fills WHERE account_id = ?", (SCOPED_ACCOUNT,)
    )
    assert mine is not None and scoped["rows"] == mine["n"] < fills["rows"]
    assert (await api.client("viewer").get("/api/v1/catalog/datasets/nope")).status_code == 404
    assert (
        await api.client("viewer").get("/api/v1/catalog/datasets/bars.EURUSD.S5")
    ).status_code == 404
    assert (await api.client().get("/api/v1/catalog")).status_code == 401


async def test_downloads_as_csv_and_json_lines_within_the_keys_accounts(api: Api) -> None:
    await _trade(api)
    viewer, scoped = api.client("viewer"), api.client("scoped")
    dataset = (await viewer.get("/api/v1/catalog/datasets/fills")).json()
    got = await viewer.get("/api/v1/catalog/datasets/fills/download")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert 'filename="fills.csv"' in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert list(rows[0]) == [c["name"] for c in dataset["columns"]]
    assert len(rows) == dataset["rows"]
    assert [int(r["ticket"]) for r in rows] == sorted(int(r["ticket"]) for r in rows)

    lines = (await scoped.get("/api/v1/catalog/datasets/fills/download?format=jsonl")).text
    fills = [json.loads(line) for line in lines.splitlines()]
    assert fills and {f["account_id"] for f in fills} == {SCOPED_ACCOUNT}
    assert fills[0]["price"] == rows[0]["price"]  # decimals as stored text, exact

    later = datetime.fromisoformat(fills[-1]["time"])
    none = await scoped.get(
        "/api/v1/catalog/datasets/fills/download",
        params={"format": "jsonl", "start": (later + timedelta(seconds=1)).isoformat()},
    )
    assert none.status_code == 200 and none.text == ""
    bad = await viewer.get("/api/v1/catalog/datasets/fills/download?format=xlsx")
    assert bad.status_code == 422


async def test_bars_download_a_time_range(api: Api) -> None:
    viewer = api.client("viewer")
    hourly = (await viewer.get("/api/v1/catalog/datasets/bars.EURUSD.H1")).json()
    last = datetime.fromisoformat(hourly["end"])
    day = {
        "start": (last - timedelta(hours=23)).isoformat(),
        "end": (last + timedelta(hours=1)).isoformat(),
    }
    got = await viewer.get("/api/v1/catalog/datasets/bars.EURUSD.H1/download", params=day)
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == 24
    times = [datetime.fromisoformat(r["time"]) for r in rows]
    assert times[-1] == last and all(
        b - a == timedelta(hours=1) for a, b in itertools.pairwise(times)
    )
    assert all(float(r["low"]) <= float(r["open"]) <= float(r["high"]) for r in rows)
    # The last bar closes at the current price: it joins the live market.
    quote = api.engine.quote("EURUSD")
    assert quote is not None and float(rows[-1]["close"]) == round(quote.mid, 5)


def _peak_while_drawing(api: Api, count: int) -> int:
    simulator = api.engine.simulator
    assert simulator is not None
    tracemalloc.start()
    try:
        drawn = 0
        now = api.engine.clock.now()
        for chunk in simulator.iter_history("EURUSD", Timeframe.M1, count, now, chunk=2_000):
            drawn += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert drawn == count
    return peak


async def test_bars_are_drawn_in_constant_memory(api: Api) -> None:
    small, large = _peak_while_drawing(api, 10_000), _peak_while_drawing(api, 40_000)
    # Four times the bars, not four times the memory: a chunk is held at a time
    # (two at most: the one the caller holds while the next is drawn).
    assert large < small * 1.5, (small, large)


@pytest.mark.slow
async def test_a_year_of_m1_bars_streams(api: Api) -> None:
    chunks = lines = 0
    async with api.client("viewer").stream(
        "GET", "/catalog/datasets/bars.EURUSD.M1/download", params={"format": "jsonl"}
    ) as response:
        assert response.status_code == 200
        async for text in response.aiter_text():
            chunks += 1
            lines += text.count("\n")
    assert lines == BARS_DAYS * 24 * 60 and chunks > 10


async def test_the_seed_root_paths_and_ws_channel_names(api: Api) -> None:
    viewer = api.client("viewer")
    for path in (
        "/catalog",
        "/strategies",
        "/portfolio",
        "/portfolio/positions",
        "/orders",
        "/performance",
    ):
        got = await viewer.get(path)
        assert got.status_code == 200, (path, got.text)
    v1 = (await viewer.get("/api/v1/catalog/datasets/fills")).json()
    assert (await viewer.get("/catalog/datasets/fills")).json() == v1
    assert (await api.client().get("/catalog")).status_code == 401
    async with connect(api.url, api.keys["viewer"], path="/ws") as stream:
        await stream.send(action="subscribe", channel="portfolio_updates")
        snapshot = await stream.until(
            lambda m: m["type"] == "snapshot" and m["channel"] == "portfolio"
        )
        assert "accounts" in snapshot["data"] or snapshot["data"]
        await stream.send(action="subscribe", channel="trade_notifications")
        assert await stream.until(lambda m: m["type"] == "snapshot" and m["channel"] == "fills")
