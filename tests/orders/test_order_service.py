"""The order service: what people and the risk engine do to orders and
positions, on the real engine and its paper brokers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from engine.brokers import retcodes
from engine.engine import Engine
from engine.errors import Conflict, NotFound
from engine.models import OrderRequest, OrderStatus, OrderType, Side
from tests.conftest import EngineFactory

ACCOUNT = "account-001"


def request(client_order_id: str, **fields: object) -> OrderRequest:
    values: dict[str, object] = {
        "account_id": ACCOUNT,
        "symbol": "EURUSD",
        "side": Side.BUY,
        "volume": Decimal("0.10"),
        "client_order_id": client_order_id,
    }
    return OrderRequest(**(values | fields))  # type: ignore[arg-type]


async def started(engine_factory: EngineFactory) -> Engine:
    engine = await engine_factory(run_loops=False)
    assert engine.manager is not None
    # Strategies stay out of the way: only this test's orders reach the ledger.
    engine.pause_strategies()
    return engine


def pending_buy_limit(engine: Engine, client_order_id: str, below: str = "0.00500") -> OrderRequest:
    quote = engine.quote("EURUSD")
    assert quote is not None
    return request(client_order_id, type=OrderType.LIMIT, price=quote.ask - Decimal(below))


async def test_the_same_client_order_id_sent_concurrently_makes_one_order(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    results = await asyncio.gather(*(engine.orders.place(request("twice")) for _ in range(20)))
    tickets = {r.order.ticket for r in results if r.order is not None}
    assert len(tickets) == 1
    stored = [o for o in await engine.store.ledger.orders(ACCOUNT) if o.client_order_id == "twice"]
    assert len(stored) == 1 and stored[0].status is OrderStatus.FILLED
    assert len(engine.manager.get(ACCOUNT).broker.positions()) == 1  # type: ignore[union-attr]


async def test_a_pending_order_is_modified_then_cancelled(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)
    placed = await engine.orders.place(pending_buy_limit(engine, "limit-1"))
    assert placed.retcode == retcodes.PLACED and placed.order is not None
    ticket = placed.order.ticket
    new_price = placed.order.price - Decimal("0.00100")  # type: ignore[operator]

    modified = await engine.orders.modify(
        ACCOUNT, ticket, price=new_price, sl=new_price - Decimal("0.005")
    )
    assert modified.ok, modified.message
    stored = await engine.store.ledger.order(ticket)
    assert stored is not None and stored.price == new_price and stored.sl is not None

    wrong_side = await engine.orders.modify(ACCOUNT, ticket, price=new_price + Decimal("0.1"))
    assert wrong_side.retcode == retcodes.INVALID_PRICE
    assert "below the ask" in wrong_side.message

    cancelled = await engine.orders.cancel(ACCOUNT, ticket)
    assert cancelled.ok
    stored = await engine.store.ledger.order(ticket)
    assert stored is not None and stored.status is OrderStatus.CANCELLED
    with pytest.raises(NotFound, match=str(ticket)):
        await engine.orders.cancel(ACCOUNT, ticket)


async def test_part_of_a_position_is_closed_then_the_account_flattened(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    broker = engine.manager.get(ACCOUNT).broker  # type: ignore[union-attr]
    assert broker is not None
    opened = await engine.orders.place(request("open-1", volume=Decimal("0.30")))
    await engine.orders.place(request("open-2", symbol="USDJPY", side=Side.SELL))
    [position] = [p for p in broker.positions() if p.symbol == "EURUSD"]

    partial = await engine.orders.close_position(ACCOUNT, position.ticket, Decimal("0.10"))
    assert partial.ok and opened.ok
    [left] = [p for p in broker.positions() if p.ticket == position.ticket]
    assert left.volume == Decimal("0.20")

    results = await engine.orders.flatten(ACCOUNT, reason="test")
    assert len(results) == 2 and all(r.ok for r in results)
    assert broker.positions() == []
    with pytest.raises(NotFound):
        await engine.orders.close_position(ACCOUNT, position.ticket)


async def test_cancel_all_and_flatten_cover_every_running_account(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    await engine.orders.place(pending_buy_limit(engine, "pending-a"))
    await engine.orders.place(request("open-b", account_id="account-004", symbol="EURUSD"))
    cancelled = await engine.orders.cancel_all(None, reason="test")
    assert [r.ok for r in cancelled] == [True]
    flattened = await engine.orders.flatten(None, reason="test")
    assert flattened and all(r.ok for r in flattened)
    for worker in engine.manager.workers.values():  # type: ignore[union-attr]
        assert worker.broker is not None
        assert worker.broker.positions() == [] and worker.broker.open_orders() == []


async def test_a_stopped_worker_is_named_and_nothing_is_sent(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)
    await engine.stop_worker(ACCOUNT)
    with pytest.raises(Conflict, match="account-001 is not running"):
        await engine.orders.place(request("stopped"))
    assert await engine.store.ledger.order_by_client_id(ACCOUNT, "stopped") is None


async def test_position_stops_are_modified_and_checked(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)
    opened = await engine.orders.place(request("stops"))
    assert opened.ok
    broker = engine.manager.get(ACCOUNT).broker  # type: ignore[union-attr]
    [position] = broker.positions()  # type: ignore[union-attr]
    sl = position.open_price - Decimal("0.00500")
    assert (await engine.orders.modify_position(ACCOUNT, position.ticket, sl=sl, tp=None)).ok
    assert broker.positions()[0].sl == sl  # type: ignore[union-attr]
    above = await engine.orders.modify_position(
        ACCOUNT, position.ticket, sl=position.open_price + Decimal("0.01"), tp=None
    )
    assert above.retcode == retcodes.INVALID_STOPS and "must be below" in above.message
