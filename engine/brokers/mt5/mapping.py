"""Between tradedeck's models and MetaTrader 5's structures: request
dictionaries with MT5's field names and numbers (MqlTradeRequest), and the
terminal's records (TradePosition, TradeOrder, TradeDeal, AccountInfo, Tick)
as our orders, fills, positions, accounts and quotes.

Every request tradedeck sends carries its order's engine ticket in `comment`
(`td123 ...`) next to the account's `magic`: that is how an order whose
answer was lost is found again on the terminal, and how positions and deals
are matched to our tickets after a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from engine.brokers.mt5 import constants as mt5
from engine.models import DealEntry, Filling, OrderType, Side

Record = dict[str, Any]
"""One terminal record as the bridge delivers it: field name -> value."""

COMMENT_LENGTH = 31  # MT5 cuts comments longer than this
_TAG = re.compile(r"^td(\d+)(?:\s|$)")

_MARKET_TYPES = {Side.BUY: mt5.ORDER_TYPE_BUY, Side.SELL: mt5.ORDER_TYPE_SELL}
_PENDING_TYPES = {
    (Side.BUY, OrderType.LIMIT): mt5.ORDER_TYPE_BUY_LIMIT,
    (Side.SELL, OrderType.LIMIT): mt5.ORDER_TYPE_SELL_LIMIT,
    (Side.BUY, OrderType.STOP): mt5.ORDER_TYPE_BUY_STOP,
    (Side.SELL, OrderType.STOP): mt5.ORDER_TYPE_SELL_STOP,
    (Side.BUY, OrderType.STOP_LIMIT): mt5.ORDER_TYPE_BUY_STOP_LIMIT,
    (Side.SELL, OrderType.STOP_LIMIT): mt5.ORDER_TYPE_SELL_STOP_LIMIT,
}
_ORDER_KINDS = {code: kind for kind, code in _PENDING_TYPES.items()} | {
    mt5.ORDER_TYPE_BUY: (Side.BUY, OrderType.MARKET),
    mt5.ORDER_TYPE_SELL: (Side.SELL, OrderType.MARKET),
}
_FILLINGS = {
    Filling.FOK: mt5.ORDER_FILLING_FOK,
    Filling.IOC: mt5.ORDER_FILLING_IOC,
    Filling.RETURN: mt5.ORDER_FILLING_RETURN,
}
_SYMBOL_FLAGS = {Filling.FOK: mt5.SYMBOL_FILLING_FOK, Filling.IOC: mt5.SYMBOL_FILLING_IOC}
_ENTRIES = {
    mt5.DEAL_ENTRY_IN: DealEntry.IN,
    mt5.DEAL_ENTRY_OUT: DealEntry.OUT,
    mt5.DEAL_ENTRY_INOUT: DealEntry.INOUT,
    mt5.DEAL_ENTRY_OUT_BY: DealEntry.OUT,
}


# --- tags -------------------------------------------------------------------------------


def tagged_comment(ticket: int, comment: str = "") -> str:
    """`td<ticket>`, then as much of the trader's comment as MT5 keeps."""
    text = f"td{ticket} {comment}".strip() if comment else f"td{ticket}"
    return text[:COMMENT_LENGTH]


def tagged_ticket(comment: str | None) -> int | None:
    """The engine ticket a terminal comment carries, or None."""
    match = _TAG.match(comment or "")
    return int(match.group(1)) if match else None


def user_comment(comment: str | None) -> str:
    """The comment without our tag."""
    return _TAG.sub("", comment or "", count=1).strip()


# --- symbols -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What requests need of a terminal symbol (symbol_info)."""

    name: str
    digits: int
    point: Decimal
    filling_mode: int  # SYMBOL_FILLING_* flags
    trade_mode: int

    @classmethod
    def of(cls, info: Record) -> SymbolSpec:
        return cls(
            name=str(info["name"]),
            digits=int(info["digits"]),
            point=decimal(info["point"], int(info["digits"])),
            filling_mode=int(info.get("filling_mode", 0)),
            trade_mode=int(info.get("trade_mode", mt5.SYMBOL_TRADE_MODE_FULL)),
        )

    def price(self, value: float | None) -> Decimal | None:
        return None if value is None or value == 0 else decimal(value, self.digits)

    def filling(self, requested: Filling, *, pending: bool) -> int:
        """The ORDER_FILLING_* a request uses: the requested mode when the symbol
        allows it, else the first the symbol allows (FOK, then IOC), else RETURN.
        Pending orders rest in the book, so they may always RETURN."""
        if requested is Filling.RETURN and pending:
            return mt5.ORDER_FILLING_RETURN
        flag = _SYMBOL_FLAGS.get(requested)
        if flag is not None and self.filling_mode & flag:
            return _FILLINGS[requested]
        if pending:
            return mt5.ORDER_FILLING_RETURN
        for mode in (Filling.FOK, Filling.IOC):
            if self.filling_mode & _SYMBOL_FLAGS[mode]:
                return _FILLINGS[mode]
        return mt5.ORDER_FILLING_RETURN


# --- requests (MqlTradeRequest) ---------------------------------------------------------


def market_request(
    *,
    symbol: str,
    side: Side,
    volume: Decimal,
    price: Decimal,
    filling: int,
    deviation: int,
    magic: int,
    comment: str,
    sl: Decimal | None = None,
    tp: Decimal | None = None,
    position: int | None = None,
) -> Record:
    """TRADE_ACTION_DEAL: buy at the ask or sell at the bid, within `deviation`
    points; with `position`, the deal closes (part of) that position."""
    request: Record = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": float(volume),
        "type": _MARKET_TYPES[side],
        "price": float(price),
        "deviation": deviation,
        "magic": magic,
        "comment": comment,
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": filling,
    }
    if position is not None:
        request["position"] = position
    else:
        _stops(request, sl, tp)
    return request


def pending_request(
    *,
    symbol: str,
    side: Side,
    type: OrderType,
    volume: Decimal,
    price: Decimal,
    filling: int,
    magic: int,
    comment: str,
    stop_limit: Decimal | None = None,
    sl: Decimal | None = None,
    tp: Decimal | None = None,
) -> Record:
    """TRADE_ACTION_PENDING: a limit, stop or stop-limit order resting at `price`
    (a stop-limit places a limit at `stoplimit` once `price` is reached)."""
    request: Record = {
        "action": mt5.TRADE_ACTION_PENDING,
        "symbol": symbol,
        "volume": float(volume),
        "type": _PENDING_TYPES[(side, type)],
        "price": float(price),
        "magic": magic,
        "comment": comment,
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": filling,
    }
    if type is OrderType.STOP_LIMIT:
        if stop_limit is None:
            raise ValueError("a stop-limit order needs a stop_limit price")
        request["stoplimit"] = float(stop_limit)
    _stops(request, sl, tp)
    return request


def sltp_request(
    *, position: int, symbol: str, sl: Decimal | None, tp: Decimal | None, magic: int
) -> Record:
    """TRADE_ACTION_SLTP: new stop loss and take profit of an open position
    (0 removes one)."""
    return {
        "action": mt5.TRADE_ACTION_SLTP,
        "position": position,
        "symbol": symbol,
        "sl": float(sl or 0),
        "tp": float(tp or 0),
        "magic": magic,
    }


def modify_request(
    *,
    order: int,
    price: Decimal,
    sl: Decimal | None,
    tp: Decimal | None,
    stop_limit: Decimal | None = None,
) -> Record:
    """TRADE_ACTION_MODIFY: a pending order's new price and stops."""
    request: Record = {
        "action": mt5.TRADE_ACTION_MODIFY,
        "order": order,
        "price": float(price),
        "sl": float(sl or 0),
        "tp": float(tp or 0),
        "type_time": mt5.ORDER_TIME_GTC,
    }
    if stop_limit is not None:
        request["stoplimit"] = float(stop_limit)
    return request


def remove_request(*, order: int) -> Record:
    """TRADE_ACTION_REMOVE: delete a pending order."""
    return {"action": mt5.TRADE_ACTION_REMOVE, "order": order}


def _stops(request: Record, sl: Decimal | None, tp: Decimal | None) -> None:
    if sl is not None:
        request["sl"] = float(sl)
    if tp is not None:
        request["tp"] = float(tp)


# --- records -----------------------------------------------------------------------------


def decimal(value: float | int | str, digits: int) -> Decimal:
    """A terminal float as a Decimal with `digits` places (floats carry noise)."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN)


def money(value: float | int) -> Decimal:
    return decimal(value, 2)


def volume(value: float) -> Decimal:
    return decimal(value, 8).normalize() if value else Decimal(0)


def moment(record: Record, field: str = "time") -> datetime:
    """A record's time: `<field>_msc` when present (milliseconds), else seconds."""
    msc = record.get(f"{field}_msc")
    if msc:
        return datetime.fromtimestamp(int(msc) / 1000, UTC)
    return datetime.fromtimestamp(int(record.get(field) or 0), UTC)


def position_side(record: Record) -> Side:
    return Side.BUY if int(record["type"]) == mt5.POSITION_TYPE_BUY else Side.SELL


def deal_side(record: Record) -> Side:
    return Side.BUY if int(record["type"]) == mt5.DEAL_TYPE_BUY else Side.SELL


def deal_entry(record: Record) -> DealEntry:
    return _ENTRIES[int(record["entry"])]


def is_trade_deal(record: Record) -> bool:
    """Buys and sells; balance, credit and charge deals are not trades."""
    return int(record["type"]) in (mt5.DEAL_TYPE_BUY, mt5.DEAL_TYPE_SELL)


def order_kind(record: Record) -> tuple[Side, OrderType] | None:
    """(side, type) of a TradeOrder; None for kinds tradedeck does not place."""
    return _ORDER_KINDS.get(int(record["type"]))
