"""The validation check: an order the account or its instrument cannot take is
refused at the pre-trade gate, before any broker hears of it, with the MT5
retcode a trade server would give and a sentence naming the problem and what
is allowed. It judges every broker's orders the same way (the paper broker
repeats these rules itself; an MT5 terminal has its own), by the instrument
rules of `engine.orders.rules`.

In order: the symbol is known (10013) and traded by the account (10017), the
filling mode (10030) and the volume (10014) are allowed, a close names an open
position it can close (10013/10038), a pending order has its prices (10013),
the market is open (10018) and quoted (10021), pending prices sit on the right
side of it (10015), SL/TP keep the stops distance (10016), and the free margin
covers the margin the order adds (10019).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal

from config.models import AccountConfig, InstrumentConfig
from engine.brokers import retcodes
from engine.domain import MarginMode
from engine.models import OrderRequest, OrderType, Quote, Side
from engine.orders.gate import OrderContext, Rejection
from engine.orders.rules import (
    SymbolRules,
    filling_problem,
    pending_problem,
    rounded_prices,
    stops_problem,
    volume_problem,
)

VALIDATION_CHECK = "validation"
VALIDATION_RANK = 100  # after the kill switch (0) and the live-mode guard (10), before risk (200)

_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_TWO = Decimal(2)
_SHOWN_SYMBOLS = 8  # an unknown symbol's refusal names at most this many known ones


class OrderValidation:
    """The gate check (call it with an `OrderContext`). `accounts` finds an
    account's configuration; `quote` gives any symbol's latest quote, to convert
    margin into the account currency when the broker does not quote the pair."""

    def __init__(
        self,
        accounts: Callable[[str], AccountConfig | None],
        quote: Callable[[str], Quote | None],
    ) -> None:
        self._accounts = accounts
        self._quote = quote
        # Converted once per instrument; an edited instrument is a new object.
        self._rules: dict[str, tuple[InstrumentConfig, SymbolRules]] = {}

    def __call__(self, context: OrderContext) -> Rejection | None:
        request = context.request
        symbol = request.symbol
        instrument = context.instrument
        account = self._accounts(request.account_id)
        if instrument is None:
            return _refuse(retcodes.INVALID, "symbol", self._unknown(symbol, account))
        if account is not None and symbol not in account.symbols and not context.closing:
            traded = ", ".join(account.symbols) or "nothing"
            return _refuse(
                retcodes.TRADE_DISABLED,
                "trade_disabled",
                f"Account {request.account_id} does not trade {symbol} (it trades {traded}).",
            )
        rules = self._rules_of(symbol, instrument)
        problem = filling_problem(request, rules)
        if problem is not None:
            return _refuse(retcodes.INVALID_FILL, "filling", problem)
        problem = volume_problem(request.volume, rules)
        if problem is not None:
            return _refuse(retcodes.INVALID_VOLUME, "volume", problem)
        rejection = _close_problem(context) if context.closing else _missing_price(request)
        if rejection is not None:
            return rejection
        if not rules.is_open(context.now):
            return _refuse(
                retcodes.MARKET_CLOSED,
                "market_closed",
                f"The {symbol} market is closed now (it trades {_hours(instrument)}).",
            )
        quote = context.quote
        if quote is None:
            return _refuse(retcodes.PRICE_OFF, "quote", f"There is no quote for {symbol} yet.")
        if context.closing:
            return None  # a close takes the market price and frees margin
        return self._priced(context, account, rules, quote)

    # --- helpers -----------------------------------------------------------------

    def _priced(
        self,
        context: OrderContext,
        account: AccountConfig | None,
        rules: SymbolRules,
        quote: Quote,
    ) -> Rejection | None:
        """Pending prices against the market, SL/TP against the stops level, margin."""
        request = context.request
        buy = request.side is Side.BUY
        prices = rounded_prices(request, rules)
        if request.type is OrderType.MARKET:
            entry = quote.ask if buy else quote.bid
            reference = quote.bid if buy else quote.ask  # where the position would close
        else:
            problem = pending_problem(request, prices, quote, rules)
            if problem is not None:
                return _refuse(retcodes.INVALID_PRICE, "price", problem)
            pending = prices["stop_limit"] or prices["price"]
            assert pending is not None  # `_missing_price` let it through
            entry = reference = pending
        problem = stops_problem(request.side, reference, prices["sl"], prices["tp"], rules)
        if problem is not None:
            return _refuse(retcodes.INVALID_STOPS, "stops", problem)
        return self._margin(context, account, rules, entry)

    def _margin(
        self,
        context: OrderContext,
        account: AccountConfig | None,
        rules: SymbolRules,
        entry: Decimal,
    ) -> Rejection | None:
        """Refuse when the margin the order adds (volume x contract size x entry /
        leverage, in the account currency) is above the free margin. On a netting
        account only the volume beyond an opposite position adds margin. An order
        that cannot be priced (no pair to convert its currency) is left to the broker."""
        request = context.request
        volume = request.volume
        if account is not None and account.margin_mode is MarginMode.NETTING:
            holding = context.holdings.get(request.symbol)
            held = _ZERO if holding is None else holding.net
            if held and (held > 0) != (request.side is Side.BUY):
                volume = max(_ZERO, volume - abs(held))
        if not volume:
            return None
        funds = context.funds
        rate = self._rate(context, rules.profit_currency, funds.currency)
        if rate is None or funds.leverage <= 0:
            return None
        required = (volume * rules.contract_size * entry * rate / funds.leverage).quantize(
            _CENT, ROUND_HALF_EVEN
        )
        free = funds.free_margin
        if required <= free:
            return None
        return _refuse(
            retcodes.NO_MONEY,
            "margin",
            f"Not enough money: the order needs {required} {funds.currency} of margin "
            f"and {free.quantize(_CENT, ROUND_HALF_EVEN)} is free.",
        )

    def _rate(self, context: OrderContext, currency: str, into: str) -> Decimal | None:
        """One `currency` in `into`, at the mid of the direct pair or the inverse of
        the reverse pair, as the account's broker quotes them (else the engine)."""
        if currency == into:
            return Decimal(1)
        direct = self._mid(context, currency + into)
        if direct is not None:
            return direct
        inverse = self._mid(context, into + currency)
        return None if inverse is None else 1 / inverse

    def _mid(self, context: OrderContext, symbol: str) -> Decimal | None:
        quote = context.broker.last_quote(symbol) or self._quote(symbol)
        return None if quote is None else (quote.bid + quote.ask) / _TWO

    def _rules_of(self, symbol: str, instrument: InstrumentConfig) -> SymbolRules:
        cached = self._rules.get(symbol)
        if cached is not None and cached[0] is instrument:
            return cached[1]
        rules = SymbolRules.of(instrument)
        self._rules[symbol] = (instrument, rules)
        return rules

    @staticmethod
    def _unknown(symbol: str, account: AccountConfig | None) -> str:
        if account is None or not account.symbols:
            return f"{symbol} is not a known instrument."
        shown = account.symbols[:_SHOWN_SYMBOLS]
        more = ", ..." if len(account.symbols) > _SHOWN_SYMBOLS else ""
        return (
            f"{symbol} is not a known instrument; account {account.id} trades "
            f"{', '.join(shown)}{more}."
        )


def _refuse(retcode: int, rule: str, message: str) -> Rejection:
    return Rejection(retcode, message, f"{VALIDATION_CHECK}.{rule}")


def _missing_price(request: OrderRequest) -> Rejection | None:
    if request.type is OrderType.MARKET:
        return None
    if request.price is None:
        name = request.type.value.replace("_", "-")
        return _refuse(retcodes.INVALID, "price", f"A {name} order needs a price.")
    if request.type is OrderType.STOP_LIMIT and request.stop_limit is None:
        return _refuse(
            retcodes.INVALID,
            "price",
            "A stop-limit order needs a stop_limit price (the limit price once the stop is hit).",
        )
    return None


def _close_problem(context: OrderContext) -> Rejection | None:
    """A close names an open position of the same symbol, on the other side, by a
    market order of at most its volume."""
    request = context.request
    ticket = request.position_ticket
    position = context.position
    if position is None:
        return _refuse(retcodes.INVALID, "close", f"There is no open position {ticket}.")
    if request.type is not OrderType.MARKET:
        return _refuse(retcodes.INVALID, "close", "A position is closed by a market order.")
    if position.symbol != request.symbol or position.side is not request.side.opposite:
        return _refuse(
            retcodes.INVALID,
            "close",
            f"Position {ticket} is {position.side.value} {position.symbol}; only a "
            f"{position.side.opposite.value} {position.symbol} order closes it.",
        )
    if request.volume > position.volume:
        return _refuse(
            retcodes.INVALID_CLOSE_VOLUME,
            "close",
            f"Cannot close {request.volume} lots of position {ticket}: it holds {position.volume}.",
        )
    return None


def _hours(instrument: InstrumentConfig) -> str:
    """ "08:00-17:30 UTC, Mon to Fri" style, for a closed market's refusal."""
    hours = ", ".join(instrument.trading_hours)
    if len(set(instrument.trading_days)) == 7:
        return f"{hours} UTC, every day"
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return f"{hours} UTC on {', '.join(names[d] for d in sorted(set(instrument.trading_days)))}"
