"""PaperBroker on quotes: SL/TP, limit/stop/stop-limit orders, stop-out, and
the hot path staying quiet when nothing is reached."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.brokers import retcodes
from engine.models import DealEntry, OrderSource, OrderStatus, OrderType, Side
from tests.engine.test_paper_orders import Desk

BUY, SELL = Side.BUY, Side.SELL
LIMIT, STOP = OrderType.LIMIT, OrderType.STOP


@pytest.fixture
def desk() -> Desk:
    desk = Desk()
    desk.majors()  # EURUSD 1.10000 / 1.10010, stops_level 10 points
    return desk


# --- the hot path ------------------------------------------------------------------------


async def test_quotes_that_reach_nothing_change_nothing(desk: Desk) -> None:
    assert desk.quote("EURUSD", "1.10500", "1.10510") is None  # nothing held at all
    await desk.buy("EURUSD", "1", sl=Decimal("1.09000"), tp=Decimal("1.12000"))
    await desk.sell("EURUSD", "1", type=OrderType.LIMIT, price=Decimal("1.11000"))

    assert desk.quote("GBPUSD", "1.20000", "1.20010") is None  # another symbol
    assert desk.quote("EURUSD", "1.09001", "1.09011") is None  # just above the SL
    assert desk.quote("EURUSD", "1.10990", "1.11000") is None  # just below limit and TP
    assert len(desk.broker.positions()) == 1 and len(desk.broker.open_orders()) == 1
    assert desk.broker.last_quote("EURUSD").bid == Decimal("1.10990")  # type: ignore[union-attr]


# --- SL and TP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "stops", "bid", "ask", "comment", "price"),
    [
        (Side.BUY, {"sl": "1.09500"}, "1.09500", "1.09510", "[sl]", "1.09500"),
        (Side.BUY, {"tp": "1.10500"}, "1.10500", "1.10510", "[tp]", "1.10500"),
        (Side.SELL, {"sl": "1.10500"}, "1.10490", "1.10500", "[sl]", "1.10500"),
        (Side.SELL, {"tp": "1.09500"}, "1.09490", "1.09500", "[tp]", "1.09500"),
    ],
)
async def test_sl_and_tp_close_at_the_market_as_system_deals(
    desk: Desk, side: Side, stops: dict[str, str], bid: str, ask: str, comment: str, price: str
) -> None:
    opened = await desk.send(
        desk.request(
            "EURUSD", side, "0.5", strategy_id="s1", **{k: Decimal(v) for k, v in stops.items()}
        )
    )
    ticket = opened.changes.positions[0].ticket

    changes = desk.quote("EURUSD", bid, ask)

    assert changes is not None
    (order,) = changes.orders
    assert order.source is OrderSource.SYSTEM and order.comment == comment
    assert order.status is OrderStatus.FILLED and order.position_ticket == ticket
    assert order.side is side.opposite and order.strategy_id == "s1"
    (fill,) = changes.fills
    assert fill.entry is DealEntry.OUT and fill.price == Decimal(price)
    expected = (Decimal(price) - opened.changes.fills[0].price) * side.sign * 50000
    assert fill.profit == expected
    assert [p.ticket for p in changes.closed] == [ticket]
    assert changes.balance == Decimal(10000) + expected
    assert desk.broker.positions() == []
    desk.assert_invariants()


# --- pending orders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "kind", "price", "not_yet", "crossing", "fill_price"),
    [
        # a buy limit fills when the ASK comes down to it (the bid touching it is not enough)
        (BUY, LIMIT, "1.09900", ("1.09900", "1.09910"), ("1.09885", "1.09895"), "1.09895"),
        (BUY, STOP, "1.10100", ("1.10090", "1.10099"), ("1.10090", "1.10100"), "1.10100"),
        # a sell limit fills when the BID comes up to it (the ask touching it is not enough)
        (SELL, LIMIT, "1.10100", ("1.10090", "1.10100"), ("1.10105", "1.10115"), "1.10105"),
        (SELL, STOP, "1.09900", ("1.09901", "1.09911"), ("1.09900", "1.09910"), "1.09900"),
    ],
)  # fmt: skip
async def test_pending_orders_rest_then_fill_when_the_market_reaches_them(
    desk: Desk,
    side: Side,
    kind: OrderType,
    price: str,
    not_yet: tuple[str, str],
    crossing: tuple[str, str],
    fill_price: str,
) -> None:
    sl = Decimal(price) - side.sign * Decimal("0.00500")
    placed = await desk.send(
        desk.request("EURUSD", side, "0.3", type=kind, price=Decimal(price), sl=sl)
    )

    assert placed.retcode == retcodes.PLACED and placed.ok
    assert placed.order is not None and placed.order.status is OrderStatus.PLACED
    assert placed.changes.orders == [placed.order] and not placed.changes.fills
    assert desk.broker.open_orders() == [placed.order]
    assert desk.broker.account().pending_orders == 1

    assert desk.quote("EURUSD", *not_yet) is None

    changes = desk.quote("EURUSD", *crossing)
    assert changes is not None
    (order,) = changes.orders
    assert order.ticket == placed.order.ticket and order.status is OrderStatus.FILLED
    (fill,) = changes.fills
    assert fill.price == Decimal(fill_price) and fill.entry is DealEntry.IN
    (position,) = changes.positions
    assert position.ticket == order.ticket and position.side is side
    assert position.sl == sl  # the order's stops carry over to the position
    assert desk.broker.open_orders() == []
    desk.assert_invariants()


async def test_a_buy_stop_limit_becomes_a_limit_at_its_stop_then_fills_at_the_limit(
    desk: Desk,
) -> None:
    placed = await desk.buy(
        "EURUSD",
        "0.2",
        type=OrderType.STOP_LIMIT,
        price=Decimal("1.10100"),
        stop_limit=Decimal("1.10050"),
    )
    assert placed.retcode == retcodes.PLACED
    assert desk.quote("EURUSD", "1.10080", "1.10090") is None  # stop not reached

    stopped = desk.quote("EURUSD", "1.10090", "1.10100")

    assert stopped is not None and not stopped.fills
    (order,) = stopped.orders
    assert order.type is OrderType.LIMIT and order.price == Decimal("1.10050")
    assert order.status is OrderStatus.PLACED
    assert desk.quote("EURUSD", "1.10050", "1.10060") is None  # bid at the limit: not for a buy

    filled = desk.quote("EURUSD", "1.10040", "1.10050")

    assert filled is not None
    assert filled.fills[0].price == Decimal("1.10050")
    assert filled.orders[0].status is OrderStatus.FILLED
    desk.assert_invariants()


async def test_a_sell_stop_limit_becomes_a_limit_above_its_stop(desk: Desk) -> None:
    await desk.sell(
        "EURUSD",
        "0.2",
        type=OrderType.STOP_LIMIT,
        price=Decimal("1.09900"),
        stop_limit=Decimal("1.09950"),
    )
    stopped = desk.quote("EURUSD", "1.09900", "1.09910")
    assert stopped is not None and stopped.orders[0].type is OrderType.LIMIT
    filled = desk.quote("EURUSD", "1.09950", "1.09960")
    assert filled is not None and filled.fills[0].price == Decimal("1.09950")
    assert desk.broker.positions()[0].side is Side.SELL


async def test_a_stop_limit_whose_limit_is_beyond_its_stop_is_10015(desk: Desk) -> None:
    result = await desk.buy(
        "EURUSD",
        "0.2",
        type=OrderType.STOP_LIMIT,
        price=Decimal("1.10100"),
        stop_limit=Decimal("1.10150"),
    )
    assert result.retcode == retcodes.INVALID_PRICE
    assert desk.broker.open_orders() == []


async def test_a_cancelled_order_no_longer_fires(desk: Desk) -> None:
    placed = await desk.buy("EURUSD", "0.1", type=OrderType.LIMIT, price=Decimal("1.09900"))
    assert placed.order is not None

    cancelled = await desk.broker.cancel_order(placed.order.ticket)

    assert cancelled.retcode == retcodes.DONE
    assert cancelled.order is not None and cancelled.order.status is OrderStatus.CANCELLED
    assert cancelled.changes.orders == [cancelled.order]
    assert desk.quote("EURUSD", "1.09800", "1.09810") is None
    assert desk.broker.open_orders() == []
    unknown = await desk.broker.cancel_order(placed.order.ticket)
    assert unknown.retcode == retcodes.INVALID and unknown.order is None


async def test_pending_orders_wait_while_the_market_is_closed(desk: Desk) -> None:
    await desk.buy("XAUUSD", "0.1", type=OrderType.LIMIT, price=Decimal("1990.00"))
    await desk.clock.advance_to(datetime(2026, 1, 5, 22, 30, tzinfo=UTC))  # after 22:00

    assert desk.quote("XAUUSD", "1985.00", "1985.50") is None

    await desk.clock.advance_to(datetime(2026, 1, 6, 1, 0, tzinfo=UTC))  # it reopens
    changes = desk.quote("XAUUSD", "1985.00", "1985.50")
    assert changes is not None and changes.fills[0].price == Decimal("1985.50")


async def test_a_pending_order_without_money_when_it_fires_is_rejected() -> None:
    desk = Desk(balance="1000")
    desk.majors()
    placed = await desk.buy("EURUSD", "0.5", type=OrderType.LIMIT, price=Decimal("1.09900"))
    assert placed.ok
    await desk.buy("GBPUSD", "0.5")  # takes 625 of margin meanwhile

    changes = desk.quote("EURUSD", "1.09880", "1.09890")

    assert changes is not None and not changes.fills
    (order,) = changes.orders
    assert order.status is OrderStatus.REJECTED and order.retcode == retcodes.NO_MONEY
    assert desk.broker.open_orders() == []
    assert len(desk.broker.positions()) == 1


# --- stop-out ------------------------------------------------------------------------------


async def test_stop_out_closes_the_most_losing_position_first_until_above_50_percent() -> None:
    desk = Desk(balance="1000", leverage=100)
    desk.majors()
    eur = await desk.buy("EURUSD", "0.4")  # 440.04 of margin
    gbp = await desk.buy("GBPUSD", "0.3")  # 375.03 of margin
    assert desk.quote("EURUSD", "1.09000", "1.09010") is None  # -404: level ~ 72 %

    changes = desk.quote("EURUSD", "1.08500", "1.08510")  # -604: level ~ 48 %

    assert changes is not None
    (order,) = changes.orders
    assert order.comment == "[so]" and order.source is OrderSource.SYSTEM
    assert order.position_ticket == eur.order.ticket  # type: ignore[union-attr]
    assert changes.fills[0].profit == Decimal("-604.00")
    assert [p.ticket for p in desk.broker.positions()] == [gbp.order.ticket]  # type: ignore[union-attr]
    account = desk.broker.account()
    assert account.margin_level is not None and account.margin_level >= 50
    desk.assert_invariants()


async def test_a_quote_in_another_symbol_can_trigger_the_stop_out() -> None:
    desk = Desk(balance="1000", leverage=100)
    desk.majors()
    await desk.buy("EURUSD", "0.4")
    await desk.buy("GBPUSD", "0.3")
    desk.quote("EURUSD", "1.09000", "1.09010")  # -404 on EURUSD

    changes = desk.quote("GBPUSD", "1.24300", "1.24310")  # -213 more on GBPUSD: level ~ 47 %

    assert changes is not None and changes.orders[0].comment == "[so]"
    assert changes.closed[0].symbol == "EURUSD"  # the most losing, not the quoted one
    desk.assert_invariants()


async def test_each_order_checks_its_own_side_when_another_level_fires(desk: Desk) -> None:
    """One quote reaching a sell stop must not fill a buy limit at the same price
    whose side (the ask) has not reached it."""
    buy_limit = await desk.buy("EURUSD", "0.1", type=LIMIT, price=Decimal("1.09900"))
    sell_stop = await desk.sell("EURUSD", "0.1", type=STOP, price=Decimal("1.09900"))

    changes = desk.quote("EURUSD", "1.09900", "1.09910")

    assert changes is not None
    assert [o.ticket for o in changes.orders] == [sell_stop.order.ticket]  # type: ignore[union-attr]
    assert desk.broker.open_orders() == [buy_limit.order]
