"""PanelState folds snapshots and events into keyed dicts and reports which
regions of the screen changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.engine import Engine
from engine.models import (
    AlertEvent,
    AlertStatus,
    LogEvent,
    LogRecord,
    Order,
    OrderEvent,
    OrderStatus,
    PositionEvent,
    QuoteEvent,
    ResyncEvent,
    WorkerEvent,
    WorkerState,
)
from tui.state import RECENT_CLOSED_ORDERS, PanelState, Region


async def loaded(engine: Engine) -> PanelState:
    state = PanelState()
    state.load(engine.snapshot())
    return state


async def test_a_snapshot_fills_everything_and_dirties_every_region(engine: Engine):
    snapshot = engine.snapshot()
    state = await loaded(engine)
    assert state.loaded
    assert set(state.workers) == {w.account_id for w in snapshot.workers}
    assert set(state.positions) == {p.ticket for p in snapshot.positions}
    assert set(state.orders) == {o.ticket for o in snapshot.orders}
    assert state.digits["EURUSD"] == 5 and state.digits["USDJPY"] == 3
    assert state.take_dirty() == set(Region)
    assert state.take_dirty() == set()


async def test_events_update_by_key_and_dirty_only_their_regions(engine: Engine):
    state = await loaded(engine)
    state.take_dirty()
    later = state.time + timedelta(seconds=1) if state.time else datetime.now(UTC)

    position = next(iter(state.positions.values()))
    state.apply(PositionEvent(time=later, position=position, closed=True))
    assert position.ticket not in state.positions
    assert state.take_dirty() == {Region.POSITIONS, Region.HEADER}  # a new second too

    worker = state.workers["account-001"].model_copy(update={"status": WorkerState.ERROR})
    state.apply(WorkerEvent(time=later, worker=worker))
    assert state.workers["account-001"].status is WorkerState.ERROR
    assert state.workers_running == 3
    assert state.take_dirty() == {Region.WORKERS, Region.HEADER}

    record = LogRecord(time=later, message="hello")
    state.apply(LogEvent(time=later, record=record))
    assert state.last_log == record
    assert state.take_dirty() == {Region.LOG}

    quote = engine.snapshot().quotes[0]
    state.apply(QuoteEvent(time=later, quote=quote))
    state.apply(ResyncEvent(time=later, dropped=10))
    assert state.take_dirty() == set(), "quotes and resyncs repaint nothing by themselves"


async def test_alerts_count_while_triggered(engine: Engine):
    state = await loaded(engine)
    alert = engine.alerts.raise_alert("risk_limit", "high", "too much", account_id="account-001")
    assert alert is not None and alert.id is not None
    state.apply(AlertEvent(time=alert.created_at, alert=alert))
    assert state.open_alerts == 1
    acknowledged = alert.model_copy(update={"status": AlertStatus.ACKNOWLEDGED})
    state.update_alert(acknowledged)
    assert state.open_alerts == 0 and state.alerts[alert.id] == acknowledged


def test_closed_orders_are_trimmed_but_open_ones_kept():
    state = PanelState()
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def order(ticket: int, status: OrderStatus) -> Order:
        return Order(
            ticket=ticket, account_id="account-001", client_order_id=f"c{ticket}",
            symbol="EURUSD", side="buy", type="limit", volume=Decimal("0.10"),
            price=Decimal("1.08"), status=status, created_at=now, updated_at=now,
        )  # fmt: skip

    state.apply(OrderEvent(time=now, order=order(1, OrderStatus.PLACED)))
    for ticket in range(2, RECENT_CLOSED_ORDERS * 2 + 10):
        state.apply(OrderEvent(time=now, order=order(ticket, OrderStatus.FILLED)))
    assert 1 in state.orders
    assert 2 not in state.orders, "the oldest closed orders go first"
    closed = [t for t, o in state.orders.items() if not o.status.is_open]
    assert len(closed) <= RECENT_CLOSED_ORDERS * 2
    assert max(closed) == RECENT_CLOSED_ORDERS * 2 + 9
