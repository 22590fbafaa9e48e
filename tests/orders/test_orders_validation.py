"""The validation check at the pre-trade gate: an order the account or its
instrument cannot take is refused before any broker hears of it, stored as a
rejected order naming the MT5 retcode, the rule and the problem in words, for
people's and strategies' orders alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.brokers import retcodes
from engine.engine import Engine
from engine.models import Filling, OrderRequest, OrderSource, OrderStatus, OrderType, Side
from engine.orders.validation import VALIDATION_CHECK
from engine.risk import KILL_SWITCH_CHECK, RISK_CHECK
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
    engine.pause_strategies()  # only this test's orders reach the ledger
    return engine


def ask(engine: Engine, symbol: str = "EURUSD") -> Decimal:
    quote = engine.quote(symbol)
    assert quote is not None
    return quote.ask


def bid(engine: Engine, symbol: str = "EURUSD") -> Decimal:
    quote = engine.quote(symbol)
    assert quote is not None
    return quote.bid


async def refused(engine: Engine, order: OrderRequest, retcode: int, rule: str) -> str:
    """Send `order`, check the gate's validation refused it as stored, return the reason."""
    result = await engine.orders.place(order)
    assert result.retcode == retcode, result.message
    stored = await engine.store.ledger.order_by_client_id(order.account_id, order.client_order_id)
    assert stored is not None
    assert (stored.status, stored.retcode, stored.rule) == (OrderStatus.REJECTED, retcode, rule)
    assert stored.reason == result.message
    return result.message


async def test_validation_runs_after_the_kill_switch_and_before_risk(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(run_loops=False)
    names = engine.gate.names
    assert names.index(KILL_SWITCH_CHECK) < names.index(VALIDATION_CHECK) < names.index(RISK_CHECK)


@pytest.mark.parametrize(
    ("fields", "retcode", "rule", "words"),
    [
        (
            {"symbol": "EURXXX"},
            retcodes.INVALID,
            "validation.symbol",
            "EURXXX is not a known instrument; account account-001 trades EURUSD, GBPUSD, USDJPY.",
        ),
        (
            {"symbol": "XAUUSD"},
            retcodes.TRADE_DISABLED,
            "validation.trade_disabled",
            "Account account-001 does not trade XAUUSD (it trades EURUSD, GBPUSD, USDJPY).",
        ),
        (
            {"filling": Filling.RETURN},
            retcodes.INVALID_FILL,
            "validation.filling",
            "Filling mode return is not allowed for EURUSD (allowed: fok, ioc).",
        ),
        (
            {"volume": Decimal("500")},
            retcodes.INVALID_VOLUME,
            "validation.volume",
            "Volume 500 is outside the allowed 0.01 to 100 lots.",
        ),
        (
            {"volume": Decimal("0.015")},
            retcodes.INVALID_VOLUME,
            "validation.volume",
            "Volume 0.015 is not a multiple of the volume step 0.01.",
        ),
        (
            {"type": OrderType.LIMIT},
            retcodes.INVALID,
            "validation.price",
            "A limit order needs a price.",
        ),
        (
            {"type": OrderType.STOP_LIMIT, "price": Decimal("1.2")},
            retcodes.INVALID,
            "validation.price",
            "A stop-limit order needs a stop_limit price",
        ),
    ],
    ids=["unknown", "not-traded", "filling", "volume-range", "volume-step", "no-price", "no-limit"],
)
async def test_what_the_instrument_or_account_forbids_is_refused_with_words(
    engine_factory: EngineFactory,
    fields: dict[str, object],
    retcode: int,
    rule: str,
    words: str,
) -> None:
    engine = await started(engine_factory)
    reason = await refused(engine, request("bad", **fields), retcode, rule)
    assert words in reason


async def test_prices_are_judged_against_the_live_quote(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)
    above = ask(engine) + Decimal("0.00100")
    reason = await refused(
        engine,
        request("limit-above", type=OrderType.LIMIT, price=above),
        retcodes.INVALID_PRICE,
        "validation.price",
    )
    assert f"A buy limit price must be below the ask ({ask(engine)})" in reason
    below = bid(engine) - Decimal("0.00100")
    reason = await refused(
        engine,
        request("stop-below", side=Side.SELL, type=OrderType.STOP, price=above),
        retcodes.INVALID_PRICE,
        "validation.price",
    )
    assert f"must be below the bid ({bid(engine)})" in reason
    placed = await engine.orders.place(
        request("stop-ok", side=Side.SELL, type=OrderType.STOP, price=below)
    )
    assert placed.retcode == retcodes.PLACED, placed.message


async def test_stops_keep_the_instruments_distance(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)
    # EURUSD's stops level is 10 points (0.00010) from where a long would close: the bid.
    wrong_side = bid(engine) + Decimal("0.00050")
    reason = await refused(
        engine, request("sl-above", sl=wrong_side), retcodes.INVALID_STOPS, "validation.stops"
    )
    assert reason == f"The SL {wrong_side} must be below {bid(engine)} by at least 0.00010."
    too_close = bid(engine) - Decimal("0.00005")
    await refused(
        engine, request("sl-close", sl=too_close), retcodes.INVALID_STOPS, "validation.stops"
    )
    far_enough = bid(engine) - Decimal("0.00010")
    assert (await engine.orders.place(request("sl-ok", sl=far_enough))).ok


async def test_an_order_the_free_margin_cannot_cover_is_refused(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    # account-003: 5,000 USD at 1:10; one BTCUSD lot needs about 6,500 USD.
    reason = await refused(
        engine,
        request("btc-1", account_id="account-003", symbol="BTCUSD", volume=Decimal("1")),
        retcodes.NO_MONEY,
        "validation.margin",
    )
    assert reason.startswith("Not enough money: the order needs ")
    assert reason.endswith("USD of margin and 5000.00 is free.")


async def test_on_a_netting_account_only_the_volume_beyond_the_position_needs_margin(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    gold = {"account_id": "account-002", "symbol": "XAUUSD"}
    # 25,000 USD at 1:50: 5 lots of gold (100 oz at about 2,350) take 23,500 of margin.
    assert (await engine.orders.place(request("gold-long", volume=Decimal("5"), **gold))).ok
    reverse_big = request("gold-rev-big", side=Side.SELL, volume=Decimal("5.5"), **gold)
    await refused(engine, reverse_big, retcodes.NO_MONEY, "validation.margin")
    close_all = request("gold-flat", side=Side.SELL, volume=Decimal("5"), **gold)
    assert (await engine.orders.place(close_all)).ok


async def test_a_close_names_an_open_position_and_at_most_its_volume(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    opened = await engine.orders.place(request("to-close"))
    assert opened.ok
    worker = engine.manager.get(ACCOUNT)  # type: ignore[union-attr]
    [position] = worker.broker.positions()  # type: ignore[union-attr]
    closing = {"side": Side.SELL, "position_ticket": position.ticket}
    reason = await refused(
        engine,
        request("close-too-much", volume=Decimal("0.20"), **closing),
        retcodes.INVALID_CLOSE_VOLUME,
        "validation.close",
    )
    assert reason == f"Cannot close 0.20 lots of position {position.ticket}: it holds 0.10."
    await refused(
        engine,
        request("close-wrong-side", side=Side.BUY, position_ticket=position.ticket),
        retcodes.INVALID,
        "validation.close",
    )
    assert (await engine.orders.place(request("close-ok", **closing))).ok


async def test_a_closed_market_refuses_new_orders(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)  # Monday 09:00 UTC
    instruments = engine.settings.instruments
    instruments["EURUSD"] = instruments["EURUSD"].model_copy(
        update={"trading_days": [0, 1, 2, 3, 4], "trading_hours": ["10:00-17:30"]}
    )
    reason = await refused(
        engine, request("closed"), retcodes.MARKET_CLOSED, "validation.market_closed"
    )
    assert reason == (
        "The EURUSD market is closed now (it trades 10:00-17:30 UTC on Mon, Tue, Wed, Thu, Fri)."
    )


async def test_strategies_orders_meet_the_same_validation(engine_factory: EngineFactory) -> None:
    engine = await started(engine_factory)
    worker = engine.manager.get(ACCOUNT)  # type: ignore[union-attr]
    order = request(
        "strategy-big", volume=Decimal("500"), source=OrderSource.STRATEGY, strategy_id="s-1"
    )
    result = await worker.send(order)
    assert result.retcode == retcodes.INVALID_VOLUME
    assert result.order is not None and result.order.rule == "validation.volume"


async def test_the_order_ticket_sees_the_verdict_before_sending(
    engine_factory: EngineFactory,
) -> None:
    engine = await started(engine_factory)
    check = engine.check_order(request("preview", volume=Decimal("0.015")))
    assert not check.passed
    assert (check.retcode, check.rule) == (retcodes.INVALID_VOLUME, "validation.volume")
    assert "volume step 0.01" in check.message
    assert await engine.store.ledger.order_by_client_id(ACCOUNT, "preview") is None
    assert engine.check_order(request("preview-ok")).passed
