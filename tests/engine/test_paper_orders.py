"""PaperBroker: market orders, rejections with MT5's retcodes, hedging and
netting, margin, commission, currency conversion and restoring from a ledger.

`Desk` (in paper_harness.py) drives one paper account on a virtual clock with
hand-made quotes and checks the ledger invariants."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from engine.brokers import retcodes
from engine.brokers.base import PaperLedger, TradeResult
from engine.brokers.paper import PaperBroker
from engine.domain import MarginMode
from engine.models import (
    DealEntry,
    Fill,
    Filling,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from tests.engine.paper_harness import INSTRUMENTS, MONDAY_9AM, SYMBOLS, Desk


def only(items: Iterable[Fill]) -> Fill:
    (item,) = items
    return item


# --- market orders -------------------------------------------------------------------


async def test_market_buy_fills_at_the_ask_and_opens_a_position_with_the_order_ticket() -> None:
    desk = Desk()
    desk.majors()

    result = await desk.buy("EURUSD", "0.5", strategy_id="s1")

    assert result.retcode == retcodes.DONE and result.ok
    order = result.order
    assert order is not None
    assert order.status is OrderStatus.FILLED
    assert order.fill_price == Decimal("1.10010") and order.filled_volume == Decimal("0.5")
    fill = only(result.changes.fills)
    assert (fill.entry, fill.side, fill.price, fill.volume) == (
        DealEntry.IN,
        Side.BUY,
        Decimal("1.10010"),
        Decimal("0.5"),
    )
    assert fill.order_ticket == order.ticket == fill.position_ticket
    assert fill.ticket != order.ticket  # deals and orders share one numbering
    (position,) = result.changes.positions
    assert position.ticket == order.ticket
    assert position.open_price == Decimal("1.10010")
    assert position.current_price == Decimal("1.10000")  # a long is marked at the bid
    assert position.profit == Decimal("-5.00")  # the spread: 1 pip on 0.5 lot
    assert position.strategy_id == "s1"
    assert result.changes.orders == [order]
    desk.assert_invariants()


async def test_market_sell_fills_at_the_bid() -> None:
    desk = Desk()
    desk.majors()

    result = await desk.sell("GBPUSD", "1")

    fill = only(result.changes.fills)
    assert fill.price == Decimal("1.25000")
    position = desk.position(fill.position_ticket)
    assert position.side is Side.SELL
    assert position.current_price == Decimal("1.25010")  # a short is marked at the ask


async def test_a_closing_deal_books_profit_and_commission_on_the_balance() -> None:
    desk = Desk(commission="7")
    desk.majors()
    opened = await desk.buy("EURUSD", "0.5")
    assert only(opened.changes.fills).commission == Decimal("3.50")
    assert opened.changes.balance == Decimal("9996.50")

    desk.quote("EURUSD", "1.10210", "1.10220")
    closed = await desk.close(only(opened.changes.fills).position_ticket)

    fill = only(closed.changes.fills)
    assert fill.entry is DealEntry.OUT and fill.side is Side.SELL
    assert fill.price == Decimal("1.10210")
    assert fill.profit == Decimal("100.00")  # 20 pips on 0.5 lot
    assert fill.commission == Decimal("3.50")
    account = desk.broker.account()
    assert account.balance == Decimal("10093.00")
    assert account.commission == Decimal("7.00")
    assert account.realised_pnl == Decimal("100.00")
    assert closed.changes.balance == account.balance
    (final,) = closed.changes.closed
    assert final.profit == Decimal("100.00") and final.commission == Decimal("7.00")
    assert desk.broker.positions() == []
    desk.assert_invariants()


async def test_usdjpy_profit_is_converted_to_the_account_currency() -> None:
    desk = Desk()
    desk.majors()
    opened = await desk.buy("USDJPY", "1")  # at 150.010

    desk.quote("USDJPY", "151.010", "151.020")
    closed = await desk.close(opened.changes.fills[0].position_ticket)

    # 1.000 JPY on 100,000 units = 100,000 JPY, divided by USDJPY's mid 151.015
    assert only(closed.changes.fills).profit == (Decimal(100000) / Decimal("151.015")).quantize(
        Decimal("0.01")
    )
    assert only(closed.changes.fills).profit == Decimal("662.19")
    desk.assert_invariants()


async def test_margin_is_notional_over_leverage_in_the_account_currency() -> None:
    desk = Desk(leverage=50)
    desk.majors()
    await desk.buy("EURUSD", "1")  # 100,000 * 1.10010 / 50
    await desk.buy("USDJPY", "0.5")  # 50,000 * 150.010 / 50 JPY, / 150.005

    account = desk.broker.account()
    jpy_margin = (Decimal(50000) * Decimal("150.010") / 50 / Decimal("150.005")).quantize(
        Decimal("0.01")
    )
    assert account.margin == Decimal("2200.20") + jpy_margin
    assert account.free_margin == account.equity - account.margin
    assert account.margin_level == (account.equity / account.margin * 100).quantize(Decimal("0.01"))


# --- rejections, one retcode each ----------------------------------------------------


async def assert_rejected(desk: Desk, result: TradeResult, retcode: int) -> None:
    """Refused with `retcode` and a sentence, recorded as rejected, nothing else changed."""
    assert result.retcode == retcode and not result.ok
    assert result.message.endswith(".") and len(result.message) > 15
    order = result.order
    assert order is not None
    assert order.status is OrderStatus.REJECTED
    assert order.retcode == retcode and order.reason == result.message
    assert result.changes.orders == [order]
    assert result.changes.fills == [] and result.changes.positions == []
    assert result.changes.balance is None


@pytest.fixture
async def busy_desk() -> Desk:
    """An account with one open position, to prove rejections leave it alone."""
    desk = Desk()
    desk.majors()
    await desk.buy("GBPUSD", "0.2")
    return desk


def state(desk: Desk) -> tuple[object, ...]:
    account = desk.broker.account()
    return (account.balance, account.margin, desk.broker.positions())


@pytest.mark.parametrize("volume", ["0.001", "101", "0.015", "0"])
async def test_invalid_volume_is_10014(busy_desk: Desk, volume: str) -> None:
    before = state(busy_desk)
    result = await busy_desk.buy("EURUSD", volume)
    await assert_rejected(busy_desk, result, retcodes.INVALID_VOLUME)
    assert state(busy_desk) == before


@pytest.mark.parametrize(
    ("side", "sl", "tp"),
    [
        (Side.BUY, "1.10005", None),  # SL above the bid
        (Side.BUY, "1.09995", None),  # below, but closer than stops_level (10 points)
        (Side.BUY, None, "1.09990"),  # TP below the bid
        (Side.SELL, "1.10000", None),  # SL below the ask
        (Side.SELL, None, "1.10015"),  # TP above the ask
    ],
)
async def test_invalid_stops_is_10016(
    busy_desk: Desk, side: Side, sl: str | None, tp: str | None
) -> None:
    before = state(busy_desk)
    result = await busy_desk.send(
        busy_desk.request(
            "EURUSD",
            side,
            "0.1",
            sl=None if sl is None else Decimal(sl),
            tp=None if tp is None else Decimal(tp),
        )
    )
    await assert_rejected(busy_desk, result, retcodes.INVALID_STOPS)
    assert state(busy_desk) == before


async def test_stops_at_exactly_stops_level_are_accepted(busy_desk: Desk) -> None:
    result = await busy_desk.buy("EURUSD", "0.1", sl=Decimal("1.09990"), tp=Decimal("1.10010"))
    assert result.retcode == retcodes.DONE


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 1, 10, 12, 0, tzinfo=UTC),  # Saturday
        datetime(2026, 1, 6, 22, 30, tzinfo=UTC),  # Tuesday after 22:00
        datetime(2026, 1, 6, 0, 59, tzinfo=UTC),  # Tuesday before 01:00
    ],
)
async def test_market_closed_is_10018(busy_desk: Desk, when: datetime) -> None:
    await busy_desk.clock.advance_to(when)
    before = state(busy_desk)
    result = await busy_desk.buy("XAUUSD", "0.1")
    await assert_rejected(busy_desk, result, retcodes.MARKET_CLOSED)
    assert state(busy_desk) == before


async def test_no_money_is_10019() -> None:
    desk = Desk(balance="1000", leverage=100)
    desk.majors()
    assert (await desk.buy("EURUSD", "0.5")).ok  # 550.05 of margin
    before = state(desk)

    result = await desk.buy("EURUSD", "0.5")  # another 550.05, only ~440 free

    await assert_rejected(desk, result, retcodes.NO_MONEY)
    assert state(desk) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"symbol": "NOPE"},  # unknown anywhere
        {"symbol": "AUDUSD"},  # configured, but not one of the account's symbols
        {"account_id": "someone-else"},
        {"type": OrderType.LIMIT},  # a pending order without a price
        {"type": OrderType.STOP_LIMIT, "price": Decimal("1.10100")},  # without stop_limit
        {"position_ticket": 999},  # closes a position that does not exist
    ],
)
async def test_invalid_request_is_10013(busy_desk: Desk, fields: dict[str, object]) -> None:
    before = state(busy_desk)
    symbol = str(fields.pop("symbol", "EURUSD"))
    result = await busy_desk.send(busy_desk.request(symbol, Side.BUY, "0.1", **fields))
    await assert_rejected(busy_desk, result, retcodes.INVALID)
    assert result.order is not None and result.order.account_id == "paper-1"
    assert state(busy_desk) == before


async def test_a_duplicate_client_order_id_is_10013_and_not_recorded(busy_desk: Desk) -> None:
    first = await busy_desk.buy("EURUSD", "0.1", client_order_id="once")
    before = state(busy_desk)

    again = await busy_desk.buy("EURUSD", "0.1", client_order_id="once")

    assert first.ok and again.retcode == retcodes.INVALID
    assert again.order is None and not again.changes
    assert state(busy_desk) == before


async def test_a_filling_mode_the_symbol_does_not_allow_is_10030(busy_desk: Desk) -> None:
    before = state(busy_desk)
    result = await busy_desk.buy("XAUUSD", "0.1", filling=Filling.FOK)  # XAUUSD: ioc only
    await assert_rejected(busy_desk, result, retcodes.INVALID_FILL)
    assert state(busy_desk) == before


@pytest.mark.parametrize(
    ("side", "kind", "price"),
    [
        (Side.BUY, OrderType.LIMIT, "1.10020"),  # a buy limit must rest below the ask
        (Side.BUY, OrderType.STOP, "1.09990"),  # a buy stop above it
        (Side.SELL, OrderType.LIMIT, "1.09990"),  # a sell limit above the bid
        (Side.SELL, OrderType.STOP, "1.10000"),  # a sell stop below it (not at it)
        (Side.BUY, OrderType.LIMIT, "1.10005"),  # right side, closer than stops_level
    ],
)
async def test_a_pending_price_on_the_wrong_side_is_10015(
    busy_desk: Desk, side: Side, kind: OrderType, price: str
) -> None:
    before = state(busy_desk)
    result = await busy_desk.send(
        busy_desk.request("EURUSD", side, "0.1", type=kind, price=Decimal(price))
    )
    await assert_rejected(busy_desk, result, retcodes.INVALID_PRICE)
    assert state(busy_desk) == before
    assert busy_desk.broker.open_orders() == []


async def test_no_quote_yet_is_10021() -> None:
    desk = Desk()
    result = await desk.buy("EURUSD", "0.1")
    await assert_rejected(desk, result, retcodes.PRICE_OFF)
    assert desk.broker.account().balance == Decimal(10000)


async def test_closing_an_unknown_or_closed_position_is_refused(busy_desk: Desk) -> None:
    ticket = busy_desk.broker.positions()[0].ticket
    assert (await busy_desk.close(ticket)).ok

    closed_again = await busy_desk.close(ticket)
    unknown = await busy_desk.close(12345)

    assert closed_again.retcode == retcodes.POSITION_CLOSED
    assert unknown.retcode == retcodes.INVALID
    assert closed_again.order is None and unknown.order is None
    assert not closed_again.changes and not unknown.changes


async def test_closing_more_than_the_position_holds_is_10038(busy_desk: Desk) -> None:
    ticket = busy_desk.broker.positions()[0].ticket
    before = state(busy_desk)
    result = await busy_desk.close(ticket, "0.3")
    await assert_rejected(busy_desk, result, retcodes.INVALID_CLOSE_VOLUME)
    assert state(busy_desk) == before


# --- hedging and netting -----------------------------------------------------------------


async def test_hedging_keeps_a_position_per_order_and_closes_by_ticket() -> None:
    desk = Desk(mode=MarginMode.HEDGING)
    desk.majors()
    long_ = await desk.buy("EURUSD", "1")
    short = await desk.sell("EURUSD", "0.4")

    tickets = sorted(p.ticket for p in desk.broker.positions())
    assert tickets == sorted([long_.order.ticket, short.order.ticket])  # type: ignore[union-attr]
    assert all(f.entry is DealEntry.IN for f in desk.fills)

    closing = await desk.buy("EURUSD", "0.4", position_ticket=short.order.ticket)  # type: ignore[union-attr]

    fill = only(closing.changes.fills)
    assert fill.entry is DealEntry.OUT and fill.position_ticket == short.order.ticket  # type: ignore[union-attr]
    assert [p.ticket for p in desk.broker.positions()] == [long_.order.ticket]  # type: ignore[union-attr]
    assert desk.position(long_.order.ticket).volume == Decimal(1)  # type: ignore[union-attr]
    desk.assert_invariants()


async def test_netting_adds_reduces_and_reverses_one_position_per_symbol() -> None:
    desk = Desk(mode=MarginMode.NETTING)
    desk.majors()
    first = await desk.buy("EURUSD", "1")  # at 1.10010
    ticket = first.order.ticket  # type: ignore[union-attr]
    desk.quote("EURUSD", "1.10100", "1.10110")
    added = await desk.buy("EURUSD", "1")  # at 1.10110

    (position,) = desk.broker.positions()
    assert position.ticket == ticket and position.volume == Decimal(2)
    assert position.open_price == Decimal("1.10060")  # volume-weighted
    assert only(added.changes.fills).position_ticket == ticket

    reduced = await desk.sell("EURUSD", "0.5")  # at 1.10100
    fill = only(reduced.changes.fills)
    assert fill.entry is DealEntry.OUT and fill.position_ticket == ticket
    assert fill.profit == Decimal("20.00")  # 4 pips on 0.5 lot
    assert desk.position(ticket).volume == Decimal("1.5")

    reversed_ = await desk.sell("EURUSD", "2")
    out, in_ = reversed_.changes.fills
    assert (out.entry, out.volume, out.position_ticket) == (DealEntry.OUT, Decimal("1.5"), ticket)
    assert (in_.entry, in_.volume) == (DealEntry.IN, Decimal("0.5"))
    assert in_.position_ticket == reversed_.order.ticket  # type: ignore[union-attr]
    (short,) = desk.broker.positions()
    assert short.side is Side.SELL and short.volume == Decimal("0.5")
    assert short.ticket == reversed_.order.ticket  # type: ignore[union-attr]
    assert [p.ticket for p in reversed_.changes.closed] == [ticket]
    assert [p.ticket for p in reversed_.changes.positions] == [short.ticket]
    desk.assert_invariants()


async def test_netting_reduction_needs_no_margin() -> None:
    desk = Desk(mode=MarginMode.NETTING, balance="1000")
    desk.majors()
    assert (await desk.buy("EURUSD", "0.8")).ok  # 880 of 1000 as margin
    assert (await desk.sell("EURUSD", "0.5")).ok  # reduces: needs nothing
    assert desk.position(desk.fills[0].position_ticket).volume == Decimal("0.3")
    refused = await desk.sell("EURUSD", "1.3")  # reverses into a 1.0 short: 1100 of margin
    assert refused.retcode == retcodes.NO_MONEY


async def test_partial_close_leaves_the_rest_open() -> None:
    desk = Desk()
    desk.majors()
    opened = await desk.sell("EURUSD", "1")  # at 1.10000
    ticket = opened.order.ticket  # type: ignore[union-attr]
    desk.quote("EURUSD", "1.09890", "1.09900")

    part = await desk.close(ticket, "0.3")

    fill = only(part.changes.fills)
    assert (fill.entry, fill.side, fill.volume) == (DealEntry.OUT, Side.BUY, Decimal("0.3"))
    assert fill.price == Decimal("1.09900") and fill.profit == Decimal("30.00")
    (left,) = part.changes.positions
    assert left.ticket == ticket and left.volume == Decimal("0.7")
    assert part.changes.closed == []
    assert part.order is not None and part.order.position_ticket == ticket

    rest = await desk.close(ticket)
    assert only(rest.changes.fills).volume == Decimal("0.7")
    assert desk.broker.positions() == []
    desk.assert_invariants()


# --- the day, the ledger --------------------------------------------------------------------


async def test_pnl_today_restarts_at_utc_midnight() -> None:
    desk = Desk()
    desk.majors()
    opened = await desk.buy("EURUSD", "1")
    desk.quote("EURUSD", "1.10110", "1.10120")
    await desk.close(opened.order.ticket)  # type: ignore[union-attr]  # +100.00
    await desk.buy("GBPUSD", "1")  # -10.00 of spread, unrealised
    assert desk.broker.account().pnl_today == Decimal("90.00")

    await desk.clock.advance_to(datetime(2026, 1, 6, 0, 0, tzinfo=UTC))

    account = desk.broker.account()
    assert account.pnl_today == Decimal("-10.00") == account.unrealised_pnl
    assert account.realised_pnl == Decimal("100.00")


async def test_restoring_from_the_ledger_gives_the_same_account() -> None:
    desk = Desk(commission="5", mode=MarginMode.NETTING)
    desk.majors()
    await desk.buy("EURUSD", "1", sl=Decimal("1.09000"))
    await desk.sell("USDJPY", "0.5")
    await desk.buy("GBPUSD", "0.3", type=OrderType.LIMIT, price=Decimal("1.24000"))
    desk.quote("EURUSD", "1.10200", "1.10210")
    await desk.sell("EURUSD", "0.4")

    restored = Desk(
        commission="5",
        mode=MarginMode.NETTING,
        ledger=desk.ledger(),
        clock=desk.clock,
        first_ticket=1000,
    )
    restored.fills = list(desk.fills)
    restored.majors()
    desk.majors()

    assert restored.broker.account() == desk.broker.account()
    assert restored.broker.positions() == desk.broker.positions()
    assert restored.broker.open_orders() == desk.broker.open_orders()
    # and it keeps working: the restored SL and pending order still fire
    assert restored.quote("GBPUSD", "1.23990", "1.24000") is not None
    assert restored.quote("EURUSD", "1.08990", "1.09000") is not None
    assert [p.symbol for p in restored.broker.positions()] == ["USDJPY", "GBPUSD"]
    restored.assert_invariants()


async def test_random_trading_keeps_the_ledger_invariants() -> None:
    """Hundreds of random orders, closes and price moves in both margin modes."""
    rng = random.Random(7)
    stops_hit = 0
    for mode in MarginMode:
        desk = Desk(mode=mode, commission="3.5", balance="100000")
        mid = {"EURUSD": 1.1, "GBPUSD": 1.25, "USDJPY": 150.0}
        desk.majors()
        for _ in range(400):
            symbol = rng.choice(list(mid))
            mid[symbol] *= 1 + rng.gauss(0, 0.001)
            digits = INSTRUMENTS[symbol].digits
            spread = 10 * float(INSTRUMENTS[symbol].point)
            desk.quote(symbol, f"{mid[symbol]:.{digits}f}", f"{mid[symbol] + spread:.{digits}f}")
            action = rng.random()
            volume = f"{rng.randint(1, 50) / 100:.2f}"
            positions = desk.broker.positions()
            if action < 0.5 or not positions:
                side = rng.choice(list(Side))
                stops: dict[str, object] = {}
                if rng.random() < 0.5:  # SL/TP 0.3 % away, so some of them fire
                    stop = 0.003 * mid[symbol] * side.sign
                    stops["sl"] = Decimal(f"{mid[symbol] - stop:.{digits}f}")
                    stops["tp"] = Decimal(f"{mid[symbol] + stop:.{digits}f}")
                await desk.send(desk.request(symbol, side, volume, **stops))
            else:
                position = rng.choice(positions)
                part = None if rng.random() < 0.5 else min(Decimal(volume), position.volume)
                await desk.close(position.ticket, None if part is None else str(part))
            desk.assert_invariants()
        assert len(desk.fills) > 300
        assert any(f.entry is DealEntry.OUT for f in desk.fills)
        assert any(f.profit < 0 for f in desk.fills) and any(f.profit > 0 for f in desk.fills)
        stops_hit += sum(o.comment in ("[sl]", "[tp]") for o in desk.triggered)
    assert stops_hit >= 20


async def test_system_and_manual_closes_are_attributed_to_the_position_strategy() -> None:
    desk = Desk()
    desk.majors()
    opened = await desk.buy("EURUSD", "0.1", strategy_id="ma:1", source=OrderSource.STRATEGY)
    closed = await desk.close(opened.order.ticket)  # type: ignore[union-attr]
    assert only(closed.changes.fills).strategy_id == "ma:1"
    assert closed.order is not None and closed.order.source is OrderSource.MANUAL
    assert closed.order.client_order_id.startswith("close-")


async def test_time_moves_with_the_clock() -> None:
    desk = Desk()
    desk.majors()
    await desk.clock.advance(90)
    result = await desk.buy("EURUSD", "0.1")
    assert only(result.changes.fills).time == MONDAY_9AM + timedelta(seconds=90)


async def test_restored_positions_in_a_symbol_no_longer_traded_can_still_be_closed() -> None:
    old = Desk()
    old.config = old.config.model_copy(update={"symbols": [*SYMBOLS, "AUDUSD"]})
    old.broker = PaperBroker(
        old.config, INSTRUMENTS, old.clock, itertools.count(1).__next__, quote_source=old.quotes.get
    )
    old.quote("AUDUSD", "0.65000", "0.65010")
    opened = await old.buy("AUDUSD", "1")

    desk = Desk(ledger=old.ledger(), clock=old.clock, first_ticket=100)  # AUDUSD not listed
    desk.quote("AUDUSD", "0.65100", "0.65110")

    assert (await desk.buy("AUDUSD", "1")).retcode == retcodes.INVALID
    closed = await desk.close(opened.order.ticket)  # type: ignore[union-attr]
    assert closed.ok and only(closed.changes.fills).profit == Decimal("90.00")


def test_a_ledger_in_an_instrument_that_is_gone_is_refused_in_plain_words() -> None:
    position = Position(
        ticket=1,
        account_id="paper-1",
        symbol="GONE",
        side=Side.BUY,
        volume=Decimal(1),
        open_price=Decimal(1),
        open_time=MONDAY_9AM,
    )
    with pytest.raises(ValueError, match="GONE"):
        Desk(ledger=PaperLedger(balance=Decimal(10000), positions=[position]))


async def test_funds_holdings_and_a_position_agree_with_the_full_reports() -> None:
    """The pre-trade checks read `funds()`, `holdings()` and `position(ticket)`,
    which the broker keeps per symbol and prices again only when a fill or a
    quote changed them: at every step of fills, partial closes, moving quotes
    (a conversion pair's too) they must say what `account()` and `positions()` say."""
    desk = Desk()
    desk.majors()
    rng = random.Random(11)

    def agree() -> None:
        account = desk.broker.account()
        funds = desk.broker.funds()
        positions = desk.broker.positions()
        # Worked out here from each position, as MT5 reports them: profit and
        # margin rounded to the cent per position, JPY converted at USDJPY's mid.
        cent = Decimal("0.01")
        equity = account.balance + sum((p.profit for p in positions), Decimal(0))
        margin = Decimal(0)
        for p in positions:
            usdjpy = desk.quotes["USDJPY"]
            rate = Decimal(2) / (usdjpy.bid + usdjpy.ask) if p.symbol == "USDJPY" else 1
            notional = p.volume * INSTRUMENTS[p.symbol].contract_size * p.open_price
            margin += (notional / desk.config.leverage * rate).quantize(cent, ROUND_HALF_EVEN)
        assert (funds.currency, funds.leverage) == (account.currency, account.leverage)
        assert (funds.equity, funds.free_margin) == (equity, equity - margin)
        assert (account.equity, account.margin) == (equity, margin)
        nets: dict[str, Decimal] = {}
        counts: dict[str, int] = {}
        for p in positions:
            nets[p.symbol] = nets.get(p.symbol, Decimal(0)) + p.volume * p.side.sign
            counts[p.symbol] = counts.get(p.symbol, 0) + 1
        held = desk.broker.holdings()
        assert {s: (h.net, h.count) for s, h in held.items()} == {
            s: (nets[s], counts[s]) for s in nets
        }
        for p in positions:
            assert desk.broker.position(p.ticket) == p

    agree()
    first = await desk.buy("EURUSD", "0.5")
    await desk.sell("GBPUSD", "0.2")
    await desk.buy("USDJPY", "0.3")  # profit in JPY: converted at USDJPY's own mid
    agree()
    assert first.order is not None
    await desk.close(first.order.ticket, "0.3")
    agree()
    assert desk.broker.position(first.order.ticket) is not None
    await desk.close(first.order.ticket)
    assert desk.broker.position(first.order.ticket) is None
    agree()
    prices = {"EURUSD": 1.1, "GBPUSD": 1.25, "USDJPY": 150.0, "XAUUSD": 2000.0}
    for step in range(60):
        symbol = rng.choice(list(prices))
        prices[symbol] *= 1 + rng.uniform(-0.002, 0.002)
        digits = 3 if symbol == "USDJPY" else 2 if symbol == "XAUUSD" else 5
        bid = round(prices[symbol], digits)
        spread = 10**-digits * 10
        desk.quote(symbol, f"{bid:.{digits}f}", f"{bid + spread:.{digits}f}")
        if step % 7 == 0:
            side = rng.choice(["buy", "sell"])
            await getattr(desk, side)(rng.choice(list(prices)), "0.1")
        if step % 11 == 0 and desk.broker.positions():
            await desk.close(rng.choice(desk.broker.positions()).ticket)
        agree()


async def test_a_netting_accounts_holdings_are_one_net_per_symbol() -> None:
    desk = Desk(mode=MarginMode.NETTING)
    desk.majors()
    await desk.buy("EURUSD", "0.5")
    await desk.sell("EURUSD", "0.2")
    held = desk.broker.holdings()
    assert {s: (h.net, h.count) for s, h in held.items()} == {"EURUSD": (Decimal("0.3"), 1)}
    await desk.sell("EURUSD", "0.5")  # reverses: one short position of 0.2
    held = desk.broker.holdings()
    assert {s: (h.net, h.count) for s, h in held.items()} == {"EURUSD": (Decimal("-0.2"), 1)}
    await desk.buy("EURUSD", "0.2")
    assert desk.broker.holdings() == {}
    assert desk.broker.funds().free_margin == desk.broker.account().free_margin
