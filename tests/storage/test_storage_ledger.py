"""The paper ledger: what `record` stores, `load` resumes from and `rebuild`
recomputes from fills alone must agree to the last decimal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.brokers.base import Changes
from engine.models import (
    DealEntry,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from storage.db import StorageError
from storage.store import Store

ACCOUNT = "account-001"
START = Decimal("10000.00")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _order(ticket: int, side: Side, volume: str, *, minutes: int, **fields: object) -> Order:
    at = T0 + timedelta(minutes=minutes)
    values: dict[str, object] = {
        "ticket": ticket,
        "account_id": ACCOUNT,
        "client_order_id": f"c{ticket}",
        "symbol": "EURUSD",
        "side": side,
        "type": OrderType.MARKET,
        "volume": Decimal(volume),
        "status": OrderStatus.FILLED,
        "filled_volume": Decimal(volume),
        "created_at": at,
        "updated_at": at,
    }
    values.update(fields)
    return Order.model_validate(values)


def _fill(
    ticket: int,
    order: int,
    position: int,
    side: Side,
    entry: DealEntry,
    volume: str,
    price: str,
    *,
    minutes: int,
    symbol: str = "EURUSD",
    commission: str = "0",
    profit: str = "0",
) -> Fill:
    return Fill(
        ticket=ticket,
        order_ticket=order,
        position_ticket=position,
        account_id=ACCOUNT,
        symbol=symbol,
        side=side,
        entry=entry,
        volume=Decimal(volume),
        price=Decimal(price),
        commission=Decimal(commission),
        profit=Decimal(profit),
        strategy_id="ma-1",
        time=T0 + timedelta(minutes=minutes),
    )


def _position(
    ticket: int, side: Side, volume: str, price: str, *, minutes: int, symbol: str = "EURUSD"
) -> Position:
    return Position(
        ticket=ticket,
        account_id=ACCOUNT,
        symbol=symbol,
        side=side,
        volume=Decimal(volume),
        open_price=Decimal(price),
        open_time=T0 + timedelta(minutes=minutes),
        sl=Decimal("1.09500"),
        strategy_id="ma-1",
    )


async def _hedging_day(store: Store) -> None:
    """Open EURUSD long and GBPUSD short, close the long in two parts, leave a limit order."""
    long = _position(1, Side.BUY, "0.30", "1.10000", minutes=0)
    short = _position(3, Side.SELL, "0.10", "1.25000", minutes=1, symbol="GBPUSD")
    steps = [
        Changes(
            orders=[_order(1, Side.BUY, "0.30", minutes=0)],
            fills=[
                _fill(
                    2, 1, 1, Side.BUY, DealEntry.IN, "0.30", "1.10000", minutes=0, commission="2.10"
                )
            ],
            positions=[long],
            balance=Decimal("9997.90"),
        ),
        Changes(
            orders=[_order(3, Side.SELL, "0.10", minutes=1, symbol="GBPUSD")],
            fills=[
                _fill(
                    4,
                    3,
                    3,
                    Side.SELL,
                    DealEntry.IN,
                    "0.10",
                    "1.25000",
                    minutes=1,
                    symbol="GBPUSD",
                    commission="0.70",
                )
            ],
            positions=[short],
            balance=Decimal("9997.20"),
        ),
        Changes(
            orders=[_order(5, Side.SELL, "0.10", minutes=120, position_ticket=1)],
            fills=[
                _fill(
                    6,
                    5,
                    1,
                    Side.SELL,
                    DealEntry.OUT,
                    "0.10",
                    "1.10250",
                    minutes=120,
                    commission="0.70",
                    profit="25.00",
                )
            ],
            positions=[long.model_copy(update={"volume": Decimal("0.20")})],
            balance=Decimal("10021.50"),
        ),
        Changes(
            orders=[_order(7, Side.SELL, "0.20", minutes=180, position_ticket=1)],
            fills=[
                _fill(
                    8,
                    7,
                    1,
                    Side.SELL,
                    DealEntry.OUT,
                    "0.20",
                    "1.10100",
                    minutes=180,
                    commission="1.40",
                    profit="20.00",
                )
            ],
            closed=[long.model_copy(update={"volume": Decimal("0.20")})],
            balance=Decimal("10040.10"),
        ),
        Changes(
            orders=[
                _order(
                    9,
                    Side.BUY,
                    "0.05",
                    minutes=181,
                    type=OrderType.LIMIT,
                    price=Decimal("1.09000"),
                    status=OrderStatus.PLACED,
                    filled_volume=Decimal(0),
                )
            ]
        ),
    ]
    for changes in steps:
        await store.ledger.record(ACCOUNT, changes, starting_balance=START)


async def test_record_load_and_rebuild_agree_on_a_hedging_day(store: Store) -> None:
    await _hedging_day(store)
    day_start = T0 + timedelta(minutes=60)

    loaded = await store.ledger.load(ACCOUNT, START, day_start)
    rebuilt = await store.ledger.rebuild(ACCOUNT, START)

    assert str(loaded.balance) == "10040.10"
    assert loaded.realised_pnl == Decimal("45.00")
    assert loaded.commission == Decimal("4.90")
    assert loaded.realised_today == Decimal("42.90")  # the two closes after day_start
    assert [(p.ticket, p.side, str(p.volume), str(p.open_price)) for p in loaded.positions] == [
        (3, Side.SELL, "0.10", "1.25000")
    ]
    assert loaded.positions[0].sl == Decimal("1.09500")
    assert [(o.ticket, o.status) for o in loaded.orders] == [(9, OrderStatus.PLACED)]

    assert rebuilt.balance == loaded.balance
    assert rebuilt.realised_pnl == loaded.realised_pnl
    assert rebuilt.commission == loaded.commission
    assert rebuilt.orders == []
    assert [
        (p.ticket, p.symbol, p.side, str(p.volume), str(p.open_price), p.open_time)
        for p in rebuilt.positions
    ] == [(3, "GBPUSD", Side.SELL, "0.10", "1.25000", T0 + timedelta(minutes=1))]


async def test_an_account_with_no_history_loads_its_starting_balance(store: Store) -> None:
    loaded = await store.ledger.load("account-009", START, T0)
    rebuilt = await store.ledger.rebuild("account-009", START)
    assert loaded.balance == rebuilt.balance == START
    assert loaded.positions == rebuilt.positions == []
    assert loaded.orders == []


async def test_rebuild_averages_netting_adds_and_follows_a_reversal(store: Store) -> None:
    fills = [
        _fill(1, 1, 10, Side.BUY, DealEntry.IN, "0.10", "1.10000", minutes=0),
        _fill(2, 2, 10, Side.BUY, DealEntry.IN, "0.30", "1.10004", minutes=1),
    ]
    await store.ledger.record(ACCOUNT, Changes(fills=fills))
    (position,) = (await store.ledger.rebuild(ACCOUNT, START)).positions
    assert (position.side, str(position.volume), str(position.open_price)) == (
        Side.BUY,
        "0.40",
        "1.10003",
    )
    reversal = _fill(3, 3, 10, Side.SELL, DealEntry.INOUT, "0.60", "1.10010", minutes=2)
    await store.ledger.record(ACCOUNT, Changes(fills=[reversal]))
    (position,) = (await store.ledger.rebuild(ACCOUNT, START)).positions
    assert (position.side, str(position.volume), str(position.open_price), position.open_time) == (
        Side.SELL,
        "0.20",
        "1.10010",
        T0 + timedelta(minutes=2),
    )


async def test_an_order_is_updated_in_place_by_ticket(store: Store) -> None:
    placed = _order(
        1, Side.BUY, "0.10", minutes=0, status=OrderStatus.PENDING, filled_volume=Decimal(0)
    )
    await store.ledger.record(ACCOUNT, Changes(orders=[placed]))
    filled = placed.model_copy(
        update={
            "status": OrderStatus.FILLED,
            "fill_price": Decimal("1.10010"),
            "filled_volume": Decimal("0.10"),
        }
    )
    await store.ledger.record(ACCOUNT, Changes(orders=[filled]))
    assert await store.ledger.orders(ACCOUNT) == [filled]
    assert await store.ledger.orders(ACCOUNT, open_only=True) == []
    stored = await store.ledger.order_by_client_id(ACCOUNT, "c1")
    assert stored == filled and str(stored.fill_price) == "1.10010"
    assert await store.ledger.order_by_client_id(ACCOUNT, "nope") is None


async def test_a_reused_client_order_id_fails_the_whole_record(store: Store) -> None:
    await store.ledger.record(ACCOUNT, Changes(orders=[_order(1, Side.BUY, "0.10", minutes=0)]))
    clash = _order(2, Side.BUY, "0.10", minutes=1, client_order_id="c1")
    fill = _fill(3, 2, 2, Side.BUY, DealEntry.IN, "0.10", "1.10000", minutes=1)
    with pytest.raises(StorageError, match="UNIQUE"):
        await store.ledger.record(
            ACCOUNT, Changes(orders=[clash], fills=[fill], balance=Decimal(1))
        )
    assert await store.ledger.fills(ACCOUNT) == []
    assert (await store.ledger.load(ACCOUNT, START, T0)).balance == START


async def test_lists_are_newest_first_and_filtered(store: Store) -> None:
    await _hedging_day(store)
    other = Fill.model_validate(
        {
            **_fill(20, 19, 19, Side.BUY, DealEntry.IN, "1", "2", minutes=5).model_dump(),
            "account_id": "account-002",
        }
    )
    await store.ledger.record("account-002", Changes(fills=[other]))
    assert [f.ticket for f in await store.ledger.fills(ACCOUNT)] == [8, 6, 4, 2]
    assert [f.ticket for f in await store.ledger.fills(limit=2)] == [20, 8]
    assert [o.ticket for o in await store.ledger.orders(ACCOUNT, limit=3)] == [9, 7, 5]
    assert [p.ticket for p in await store.ledger.positions()] == [3]
    assert await store.ledger.positions("account-002") == []
    assert await store.ledger.max_ticket() == 20


async def test_max_ticket_is_zero_when_empty(store: Store) -> None:
    assert await store.ledger.max_ticket() == 0


async def test_models_round_trip_exactly(store: Store) -> None:
    order = _order(
        1,
        Side.SELL,
        "0.10000",
        minutes=0,
        type=OrderType.STOP_LIMIT,
        price=Decimal("1.10000"),
        stop_limit=Decimal("1.09990"),
        sl=Decimal("1.2"),
        tp=Decimal("1.05000"),
        status=OrderStatus.REJECTED,
        retcode=10016,
        reason="invalid stops",
        comment="ma x",
        strategy_id="ma-1",
        magic=7,
    )
    fill = _fill(
        2,
        1,
        1,
        Side.SELL,
        DealEntry.IN,
        "0.10000",
        "1.10000",
        minutes=0,
        commission="0.700",
        profit="-0.00",
    )
    position = _position(1, Side.SELL, "0.10000", "1.10000", minutes=0).model_copy(
        update={"current_price": Decimal("1.10020"), "profit": Decimal("-2.00"), "magic": 7}
    )
    await store.ledger.record(ACCOUNT, Changes(orders=[order], fills=[fill], positions=[position]))
    (got_order,) = await store.ledger.orders()
    (got_fill,) = await store.ledger.fills()
    (got_position,) = await store.ledger.positions()
    assert got_order.model_dump(mode="json") == order.model_dump(mode="json")
    assert got_fill.model_dump(mode="json") == fill.model_dump(mode="json")
    assert got_position.model_dump(mode="json") == position.model_dump(mode="json")
