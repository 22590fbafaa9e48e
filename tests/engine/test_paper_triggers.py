"""PaperBroker on quotes: SL/TP, limit/stop/stop-limit orders, stop-out, the
hot path staying quiet when nothing is reached, and the trigger band (what the
engine checks before giving the broker a quote) holding exactly the quotes
that fire something."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.brokers import retcodes
from engine.models import DealEntry, Order, OrderSource, OrderStatus, OrderType, Position, Side
from tests.engine.paper_harness import Desk

BUY, SELL = Side.BUY, Side.SELL
LIMIT, STOP, STOP_LIMIT = OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT


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


def fires(positions: list[Position], orders: list[Order], bid: Decimal, ask: Decimal) -> bool:
    """Whether an MT5 server acts on this quote, from its rules: a long closes on
    the bid, a short on the ask; buy orders fill on the ask, sells on the bid."""
    for p in positions:
        price, sign = (bid, 1) if p.side is BUY else (ask, -1)
        if p.sl is not None and (p.sl - price) * sign >= 0:
            return True
        if p.tp is not None and (price - p.tp) * sign >= 0:
            return True
    for o in orders:
        assert o.price is not None
        price, sign = (ask, 1) if o.side is BUY else (bid, -1)
        beyond = (price - o.price) * sign  # how far past the order's price, its way
        if (beyond <= 0) if o.type is LIMIT else (beyond >= 0):
            return True
    return False


async def test_the_trigger_band_holds_exactly_the_quotes_that_fire_something() -> None:
    """Random books of positions and pending orders; quotes at every level and a
    point either side, on the bid and on the ask. A quote reaches the band (all
    the engine checks before feeding the broker) exactly when it fires something,
    so no trigger is ever missed, boundaries included."""
    rng = random.Random(5)
    point = Decimal("0.00001")
    spread = 10 * point
    for _ in range(30):
        desk = Desk(balance="1000000")
        desk.majors()  # GBPUSD 1.25000 / 1.25010, no stops_level
        bid, ask = Decimal("1.25000"), Decimal("1.25010")
        for n in range(rng.randint(1, 5)):
            side = rng.choice([BUY, SELL])
            sign = side.sign

            def away() -> Decimal:
                return rng.randint(1, 200) * point

            kind = rng.choice([None, LIMIT, STOP, STOP_LIMIT])
            if kind is None:  # a position, with SL and TP or not
                close = bid if side is BUY else ask
                stops = {
                    "sl": rng.choice([None, close - sign * away()]),
                    "tp": rng.choice([None, close + sign * away()]),
                }
                result = await desk.send(desk.request("GBPUSD", side, "0.1", **stops))
            else:
                market = ask if side is BUY else bid
                below = (kind is LIMIT) == (side is BUY)
                price = market - away() if below else market + away()
                limit = {"stop_limit": price - sign * away()} if kind is STOP_LIMIT else {}
                request = desk.request("GBPUSD", side, "0.1", type=kind, price=price, **limit)
                result = await desk.send(request)
            assert result.ok, (n, result.message)
        positions, orders = desk.broker.positions(), desk.broker.open_orders()
        levels = [p.sl for p in positions] + [p.tp for p in positions]
        levels += [o.price for o in orders]
        band = desk.broker.trigger_band("GBPUSD")
        for level in {lv for lv in levels if lv is not None}:
            for near in (level - point, level, level + point):
                for quote in ((near, near + spread), (near - spread, near)):
                    expected = fires(positions, orders, *quote)
                    assert (band is not None and band.reached(*quote)) == expected, quote
                    fresh = Desk(ledger=desk.ledger(), clock=desk.clock, first_ticket=1000)
                    fresh.quotes.update(desk.quotes)
                    acted = fresh.quote("GBPUSD", str(quote[0]), str(quote[1])) is not None
                    assert acted == expected, quote


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
    desk.quote("EURUSD", "1.09000", "1.09010")  # -404: level ~ 72 %
    assert desk.check_stop_out() is None

    # A quote reaching no level leaves the stop-out to the next check (the engine's mark).
    assert desk.quote("EURUSD", "1.08500", "1.08510") is None  # -604: level ~ 48 %
    changes = desk.check_stop_out()

    assert changes is not None
    (order,) = changes.orders
    assert order.comment == "[so]" and order.source is OrderSource.SYSTEM
    assert order.position_ticket == eur.order.ticket  # type: ignore[union-attr]
    assert changes.fills[0].profit == Decimal("-604.00")
    assert [p.ticket for p in desk.broker.positions()] == [gbp.order.ticket]  # type: ignore[union-attr]
    account = desk.broker.account()
    assert account.margin_level is not None and account.margin_level >= 50
    assert desk.check_stop_out() is None
    desk.assert_invariants()


async def test_the_stop_out_closes_the_most_losing_position_whichever_symbol_moved() -> None:
    desk = Desk(balance="1000", leverage=100)
    desk.majors()
    await desk.buy("EURUSD", "0.4")
    await desk.buy("GBPUSD", "0.3")
    desk.quote("EURUSD", "1.09000", "1.09010")  # -404 on EURUSD
    desk.quote("GBPUSD", "1.24300", "1.24310")  # -213 more on GBPUSD: level ~ 47 %

    changes = desk.check_stop_out()

    assert changes is not None and changes.orders[0].comment == "[so]"
    assert changes.closed[0].symbol == "EURUSD"  # the most losing, not the quoted one
    desk.assert_invariants()


async def test_a_market_fill_that_leaves_the_margin_level_too_low_is_stopped_out() -> None:
    desk = Desk(balance="1000", leverage=100, commission="600")
    desk.majors()

    # 990.09 of margin fits in 1000, but 540 of commission leaves an equity of 451.
    result = await desk.buy("EURUSD", "0.9")

    assert result.ok
    assert [o.comment for o in result.changes.orders] == ["", "[so]"]
    assert [f.entry for f in result.changes.fills] == [DealEntry.IN, DealEntry.OUT]
    assert desk.broker.positions() == []
    desk.assert_invariants()


async def test_a_pending_fill_that_leaves_the_margin_level_too_low_is_stopped_out() -> None:
    desk = Desk(balance="1000", leverage=100, commission="600")
    desk.majors()
    placed = await desk.buy("EURUSD", "0.9", type=LIMIT, price=Decimal("1.09900"))

    changes = desk.quote("EURUSD", "1.09890", "1.09900")

    assert changes is not None
    assert [o.comment for o in changes.orders] == ["", "[so]"]
    assert changes.orders[0].ticket == placed.order.ticket  # type: ignore[union-attr]
    assert changes.orders[0].status is OrderStatus.FILLED
    assert desk.broker.positions() == []
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
