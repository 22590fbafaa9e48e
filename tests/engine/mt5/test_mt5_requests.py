"""The request dictionaries sent to MT5, field by field, against the documented
MqlTradeRequest of each order kind; and the numbers against the real wheel's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.brokers import retcodes
from engine.brokers.mt5 import constants as mt5
from engine.brokers.mt5 import mapping
from engine.brokers.mt5.mapping import SymbolSpec
from engine.models import Filling, OrderType, Side

EURUSD = SymbolSpec("EURUSD", 5, Decimal("0.00001"), mt5.SYMBOL_FILLING_FOK, 4)


def test_market_buy_is_a_deal_at_the_ask_with_stops() -> None:
    request = mapping.market_request(
        symbol="EURUSD", side=Side.BUY, volume=Decimal("0.10"), price=Decimal("1.10010"),
        filling=mt5.ORDER_FILLING_FOK, deviation=20, magic=7, comment="td12 note",
        sl=Decimal("1.09000"), tp=Decimal("1.12000"),
    )  # fmt: skip
    assert request == {
        "action": 1,  # TRADE_ACTION_DEAL
        "symbol": "EURUSD",
        "volume": 0.1,
        "type": 0,  # ORDER_TYPE_BUY
        "price": 1.1001,
        "deviation": 20,
        "magic": 7,
        "comment": "td12 note",
        "type_time": 0,  # ORDER_TIME_GTC
        "type_filling": 0,  # ORDER_FILLING_FOK
        "sl": 1.09,
        "tp": 1.12,
    }


def test_closing_a_position_is_an_opposite_deal_naming_it_without_stops() -> None:
    request = mapping.market_request(
        symbol="EURUSD", side=Side.SELL, volume=Decimal("0.10"), price=Decimal("1.10000"),
        filling=mt5.ORDER_FILLING_IOC, deviation=10, magic=7, comment="td13",
        sl=Decimal("1.0"), position=500001,
    )  # fmt: skip
    assert request == {
        "action": 1,
        "symbol": "EURUSD",
        "volume": 0.1,
        "type": 1,  # ORDER_TYPE_SELL
        "price": 1.1,
        "deviation": 10,
        "magic": 7,
        "comment": "td13",
        "type_time": 0,
        "type_filling": 1,  # ORDER_FILLING_IOC
        "position": 500001,
    }


@pytest.mark.parametrize(
    ("side", "kind", "code"),
    [
        (Side.BUY, OrderType.LIMIT, 2),
        (Side.SELL, OrderType.LIMIT, 3),
        (Side.BUY, OrderType.STOP, 4),
        (Side.SELL, OrderType.STOP, 5),
    ],
)
def test_limit_and_stop_orders_are_pending_requests(side: Side, kind: OrderType, code: int) -> None:
    request = mapping.pending_request(
        symbol="EURUSD", side=side, type=kind, volume=Decimal("1"), price=Decimal("1.09500"),
        filling=mt5.ORDER_FILLING_RETURN, magic=7, comment="td14", tp=Decimal("1.2"),
    )  # fmt: skip
    assert request == {
        "action": 5,  # TRADE_ACTION_PENDING
        "symbol": "EURUSD",
        "volume": 1.0,
        "type": code,
        "price": 1.095,
        "magic": 7,
        "comment": "td14",
        "type_time": 0,
        "type_filling": 2,  # ORDER_FILLING_RETURN
        "tp": 1.2,
    }


def test_a_stop_limit_order_carries_its_limit_in_stoplimit() -> None:
    request = mapping.pending_request(
        symbol="EURUSD", side=Side.SELL, type=OrderType.STOP_LIMIT, volume=Decimal("0.5"),
        price=Decimal("1.09000"), stop_limit=Decimal("1.09200"),
        filling=mt5.ORDER_FILLING_RETURN, magic=7, comment="td15",
    )  # fmt: skip
    assert request["action"] == mt5.TRADE_ACTION_PENDING
    assert request["type"] == 7  # ORDER_TYPE_SELL_STOP_LIMIT
    assert (request["price"], request["stoplimit"]) == (1.09, 1.092)
    assert "sl" not in request and "tp" not in request
    with pytest.raises(ValueError, match="stop_limit"):
        mapping.pending_request(
            symbol="EURUSD", side=Side.BUY, type=OrderType.STOP_LIMIT, volume=Decimal(1),
            price=Decimal(1), filling=2, magic=0, comment="",
        )  # fmt: skip


def test_sl_tp_modify_cancel_and_modify_pending() -> None:
    assert mapping.sltp_request(
        position=9, symbol="EURUSD", sl=Decimal("1.09"), tp=None, magic=7
    ) == {"action": 6, "position": 9, "symbol": "EURUSD", "sl": 1.09, "tp": 0.0, "magic": 7}
    assert mapping.remove_request(order=11) == {"action": 8, "order": 11}
    assert mapping.modify_request(
        order=11, price=Decimal("1.1"), sl=None, tp=Decimal("1.2"), stop_limit=Decimal("1.15")
    ) == {
        "action": 7,  # TRADE_ACTION_MODIFY
        "order": 11,
        "price": 1.1,
        "sl": 0.0,
        "tp": 1.2,
        "type_time": 0,
        "stoplimit": 1.15,
    }


def test_filling_follows_the_symbols_filling_mode() -> None:
    fok_only = EURUSD
    ioc_only = SymbolSpec("X", 5, Decimal("0.00001"), mt5.SYMBOL_FILLING_IOC, 4)
    neither = SymbolSpec("Y", 2, Decimal("0.01"), 0, 4)
    assert fok_only.filling(Filling.IOC, pending=False) == mt5.ORDER_FILLING_FOK
    assert ioc_only.filling(Filling.FOK, pending=False) == mt5.ORDER_FILLING_IOC
    assert ioc_only.filling(Filling.IOC, pending=False) == mt5.ORDER_FILLING_IOC
    assert neither.filling(Filling.FOK, pending=False) == mt5.ORDER_FILLING_RETURN
    assert fok_only.filling(Filling.IOC, pending=True) == mt5.ORDER_FILLING_RETURN


def test_the_comment_tag_round_trips_within_mt5s_31_characters() -> None:
    comment = mapping.tagged_comment(1234567, "a rather long comment from the trader")
    assert len(comment) == 31 and mapping.tagged_ticket(comment) == 1234567
    assert mapping.user_comment("td7 hello") == "hello"
    assert mapping.tagged_ticket("[sl 1.09]") is None and mapping.tagged_ticket("td") is None


def test_the_numbers_are_the_wheels() -> None:
    # MetaTrader5 5.0.6231, MetaTrader5/__init__.py
    assert (mt5.TRADE_ACTION_DEAL, mt5.TRADE_ACTION_PENDING, mt5.TRADE_ACTION_SLTP) == (1, 5, 6)
    assert (mt5.TRADE_ACTION_MODIFY, mt5.TRADE_ACTION_REMOVE, mt5.TRADE_ACTION_CLOSE_BY) == (
        7,
        8,
        10,
    )
    assert (mt5.ORDER_FILLING_FOK, mt5.ORDER_FILLING_IOC, mt5.ORDER_FILLING_RETURN) == (0, 1, 2)
    assert (mt5.TIMEFRAME_H1, mt5.TIMEFRAME_D1) == (16385, 16408)
    assert (mt5.RES_E_AUTH_FAILED, mt5.RES_E_INTERNAL_FAIL_TIMEOUT) == (-6, -10005)
    assert (retcodes.REQUOTE, retcodes.CLIENT_DISABLES_AT, retcodes.FIFO_CLOSE) == (
        10004,
        10027,
        10045,
    )
