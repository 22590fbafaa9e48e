"""The event bus: order, conflation of quotes, bounded queues and resync."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from engine.bus import EventBus
from engine.models import LogEvent, LogRecord, Quote, QuoteEvent, ResyncEvent

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def log_event(n: int) -> LogEvent:
    return LogEvent(time=T0, record=LogRecord(time=T0, message=f"line {n}"))


def quote_event(symbol: str, bid: str) -> QuoteEvent:
    price = Decimal(bid)
    quote = Quote(
        symbol=symbol, bid=price, ask=price + Decimal("0.0001"), time=T0, mid=float(price)
    )
    return QuoteEvent(time=T0, quote=quote)


async def test_events_arrive_in_publish_order() -> None:
    bus = EventBus(lambda: T0)
    sub = bus.subscribe()
    for n in range(5):
        bus.publish(log_event(n))
    got = [await sub.get() for _ in range(5)]
    assert [e.record.message for e in got] == [f"line {n}" for n in range(5)]


async def test_quotes_conflate_to_latest_per_symbol() -> None:
    bus = EventBus(lambda: T0)
    sub = bus.subscribe()
    for bid in ("1.1000", "1.1001", "1.1002"):
        bus.publish(quote_event("EURUSD", bid))
    bus.publish(quote_event("GBPUSD", "1.2500"))
    assert sub.backlog == 2
    first, second = await sub.get(), await sub.get()
    assert {(e.quote.symbol, str(e.quote.bid)) for e in (first, second)} == {
        ("EURUSD", "1.1002"),
        ("GBPUSD", "1.2500"),
    }


async def test_overflow_drops_backlog_and_sends_one_resync() -> None:
    bus = EventBus(lambda: T0)
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    for n in range(5):
        bus.publish(log_event(n))
    event = await slow.get()
    assert isinstance(event, ResyncEvent)
    assert event.dropped == 4
    # events published after the overflow are kept and follow the resync
    assert (await slow.get()).record.message == "line 4"
    bus.publish(log_event(99))
    assert (await slow.get()).record.message == "line 99"
    # the other subscriber lost nothing
    assert [(await fast.get()).record.message for _ in range(5)] == [f"line {n}" for n in range(5)]


async def test_waiting_subscriber_wakes_and_close_ends_iteration() -> None:
    bus = EventBus(lambda: T0)
    sub = bus.subscribe()
    received: list[str] = []

    async def consume() -> None:
        async for event in sub:
            received.append(event.record.message)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    bus.publish(log_event(1))
    await asyncio.sleep(0)
    await sub.close()
    await asyncio.wait_for(task, 1)
    assert received == ["line 1"]
    assert bus.subscribers == 0
