"""Strategies added, removed, paused and resumed on a running worker: they trade
(or stop) at once, a paused one keeps its positions but opens nothing, and a
restart keeps every change."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.models import Settings
from engine.domain import Timeframe
from engine.engine import Engine
from engine.errors import Conflict, ValidationFailed, WorkerNotFound
from engine.models import Order, OrderSource, StrategyEvent, StrategyState
from tests.conftest import EngineFactory
from tests.strategies_runtime.helpers import ACCOUNT, one_account, run_market, run_until

BREAKOUT = {"period": 3}


async def _orders(engine: Engine, strategy_id: str) -> list[Order]:
    orders = await engine.store.ledger.orders(ACCOUNT, limit=-1)
    return [o for o in orders if o.strategy_id == strategy_id]


async def _add_breakout(engine: Engine, **options: object) -> str:
    info = await engine.add_strategy(
        ACCOUNT, "donchian_breakout", BREAKOUT, ["EURUSD", "GBPUSD"], Timeframe.S5, **options
    )
    return info.id


async def test_added_strategy_trades_on_the_running_worker(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)
    events = engine.subscribe()

    strategy_id = await _add_breakout(engine)

    assert strategy_id == f"{ACCOUNT}:donchian_breakout:1"
    info = engine.strategy(strategy_id)
    assert (info.state, info.params, info.timeframe) == (
        StrategyState.RUNNING,
        {"period": 3},
        Timeframe.S5,
    )
    event = events.get_nowait()
    while event is not None and not isinstance(event, StrategyEvent):
        event = events.get_nowait()
    assert isinstance(event, StrategyEvent) and event.strategy.id == strategy_id

    async def traded() -> bool:
        return bool(await _orders(engine, strategy_id))

    await run_until(engine, traded, limit=1800)
    assert engine.strategy(strategy_id).signals > 0


async def test_removed_strategy_stops_but_its_positions_stay(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)
    strategy_id = await _add_breakout(engine)

    def held() -> list[int]:
        return [p.ticket for p in engine.snapshot().positions if p.strategy_id == strategy_id]

    async def holds() -> bool:
        return bool(held())

    await run_until(engine, holds, limit=1800)
    positions = held()
    removed_at = engine.clock.now()

    info = await engine.remove_strategy(strategy_id)
    assert info.state is StrategyState.STOPPED
    assert strategy_id not in [s.id for s in engine.strategies()]
    with pytest.raises(Exception, match="No strategy"):
        engine.strategy(strategy_id)

    signals = len(await engine.store.signals.recent(strategy_id=strategy_id, limit=10_000))
    await run_market(engine, 600)
    assert len(await engine.store.signals.recent(strategy_id=strategy_id, limit=10_000)) == signals
    later = [o for o in await _orders(engine, strategy_id) if o.created_at > removed_at]
    # Only the broker acts on them now: SL and TP, never the strategy.
    assert all(o.source is OrderSource.SYSTEM for o in later)
    closed_by_stops = {o.position_ticket for o in later}
    assert set(positions) <= set(held()) | closed_by_stops


async def test_paused_strategy_opens_nothing_and_keeps_its_positions(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)
    strategy_id = await _add_breakout(engine)

    def held() -> set[int]:
        return {p.ticket for p in engine.snapshot().positions if p.strategy_id == strategy_id}

    async def holds() -> bool:
        return bool(held())

    await run_until(engine, holds, limit=1800)
    positions = held()
    paused_at = engine.clock.now()

    info = await engine.pause_strategy(strategy_id)
    assert info.state is StrategyState.PAUSED
    assert (await engine.pause_strategy(strategy_id)).state is StrategyState.PAUSED  # idempotent

    async def skipped() -> bool:
        signals = await engine.store.signals.recent(strategy_id=strategy_id, limit=50)
        return any(s.time > paused_at and s.reason.endswith("strategy paused") for s in signals)

    # It still decides (its indicators stay current) but acts on nothing.
    await run_until(engine, skipped, limit=3600)
    later = [o for o in await _orders(engine, strategy_id) if o.created_at > paused_at]
    assert all(o.source is OrderSource.SYSTEM for o in later)
    assert positions <= held() | {o.position_ticket for o in later}

    assert (await engine.resume_strategy(strategy_id)).state is StrategyState.RUNNING
    resumed_at = engine.clock.now()

    async def acted() -> bool:
        return any(
            o.created_at > resumed_at and o.source is not OrderSource.SYSTEM
            for o in await _orders(engine, strategy_id)
        )

    await run_until(engine, acted, limit=3600)


async def test_changes_survive_a_restart(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "strategies.db"
    first = await engine_factory(demo_settings, db_path=db, run_loops=False)
    added = await _add_breakout(first)
    paused_added = await _add_breakout(first, paused=True)
    await first.pause_strategy("account-001:ma_crossover:1")
    await first.remove_strategy("account-001:bollinger_reversion:2")
    await first.remove_strategy(added)
    await first.close()

    second = await engine_factory(demo_settings, db_path=db, run_loops=False)
    states = {s.id: s.state for s in second.strategies() if s.account_id == ACCOUNT}
    assert states == {
        "account-001:ma_crossover:1": StrategyState.PAUSED,
        paused_added: StrategyState.PAUSED,
    }
    worker = second.manager.workers[ACCOUNT]  # type: ignore[union-attr]
    assert worker.strategies[paused_added].state is StrategyState.PAUSED
    # Ids are never reused: a new strategy gets a fresh one.
    assert await _add_breakout(second) not in {added, paused_added}


async def test_pause_strategies_pauses_one_account_or_all(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)

    paused = engine.pause_strategies("account-002")

    assert {s.id for s in paused} == {
        "account-002:donchian_breakout:1",
        "account-002:ma_crossover:2",
    }
    states = {s.id: s.state for s in engine.strategies()}
    assert {i for i, state in states.items() if state is StrategyState.PAUSED} == {
        s.id for s in paused
    }
    everything = engine.pause_strategies()
    assert len(everything) == len(states)
    assert {s.state for s in engine.strategies()} == {StrategyState.PAUSED}
    await engine.quiesce()
    assert len(await engine.store.strategies.states()) == len(states)  # stored
    with pytest.raises(WorkerNotFound):
        engine.pause_strategies("account-404")


async def test_strategies_of_a_stopped_worker_start_as_stored(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)
    await engine.stop_worker(ACCOUNT)
    strategy_id = await _add_breakout(engine, paused=True)
    assert engine.strategy(strategy_id).state is StrategyState.PAUSED

    await engine.start_worker(ACCOUNT)

    assert engine.strategy(strategy_id).state is StrategyState.PAUSED
    await engine.resume_strategy(strategy_id)
    assert engine.strategy(strategy_id).state is StrategyState.RUNNING


@pytest.mark.parametrize(
    ("kind", "params", "symbols", "path"),
    [
        ("grid", {}, None, "kind"),
        ("ma_crossover", {"fast": 0}, None, "params.fast"),
        ("ma_crossover", {"fast": 9, "slow": 5}, None, "params"),
        ("ma_crossover", {"typo": 1}, None, "params.typo"),
        ("ma_crossover", {}, ["EURUSD", "XAUUSD"], "symbols[1]"),
    ],
)
async def test_bad_strategies_are_refused_naming_the_field(
    engine_factory: EngineFactory,
    demo_settings: Settings,
    kind: str,
    params: dict[str, object],
    symbols: list[str] | None,
    path: str,
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)

    with pytest.raises(ValidationFailed) as refused:
        await engine.add_strategy(ACCOUNT, kind, params, symbols)

    assert [i["path"] for i in refused.value.details["issues"]] == [path]
    assert engine.strategies() == []
    assert await engine.store.strategies.added() == []


async def test_unknown_account_and_taken_ids_are_refused(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)
    with pytest.raises(WorkerNotFound):
        await engine.add_strategy("account-404", "ma_crossover", {}, None)
    with pytest.raises(Conflict, match="exists or existed"):
        await engine.add_strategy(
            ACCOUNT, "ma_crossover", {}, None, strategy_id="account-001:ma_crossover:1"
        )
    with pytest.raises(ValidationFailed, match="not a strategy id"):
        await engine.add_strategy(ACCOUNT, "ma_crossover", {}, None, strategy_id="bad id!")
