"""`/performance`: metrics over any range for the caller's accounts, one
account, or one strategy, against a benchmark; validated and scoped."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import SCOPED_ACCOUNT, Api

PERFORMANCE = "/api/v1/performance"


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["path"] for f in response.json()["error"]["details"]["fields"]]


async def traded(api: Api, seconds: int = 600) -> None:
    await api.engine.clock.advance(seconds)
    await api.engine.quiesce()
    api.engine.mark(sample_equity=True)
    await api.engine.quiesce()


async def test_metrics_of_every_account_one_account_and_a_strategy(api: Api) -> None:
    await traded(api)
    viewer = api.client("viewer")
    total = await viewer.get(PERFORMANCE, params={"resolution": "1m", "benchmark": "EURUSD"})
    assert total.status_code == 200, total.text
    metrics = total.json()
    assert metrics["periods"] > 0 and metrics["total_return"] is not None
    assert metrics["max_drawdown"] <= 0 and metrics["benchmark_return"] is not None
    assert metrics["trades"] >= 0

    one = (
        await viewer.get(PERFORMANCE, params={"account": SCOPED_ACCOUNT, "resolution": "1m"})
    ).json()
    assert one["periods"] == metrics["periods"]
    strategy = api.engine.strategies()[0].id
    by_strategy = await viewer.get(f"{PERFORMANCE}/metrics", params={"strategy": strategy})
    assert by_strategy.status_code == 200
    assert by_strategy.json()["metrics"]["trades"] == len(
        [
            f
            for f in await api.engine.store.ledger.fills(limit=-1)
            if f.strategy_id == strategy and f.entry != "in"
        ]
    )


async def test_bad_queries_and_unknown_things(api: Api) -> None:
    viewer = api.client("viewer")
    assert fields(await viewer.get(PERFORMANCE, params={"resolution": "2s"})) == [
        "query.resolution"
    ]
    backwards = {"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T09:00:00Z"}
    assert fields(await viewer.get(PERFORMANCE, params=backwards)) == ["query.to"]
    assert fields(await viewer.get(PERFORMANCE, params={"benchmark": "NOPE"})) == [
        "query.benchmark"
    ]
    assert (await viewer.get(PERFORMANCE, params={"account": "account-999"})).status_code == 404
    assert (await viewer.get(PERFORMANCE, params={"strategy": "nope"})).status_code == 404
    assert (await api.client().get(PERFORMANCE)).status_code == 401


async def test_a_scoped_key_sees_only_its_accounts(api: Api) -> None:
    await traded(api)
    scoped = api.client("scoped")
    assert (await scoped.get(PERFORMANCE, params={"account": "account-002"})).status_code == 404
    other = next(s.id for s in api.engine.strategies() if s.account_id != SCOPED_ACCOUNT)
    assert (await scoped.get(PERFORMANCE, params={"strategy": other})).status_code == 404
    mine = (await scoped.get(PERFORMANCE, params={"resolution": "1m"})).json()
    alone = (
        await api.client("viewer").get(
            PERFORMANCE, params={"account": SCOPED_ACCOUNT, "resolution": "1m"}
        )
    ).json()
    assert mine == alone


async def test_trade_pnl_is_profit_less_commission(api: Api) -> None:
    await traded(api, 1800)
    closing = [f for f in await api.engine.store.ledger.fills(limit=-1) if f.entry != "in"]
    charged = [f for f in closing if f.commission > 0]
    assert charged, "the demo charges commission on some accounts"
    account = charged[0].account_id
    pnls = [float(f.profit - f.commission) for f in closing if f.account_id == account]
    metrics = (await api.client("viewer").get(PERFORMANCE, params={"account": account})).json()
    assert metrics["trades"] == len(pnls)
    assert metrics["expectancy"] == pytest.approx(sum(pnls) / len(pnls))
