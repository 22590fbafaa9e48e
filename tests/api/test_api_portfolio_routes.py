"""`/portfolio` (summary, history by resolution, strategies) and
`/performance/metrics`: success, validation, not found, roles and scoped keys."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.api.conftest import SCOPED_ACCOUNT, Api

PORTFOLIO = "/api/v1/portfolio"
METRICS = "/api/v1/performance/metrics"


async def traded(api: Api, seconds: int = 600) -> None:
    await api.engine.clock.advance(seconds)
    await api.engine.quiesce()
    api.engine.mark(sample_equity=True)
    await api.engine.quiesce()


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["path"] for f in response.json()["error"]["details"]["fields"]]


async def test_summary_has_margin_level_and_strategies(api: Api) -> None:
    await traded(api)
    body = (await api.client("viewer").get(PORTFOLIO)).json()
    total, accounts = body["total"], body["accounts"]
    assert Decimal(total["margin"]) == sum(Decimal(a["margin"]) for a in accounts)
    if Decimal(total["margin"]):
        expected = Decimal(total["equity"]) / Decimal(total["margin"]) * 100
        assert Decimal(total["margin_level"]) == expected.quantize(Decimal("0.01"))
    assert {s["strategy_id"] for s in body["strategies"] if s["strategy_id"]} == {
        s.id for s in api.engine.strategies()
    }


async def test_history_by_resolution(api: Api) -> None:
    await traded(api, 1800)
    viewer = api.client("viewer")
    params = {"account": SCOPED_ACCOUNT, "limit": 500}
    every = (await viewer.get(f"{PORTFOLIO}/history", params=params)).json()
    closes = (
        await viewer.get(f"{PORTFOLIO}/history", params={**params, "resolution": "15m"})
    ).json()
    assert 0 < closes["total"] < every["total"]
    assert closes["items"][-1] == every["items"][-1]  # the newest sample closes its period
    assert fields(await viewer.get(f"{PORTFOLIO}/history", params={"resolution": "7s"})) == [
        "query.resolution"
    ]
    backwards = {"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T09:00:00Z"}
    assert fields(await viewer.get(f"{PORTFOLIO}/history", params=backwards)) == ["query.to"]


async def test_strategies_over_a_range(api: Api) -> None:
    await traded(api)
    viewer = api.client("viewer")
    rows = (await viewer.get(f"{PORTFOLIO}/strategies")).json()
    fills = await api.engine.store.ledger.fills(limit=-1)
    assert sum(r["trades"] for r in rows) == sum(1 for f in fills if f.entry != "in")
    strategy = api.engine.strategies()[0].id
    one = (await viewer.get(f"{PORTFOLIO}/strategies", params={"strategy": strategy})).json()
    assert [r["strategy_id"] for r in one] == [strategy]
    future = {"from": "2100-01-01T00:00:00Z"}
    later = (await viewer.get(f"{PORTFOLIO}/strategies", params=future)).json()
    assert all(r["trades"] == 0 for r in later)
    missing = await viewer.get(f"{PORTFOLIO}/strategies", params={"strategy": "nope"})
    assert missing.status_code == 404


async def test_metrics_report_names_its_scope_and_conventions(api: Api) -> None:
    await traded(api)
    viewer = api.client("viewer")
    response = await viewer.get(METRICS, params={"resolution": "1m", "benchmark": "EURUSD"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["periods_per_year"] == 252 * 1440 and report["risk_free_rate"] == 0
    assert report["accounts"] == sorted(a.id for a in api.engine.settings.accounts)
    assert report["metrics"]["benchmark_return"] is not None
    assert report["metrics"]["trades"] == sum(s["trades"] for s in report["strategies"])
    assert fields(await viewer.get(METRICS, params={"resolution": "2h"})) == ["query.resolution"]
    assert (await viewer.get(METRICS, params={"account": "account-999"})).status_code == 404
    assert (await api.client().get(METRICS)).status_code == 401
    assert (await api.client().get(f"{PORTFOLIO}/strategies")).status_code == 401


async def test_scoped_key_sees_and_totals_only_its_accounts(api: Api) -> None:
    await traded(api)
    scoped = api.client("scoped")
    body = (await scoped.get(PORTFOLIO)).json()
    assert [a["account_id"] for a in body["accounts"]] == [SCOPED_ACCOUNT]
    assert body["total"]["equity"] == body["accounts"][0]["equity"]
    assert {s["account_id"] for s in body["strategies"]} == {SCOPED_ACCOUNT}
    rows = (await scoped.get(f"{PORTFOLIO}/strategies")).json()
    assert rows and {r["account_id"] for r in rows} == {SCOPED_ACCOUNT}
    other = next(s.id for s in api.engine.strategies() if s.account_id != SCOPED_ACCOUNT)
    hidden = await scoped.get(f"{PORTFOLIO}/strategies", params={"strategy": other})
    assert hidden.status_code == 404
    assert (await scoped.get(METRICS, params={"strategy": other})).status_code == 404
    report = (await scoped.get(METRICS, params={"resolution": "1m"})).json()
    assert report["accounts"] == [SCOPED_ACCOUNT]
