"""Supervision on the virtual clock: a crashed worker restarts after an
exponential, jittered backoff; after too many crashes it stays in `error`
with a critical alert; its neighbours never notice."""

from __future__ import annotations

import pytest

from engine.models import AlertStatus, Severity, WorkerState
from tests.conftest import EngineFactory
from tests.engine.helpers import eventually


async def test_crash_restarts_after_backoff_with_a_new_worker_id(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory()
    manager = engine.manager
    assert manager is not None
    worker, neighbour = manager.get("account-001"), manager.get("account-002")
    first_id, neighbour_id = worker.info.worker_id, neighbour.info.worker_id
    assert worker.state is WorkerState.RUNNING

    manager.crashed(worker, RuntimeError("boom"))
    await eventually(lambda: worker.state is WorkerState.ERROR)
    assert "boom" in (worker.info.error or "")
    assert "restarting in" in (worker.info.error or "")

    initial = engine.settings.engine.restart_backoff_initial
    await engine.clock.advance(initial * 0.99)  # shorter than any jittered backoff
    assert worker.state is WorkerState.ERROR
    await engine.clock.advance(initial * 0.3)  # past the longest (initial * 1.25)
    await eventually(lambda: worker.state is WorkerState.RUNNING)
    assert worker.info.worker_id != first_id
    assert worker.info.restarts == 1
    assert neighbour.state is WorkerState.RUNNING
    assert neighbour.info.worker_id == neighbour_id


async def test_a_failing_quote_handler_crashes_only_its_worker(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await engine_factory(run_loops=False)
    manager = engine.manager
    assert manager is not None
    worker = manager.get("account-001")
    assert worker.broker is not None

    def broken(quote: object) -> None:
        raise ZeroDivisionError("bad tick")

    # inject the fault where a real bug would be: a strategy's quote handling
    strategy = next(iter(worker.strategies.values()))
    monkeypatch.setattr(strategy, "on_quote", broken)
    engine.market.detach(worker)
    engine.market.attach(worker)
    for _ in range(20):
        await engine.clock.advance(0.25)
        engine.step_market()
        if worker.state is WorkerState.ERROR:
            break
    assert worker.state is WorkerState.ERROR
    assert "ZeroDivisionError" in (worker.info.error or "")
    others = [w for w in manager.workers.values() if w is not worker]
    assert all(w.state is WorkerState.RUNNING for w in others)


async def test_backoff_doubles_up_to_the_cap_with_bounded_jitter(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(run_loops=False)
    assert engine.manager is not None
    settings = engine.settings.engine
    for attempt in range(1, 12):
        base = min(
            settings.restart_backoff_max, settings.restart_backoff_initial * 2 ** (attempt - 1)
        )
        assert base <= engine.manager.backoff(attempt) <= base * 1.25


async def test_repeated_crashes_end_in_error_with_one_critical_alert(
    engine_factory: EngineFactory, demo_settings: object
) -> None:
    settings = demo_settings.model_copy(deep=True)  # type: ignore[attr-defined]
    settings.engine.max_restarts = 2
    engine = await engine_factory(settings)
    manager = engine.manager
    assert manager is not None
    worker = manager.get("account-003")

    for crash in range(1, 4):
        await eventually(lambda: worker.state is WorkerState.RUNNING)
        manager.crashed(worker, RuntimeError(f"crash {crash}"))
        await eventually(lambda: worker.state is WorkerState.ERROR)
        initial = engine.settings.engine.restart_backoff_initial
        await engine.clock.advance(initial * 2 ** (crash - 1) * 1.25 + 0.01)

    await engine.quiesce()
    assert worker.state is WorkerState.ERROR
    assert "crashed 3 times" in (worker.info.error or "")
    alerts = [a for a in engine.alerts.recent() if a.kind == "worker_error"]
    assert len(alerts) == 1
    assert alerts[0].severity is Severity.CRITICAL
    assert alerts[0].account_id == "account-003"
    # it stays down: more time brings no restart and no second alert
    await engine.clock.advance(600)
    assert worker.state is WorkerState.ERROR
    assert len([a for a in engine.alerts.recent() if a.kind == "worker_error"]) == 1

    # a manual start clears it and resolves the alert
    await engine.start_worker("account-003")
    await engine.quiesce()
    assert worker.state is WorkerState.RUNNING
    assert engine.alerts.recent()[0].status is AlertStatus.RESOLVED
