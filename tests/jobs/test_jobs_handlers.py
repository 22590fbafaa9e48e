"""The built-in handlers doing their real work on the demo engine:
reconciliation (clean, then a store that disagrees), equity snapshots,
retention, the daily report, and optimisation by seeded backtest with deploy."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from engine.engine import Engine
from engine.errors import Conflict
from engine.models import Job, JobState, Position, Side, StrategyState
from engine.strategies.service import StrategyService
from tests.jobs.conftest import JobsEngine


async def _run(engine: Engine, handler: str, args: dict[str, Any] | None = None) -> Job:
    job, _ = await engine.jobs.enqueue(handler, args)
    async with asyncio.timeout(60):
        while True:
            await engine.quiesce()
            job = await engine.jobs.get(job.id)
            if not job.state.is_active:
                return job
            await asyncio.sleep(0.01)


async def _trade(engine: Engine, minutes: int) -> None:
    """Let the demo market and its strategies run for `minutes` virtual minutes."""
    for _ in range(minutes * 4):
        await engine.clock.advance(15)  # type: ignore[attr-defined]
        engine.step_market()
        engine.mark(sample_equity=True)
    await engine.quiesce()


async def test_reconcile_is_clean_then_alerts_on_a_difference(jobs_engine: JobsEngine) -> None:
    engine = await jobs_engine()
    await _trade(engine, 10)
    clean = await _run(engine, "reconcile_account")
    assert clean.state is JobState.COMPLETED, clean.error
    results = clean.result["accounts"]
    assert set(results) == {"account-001", "account-002", "account-003", "account-004"}
    assert all(r["checked"] and r["differences"] == [] for r in results.values())

    # The store gains a position the broker never opened.
    now = engine.clock.now()
    ghost = Position(
        ticket=999_999,
        account_id="account-001",
        symbol="EURUSD",
        side=Side.BUY,
        volume=Decimal("0.10"),
        open_price=Decimal("1.08500"),
        open_time=now,
    )
    await engine.store.db.writer.submit(
        [
            (
                "INSERT INTO positions (ticket, account_id, symbol, side, volume, open_price, "
                "open_time, profit, commission, magic, comment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, '0', '0', 0, '')",
                (999_999, "account-001", "EURUSD", "buy", "0.10", "1.08500", now.isoformat()),
            )
        ]
    )
    found = await _run(engine, "reconcile_account", {"account_id": "account-001"})
    differences = found.result["accounts"]["account-001"]["differences"]
    assert differences == [f"position #{ghost.ticket} in the store is not at the broker"]
    alert = next(a for a in engine.alerts.recent() if a.kind == "reconcile")
    assert alert.account_id == "account-001" and "disagree (1)" in alert.message

    missing = await _run(engine, "reconcile_account", {"account_id": "account-999"})
    assert missing.state is JobState.DEAD and missing.attempts == 1  # no retry can fix it


async def test_equity_snapshot_and_purge(jobs_engine: JobsEngine) -> None:
    engine = await jobs_engine()
    first = await _run(engine, "equity_snapshot")
    assert first.result["accounts"]["account-002"] == "25000"
    points = await engine.store.equity.history("account-002")
    assert [p.time for p in points] == [engine.clock.now()]

    await _trade(engine, 5)
    fills = await engine.store.ledger.fills(limit=-1)
    await engine.clock.advance(3 * 86_400)  # type: ignore[attr-defined]
    await _run(engine, "equity_snapshot", {"account_id": "account-002"})
    purged = await _run(engine, "purge_history", {"days": 2})
    old_points = purged.result["deleted"]["equity_history"]
    assert old_points >= 4  # the snapshot's four points and the samples while trading
    left = await engine.store.equity.history("account-002")
    assert [p.time for p in left] == [engine.clock.now()]
    assert await engine.store.ledger.fills(limit=-1) == fills  # the ledger is never purged


async def test_daily_report_per_account_and_total(jobs_engine: JobsEngine) -> None:
    engine = await jobs_engine()
    await _trade(engine, 30)
    job = await _run(engine, "daily_report")
    assert job.state is JobState.COMPLETED, job.error
    reports = {r.account_id: r for r in await engine.store.reports.list()}
    assert set(reports) == {"account-001", "account-002", "account-003", "account-004", "total"}
    accounts = [r for a, r in reports.items() if a != "total"]
    total = reports["total"]
    assert total.pnl == sum((r.pnl for r in accounts), Decimal(0))
    assert total.trades == sum(r.trades for r in accounts)
    for report in accounts:
        assert report.pnl == report.end_equity - report.start_equity
        assert "max_drawdown" in report.metrics
    # A second run for the same day replaces the rows.
    await _run(engine, "daily_report", {"day": engine.clock.now().date().isoformat()})
    assert len(await engine.store.reports.list()) == 5


async def test_optimisation_finds_the_best_tried_and_deploy_applies_it(
    jobs_engine: JobsEngine,
) -> None:
    engine = await jobs_engine()
    strategy_id = "account-001:ma_crossover:1"
    grid = {"fast": [2, 3, 5], "slow": [3, 8, 13]}
    job = await _run(
        engine,
        "optimize_strategy",
        {"strategy_id": strategy_id, "grid": grid, "objective": "total_return", "hours": 0.5},
    )
    assert job.state is JobState.COMPLETED, job.error
    # fast must be below slow: (3, 3) and (5, 3) are skipped.
    assert job.result["tried"] == 7 and job.result["skipped"] == 2
    sets, total = await engine.store.param_sets.query(job_id=job.id, sort="rank", descending=False)
    assert total == 7 and [s.rank for s in sets] == list(range(1, 8))
    scores = [s.score for s in sets]
    assert scores[0] == max(s for s in scores if s is not None)
    assert job.result["best"] == {"params": sets[0].params, "score": sets[0].score}

    # Seeded: the same search again ranks the same sets the same way.
    again = await _run(
        engine,
        "optimize_strategy",
        {"strategy_id": strategy_id, "grid": grid, "objective": "total_return", "hours": 0.5},
    )
    repeat, _ = await engine.store.param_sets.query(job_id=again.id, sort="rank", descending=False)
    assert [(s.params, s.score) for s in repeat] == [(s.params, s.score) for s in sets]

    best = sets[0]
    before = next(s for s in engine.strategies() if s.id == strategy_id)
    assert before.params != best.params
    deployed = await engine.jobs.deploy(best.id)  # type: ignore[arg-type]
    assert deployed.params == best.params and deployed.state is StrategyState.RUNNING
    live = next(s for s in engine.strategies() if s.id == strategy_id)
    assert live.params == best.params
    stored = await engine.store.param_sets.get(best.id)  # type: ignore[arg-type]
    assert stored is not None and stored.deployed_to == strategy_id
    await _trade(engine, 2)  # it keeps trading with them

    await engine.stop_worker("account-001")
    with pytest.raises(Conflict, match="not running"):
        await engine.jobs.deploy(best.id)  # type: ignore[arg-type]


async def test_deployed_parameters_survive_a_worker_restart_and_an_engine_restart(
    jobs_engine: JobsEngine,
) -> None:
    engine = await jobs_engine()
    strategy_id = "account-001:ma_crossover:1"
    job = await _run(
        engine,
        "optimize_strategy",
        {"strategy_id": strategy_id, "grid": {"fast": [2, 5], "slow": [13]}, "hours": 0.5},
    )
    sets, _ = await engine.store.param_sets.query(job_id=job.id, sort="rank", descending=False)
    chosen = next(s for s in sets if s.params != engine.strategy_service.get(strategy_id).params)
    await engine.jobs.deploy(chosen.id)  # type: ignore[arg-type]
    await engine.quiesce()

    await engine.stop_worker("account-001")
    await engine.start_worker("account-001")
    live = next(s for s in engine.strategies() if s.id == strategy_id)
    assert live.params == chosen.params, "a restarted worker runs on the deployed parameters"

    # What an engine restart reads: the store, through a new strategy service.
    reopened = StrategyService(engine.settings, engine.store, engine.clock)
    await reopened.load()
    assert reopened.get(strategy_id).params == chosen.params
    others = [d for d in reopened.definitions() if d.id != strategy_id]
    assert all(d.params == engine.strategy_service.get(d.id).params for d in others)
