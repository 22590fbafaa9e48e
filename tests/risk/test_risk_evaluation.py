"""Limits are judged on every equity change: crossing a warning raises one
alert, going over a threshold one critical alert and the limit's action, and
a limit that stays breached raises nothing more until it has cleared."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from config.models import Settings
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import Alert, AlertStatus, RiskLevel, Severity, StrategyState
from tests.conftest import FROZEN_START, EngineFactory
from tests.engine.helpers import eventually
from tests.risk.risk_support import bare_engine, limit, move, send


def risk_alerts(engine: Engine, limit_id: str) -> list[Alert]:
    return [
        a
        for a in engine.alerts.recent()
        if a.kind == "risk_limit" and a.data.get("limit_id") == limit_id
    ]


async def test_a_drawdown_breach_raises_one_critical_alert_and_pauses_the_account(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(
        limit("max_drawdown", "0.2", account_id="account-002", action="pause"), limit_id="dd"
    )
    assert (await send(engine, "account-002", "XAUUSD", "0.1", "a-1")).ok
    move(engine, "XAUUSD", "2340.00")  # about 0.4 % below the peak
    for _ in range(5):  # every mark is an equity change; the breach stays
        engine.mark()
        await engine.quiesce()
    move(engine, "XAUUSD", "2330.00")
    engine.mark()
    await engine.quiesce()
    alerts = risk_alerts(engine, "dd")
    assert [(a.severity, a.status) for a in alerts] == [(Severity.CRITICAL, AlertStatus.TRIGGERED)]
    assert alerts[0].account_id == "account-002"
    assert "breached" in alerts[0].message
    assert engine.risk.level("dd") is RiskLevel.BREACH
    states = {s.state for s in engine.strategies() if s.account_id == "account-002"}
    assert states == {StrategyState.PAUSED}
    others = {s.state for s in engine.strategies() if s.account_id == "account-001"}
    assert StrategyState.PAUSED not in others

    # Back above the peak: the breach clears and its alert is resolved ...
    move(engine, "XAUUSD", "2400.00")
    engine.mark()
    await engine.quiesce()
    assert engine.risk.level("dd") is RiskLevel.OK
    assert [a.status for a in risk_alerts(engine, "dd")] == [AlertStatus.RESOLVED]
    # ... and a new breach raises a new alert.
    move(engine, "XAUUSD", "2380.00")
    engine.mark()
    await engine.quiesce()
    assert [a.status for a in risk_alerts(engine, "dd")] == [
        AlertStatus.TRIGGERED,
        AlertStatus.RESOLVED,
    ]


async def test_a_warning_raises_one_high_alert_and_no_action(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(
        limit("max_daily_loss", "1000", warning="50", account_id="account-002", action="pause"),
        limit_id="loss",
    )
    assert (await send(engine, "account-002", "XAUUSD", "0.1", "b-1")).ok
    move(engine, "XAUUSD", "2340.00")
    for _ in range(3):
        engine.mark()
        await engine.quiesce()
    alerts = risk_alerts(engine, "loss")
    assert [(a.severity, a.data["level"]) for a in alerts] == [(Severity.HIGH, "warning")]
    assert all(s.state is not StrategyState.PAUSED for s in engine.strategies())
    evaluation = engine.risk.evaluate()
    [metric] = evaluation.metrics
    assert metric.level is RiskLevel.WARNING and metric.unit == "USD"
    assert metric.value > 50 and 0 < metric.utilisation < 1
    assert evaluation.warnings == [metric] and evaluation.violations == []


async def test_evaluate_reports_every_limit_with_violations(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_open_positions", "5"), limit_id="positions")
    assert (await send(engine, "account-001", "EURUSD", "0.05", "c-1")).ok
    assert (await send(engine, "account-004", "EURUSD", "0.05", "c-2")).ok
    # A limit the book already exceeds is breached as soon as it exists.
    await engine.risk.create(limit("max_position_size", "0.05", scope="global"), limit_id="size")
    evaluation = engine.risk.evaluate()
    metrics = {m.limit_id: m for m in evaluation.metrics}
    assert metrics["positions"].value == 1 and metrics["positions"].level is RiskLevel.OK
    # Both accounts' EURUSD together: 0.10 lots over 0.05.
    assert metrics["size"].value == Decimal("0.1") and metrics["size"].level is RiskLevel.BREACH
    assert [m.limit_id for m in evaluation.violations] == ["size"]
    assert {b.account_id for b in evaluation.books} >= {"account-001", "*"}
    assert evaluation.kill_switch.engaged is False


async def test_the_peak_and_the_day_survive_a_restart(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "risk.db"
    clock = VirtualClock(FROZEN_START)
    engine = await bare_engine(engine_factory, demo_settings, db_path=db, clock=clock)
    assert (await send(engine, "account-002", "XAUUSD", "1", "f-1")).ok
    move(engine, "XAUUSD", "2400.00")  # about 5,000 USD of profit: a new peak
    engine.mark()
    await engine.quiesce()
    book = {b.account_id: b for b in engine.risk.evaluate().books}["account-002"]
    peak, day_start = book.peak_equity, book.day_start_equity
    assert peak > 29_000
    await engine.close()

    again = await bare_engine(engine_factory, demo_settings, db_path=db, clock=clock)
    move(again, "XAUUSD", "2300.00")
    again.mark()
    await again.quiesce()
    book = {b.account_id: b for b in again.risk.evaluate().books}["account-002"]
    assert book.peak_equity == peak
    assert book.day_start_equity == day_start
    assert book.drawdown_percent > 10


async def test_a_breach_with_flatten_closes_the_account_positions(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(
        limit("max_drawdown", "0.2", account_id="account-002", action="flatten"), limit_id="dd"
    )
    assert (await send(engine, "account-002", "XAUUSD", "0.1", "h-1")).ok
    assert (await send(engine, "account-001", "EURUSD", "0.1", "h-2")).ok
    move(engine, "XAUUSD", "2340.00")
    engine.mark()
    assert engine.manager is not None
    brokers = {a: engine.manager.get(a).broker for a in ("account-001", "account-002")}
    await eventually(lambda: not brokers["account-002"].positions())  # type: ignore[union-attr]
    await engine.quiesce()
    assert len(brokers["account-001"].positions()) == 1  # type: ignore[union-attr]
    [alert] = risk_alerts(engine, "dd")
    assert alert.severity is Severity.CRITICAL and "being closed" in alert.message


async def test_the_book_of_all_accounts_peaks_only_when_it_is_whole(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    """One account's rise arriving before another's fall of the same instant
    is no peak of the whole book: its peak moves at marks and evaluations."""
    from engine.models import AccountEvent

    engine = await bare_engine(engine_factory, demo_settings)
    engine.mark()
    await engine.quiesce()
    whole = next(b for b in engine.risk.evaluate().books if b.account_id == "*")
    accounts = {a.account_id: a for a in engine.snapshot().accounts}
    first, second = (accounts[a] for a in ("account-001", "account-002"))
    up = first.model_copy(update={"equity": first.equity + 1000})
    down = second.model_copy(update={"equity": second.equity - 1000})
    engine.bus.publish(AccountEvent(time=engine.clock.now(), account=up))
    await engine.quiesce()  # the wide pass ran on the partial sum (+1000)
    engine.bus.publish(AccountEvent(time=engine.clock.now(), account=down))
    await engine.quiesce()
    engine.mark()  # the brokers' own equities again: the book is whole
    await engine.quiesce()
    recorded = engine.risk._total  # the book as stored and shown
    assert recorded.equity == whole.equity and recorded.peak == whole.peak_equity
