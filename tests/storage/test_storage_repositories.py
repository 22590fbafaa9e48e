"""Round trips through every repository besides the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from engine.models import (
    Alert,
    AlertStatus,
    EquityPoint,
    LogRecord,
    Quote,
    Severity,
    Side,
    Signal,
)
from storage.store import Store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_desired_worker_state_survives_a_reopen(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.accounts.set_desired("account-001", True)
    await store.accounts.set_desired("account-002", True)
    await store.accounts.set_desired("account-002", False)
    await store.close()
    store = await Store.open(db_path)
    assert await store.accounts.desired() == {"account-001": True, "account-002": False}
    await store.close()


async def test_equity_history_is_a_window_oldest_first(store: Store) -> None:
    points = [
        EquityPoint(
            account_id=account,
            time=T0 + timedelta(minutes=i),
            balance=Decimal("10000.00"),
            equity=Decimal("10000.00") + i,
            margin=Decimal("12.50"),
        )
        for account in ("a", "b")
        for i in range(10)
    ]
    await store.equity.add(points)
    history = await store.equity.history("a")
    assert history == points[:10]
    assert str(history[0].margin) == "12.50"
    window = await store.equity.history(
        "a", since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=7), limit=3
    )
    assert [p.time.minute for p in window] == [5, 6, 7]  # the newest 3 in range, oldest first


async def test_an_equity_point_at_the_same_time_replaces_the_old_one(store: Store) -> None:
    first = EquityPoint(account_id="a", time=T0, balance=Decimal(1), equity=Decimal(1))
    await store.equity.add([first])
    await store.equity.add([first.model_copy(update={"equity": Decimal("2.0")})])
    assert [str(p.equity) for p in await store.equity.history("a")] == ["2.0"]


async def test_signals_round_trip_and_filter(store: Store) -> None:
    signals = [
        Signal(
            id=i,
            account_id=f"acc-{i % 2}",
            strategy_id=f"s-{i % 3}",
            symbol="EURUSD",
            side=Side.BUY if i % 2 else Side.SELL,
            strength=0.25 * i,
            reason=f"cross {i}",
            time=T0 + timedelta(seconds=i),
        )
        for i in range(1, 7)
    ]
    for signal in signals:
        await store.signals.add(signal)
    assert await store.signals.recent() == signals[::-1]
    assert [s.id for s in await store.signals.recent(account_id="acc-1")] == [5, 3, 1]
    assert [s.id for s in await store.signals.recent(account_id="acc-1", strategy_id="s-1")] == [1]
    assert [s.id for s in await store.signals.recent(limit=2)] == [6, 5]
    assert await store.signals.max_id() == 6


async def test_alerts_upsert_by_id_and_filter_by_status(store: Store) -> None:
    assert await store.alerts.max_id() == 0
    first = Alert(
        id=1,
        kind="worker_error",
        severity=Severity.HIGH,
        message="account-001 crashed",
        account_id="account-001",
        dedup_key="worker:account-001",
        data={"restarts": 3, "limits": {"loss": "250.00"}},
        created_at=T0,
    )
    second = Alert(id=2, kind="risk_limit", severity=Severity.LOW, message="m", created_at=T0)
    await store.alerts.save(first)
    await store.alerts.save(second)
    acknowledged = first.model_copy(
        update={"status": AlertStatus.ACKNOWLEDGED, "acknowledged_at": T0 + timedelta(seconds=5)}
    )
    await store.alerts.save(acknowledged)
    assert await store.alerts.list() == [second, acknowledged]
    assert await store.alerts.list(status=AlertStatus.ACKNOWLEDGED) == [acknowledged]
    assert await store.alerts.list(status=AlertStatus.RESOLVED) == []
    assert await store.alerts.max_id() == 2


async def test_event_log_keeps_lines_per_account(store: Store) -> None:
    records = [
        LogRecord(time=T0, message="engine started"),
        LogRecord(time=T0, level="warning", account_id="a", message="order rejected"),
        LogRecord(time=T0, level="error", account_id="b", message="worker crashed"),
    ]
    for record in records:
        await store.events.add(record)
    assert await store.events.recent() == records[::-1]
    assert await store.events.recent(account_id="a") == [records[1]]
    assert await store.events.recent(limit=1) == [records[2]]


async def test_market_state_keeps_the_last_quote_per_symbol(store: Store) -> None:
    old = Quote(symbol="EURUSD", bid=Decimal("1.09990"), ask=Decimal("1.10000"), time=T0, mid=1.1)
    new = Quote(
        symbol="EURUSD",
        bid=Decimal("1.10000"),
        ask=Decimal("1.10010"),
        time=T0 + timedelta(milliseconds=250),
        mid=1.10005,
    )
    gold = Quote(
        symbol="XAUUSD", bid=Decimal("2650.10"), ask=Decimal("2650.40"), time=T0, mid=2650.25
    )
    await store.market.save([old, gold])
    await store.market.save([new])
    loaded = await store.market.load()
    assert loaded == {"EURUSD": new, "XAUUSD": gold}
    assert str(loaded["EURUSD"].bid) == "1.10000"
    assert loaded["EURUSD"].time == T0 + timedelta(milliseconds=250)


async def test_meta_stores_json_values(store: Store) -> None:
    state = {"fast": [1.5, 2.5], "position": None, "count": 3}
    await store.meta.set("strategy:ma-1", state)
    await store.meta.set("counter", 1)
    await store.meta.set("counter", 2)
    await store.meta.set("price", Decimal("1.10000"))
    assert await store.meta.get("strategy:ma-1") == state
    assert await store.meta.get("counter") == 2
    assert await store.meta.get("price") == "1.10000"
    assert await store.meta.get("missing", default="d") == "d"
