"""The portfolio read side on a real SQLite store: equity closes by resolution,
the total of several accounts, and each strategy's trades and P&L."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from engine import portfolio as book
from engine.models import AccountSnapshot, EquityPoint
from storage.store import Store
from tests.conftest import EngineFactory

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def point(account: str, seconds: int, equity: str) -> EquityPoint:
    return EquityPoint(
        account_id=account,
        time=T0 + timedelta(seconds=seconds),
        balance=Decimal(equity),
        equity=Decimal(equity),
    )


async def test_equity_history_keeps_the_last_sample_of_each_period(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "book.db")
    try:
        await store.equity.add(
            [
                point("a", 0, "100"),
                point("a", 30, "101"),
                point("a", 60, "102"),
                point("a", 90, "103"),
                point("a", 130, "104"),
                point("b", 45, "50"),
            ]
        )
        _, total = await store.equity.query(accounts=["a"])
        assert total == 5
        closes, count = await store.equity.query(accounts=["a"], resolution=timedelta(minutes=1))
        assert [p.equity for p in closes] == [Decimal(v) for v in ("100", "102", "103", "104")]
        assert count == 4
        both, _ = await store.equity.query(resolution=timedelta(minutes=1), sort="account_id")
        assert [(p.account_id, p.equity) for p in both if p.account_id == "b"] == [
            ("b", Decimal("50"))
        ]
    finally:
        await store.close()


async def test_total_sums_accounts_and_takes_the_margin_level_of_the_sums() -> None:
    def account(name: str, equity: str, margin: str) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=name,
            starting_balance=Decimal(1000),
            balance=Decimal(1000),
            equity=Decimal(equity),
            margin=Decimal(margin),
            free_margin=Decimal(equity) - Decimal(margin),
            pnl_today=Decimal(5),
            time=T0,
        )

    total = book.total([account("a", "1000", "100"), account("b", "500", "400")])
    assert total.equity == Decimal(1500) and total.margin == Decimal(500)
    assert total.margin_level == Decimal("300.00")  # 1500 / 500, not the mean of 1000 % and 125 %
    assert total.pnl_today == Decimal(10)
    assert book.total([account("a", "1000", "0")]).margin_level is None


async def test_strategy_pnl_matches_the_ledger_and_the_engine_methods(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory()
    await engine.clock.advance(600)
    await engine.quiesce()
    engine.mark(sample_equity=True)
    await engine.quiesce()

    rows = await book.strategy_pnl(engine.portfolio_sources)
    fills = await engine.store.ledger.fills(limit=-1)
    assert {r.strategy_id for r in rows if r.strategy_id} == {s.id for s in engine.strategies()}
    for row in rows:
        mine = [
            f for f in fills if f.account_id == row.account_id and f.strategy_id == row.strategy_id
        ]
        closing = [f for f in mine if f.entry != "in"]
        assert row.trades == len(closing)
        assert row.wins == sum(1 for f in closing if f.profit > f.commission)
        assert row.losses == sum(1 for f in closing if f.profit < f.commission)
        assert row.realised_pnl == sum((f.profit - f.commission for f in mine), Decimal(0))
        assert row.gross_profit + row.gross_loss == sum(
            (f.profit - f.commission for f in closing), Decimal(0)
        )
    assert sum(r.trades for r in rows) > 0

    report = await engine.performance(resolution=timedelta(minutes=1))
    assert report.metrics.trades == sum(r.trades for r in rows)
    assert report.periods_per_year == 252 * 24 * 60
    assert report.accounts == sorted(a.id for a in engine.settings.accounts)

    summary = await engine.portfolio(["account-001"])
    assert [a.account_id for a in summary.accounts] == ["account-001"]
    assert summary.total.equity == summary.accounts[0].equity
    assert {s.account_id for s in summary.strategies} == {"account-001"}

    chart = await engine.equity_history(["account-001"], resolution=timedelta(minutes=5))
    assert chart and [p.time for p in chart] == sorted(p.time for p in chart)
    assert {p.account_id for p in chart} == {"account-001"}
