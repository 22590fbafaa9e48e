"""Hours of simulated trading on the virtual clock with every demo account:
the ledger stays exact, in memory and on disk, and a restart resumes it."""

from __future__ import annotations

from decimal import Decimal

from engine.models import WorkerState
from tests.conftest import EngineFactory
from tests.engine.ledger_checks import assert_ledgers_exact

SIMULATED_HOURS = 3


async def run_market(engine, seconds: int, step: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    steps = int(seconds / step)
    for n in range(1, steps + 1):
        await engine.clock.advance(step)
        engine.step_market()
        if n % 10 == 0:
            engine.mark(sample_equity=n % 60 == 0)
        if n % 300 == 0:
            await engine.quiesce()
    await engine.quiesce()


async def test_hours_of_trading_keep_the_ledger_exact(engine_factory: EngineFactory) -> None:
    engine = await engine_factory(run_loops=False)
    manager = engine.manager
    assert manager is not None
    assert manager.running == len(engine.settings.accounts) >= 4

    await run_market(engine, SIMULATED_HOURS * 3600)

    assert all(w.state is WorkerState.RUNNING for w in manager.workers.values())
    fills = await assert_ledgers_exact(engine.store, engine.settings)
    assert fills >= 20, "the demo should trade steadily"
    # memory agrees with disk
    for worker in manager.workers.values():
        assert worker.broker is not None
        stored = await engine.store.ledger.load(
            worker.account_id, worker.account.starting_balance, engine.clock.now()
        )
        account = worker.broker.account()
        assert account.balance == stored.balance
        assert sorted(p.ticket for p in worker.broker.positions()) == sorted(
            p.ticket for p in stored.positions
        )
    # every strategy kind signalled
    signals = await engine.store.signals.recent(limit=100_000)
    kinds = {s.strategy_id.split(":")[1] for s in signals}
    assert {"ma_crossover", "donchian_breakout", "bollinger_reversion"} <= kinds
    # equity history was sampled for every account
    for account in engine.settings.accounts:
        history = await engine.store.equity.history(account.id)
        assert len(history) >= SIMULATED_HOURS * 50


async def test_restart_resumes_accounts_and_desired_state(
    engine_factory: EngineFactory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "resume.db"
    first = await engine_factory(db_path=db, run_loops=False)
    await run_market(first, 900)
    await first.stop_worker("account-002")
    balances = {a.account_id: a.balance for a in first.snapshot().accounts}
    positions = sorted((p.ticket, p.volume) for p in first.snapshot().positions)
    assert any(b != Decimal(10000) for b in balances.values()) or positions
    await first.close()

    second = await engine_factory(db_path=db, run_loops=False)
    snapshot = second.snapshot()
    assert {a.account_id: a.balance for a in snapshot.accounts} == balances
    assert sorted((p.ticket, p.volume) for p in snapshot.positions) == positions
    states = {w.account_id: w.status for w in snapshot.workers}
    assert states.pop("account-002") is WorkerState.STOPPED
    assert set(states.values()) == {WorkerState.RUNNING}
    # tickets continue; never reused
    assert second.manager is not None
    assert second.manager.rt.tickets.last >= max((t for t, _ in positions), default=0)
