"""A simulated broker account with MetaTrader 5's semantics.

Market orders fill at the ask (buy) or bid (sell) of the last quote; limit,
stop and stop-limit orders rest until a quote crosses them; SL/TP close
positions; the account hedges (a position per order) or nets (a position per
symbol); margin, commission, currency conversion and stop-out behave as on an
MT5 server, and refusals carry MT5's retcodes. The broker never writes
anywhere: every change comes back as `Changes` for the worker to store.

Quotes are read from `quote_source` (the engine's latest quotes), and only
quotes that reach a symbol's `trigger_band` need to be given to `on_quote`, so
most ticks never reach the broker. Stop-out is checked after every fill and
whenever `check_stop_out` is called (the engine does at every mark), not on
every tick as an MT5 server does: a falling margin level is caught within one
mark interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from config.models import AccountConfig, InstrumentConfig
from engine.brokers import retcodes
from engine.brokers.base import (
    Changes,
    Funds,
    Holding,
    PaperLedger,
    TradeResult,
    TriggerBand,
    new_order,
)
from engine.clock import Clock
from engine.domain import BrokerKind, MarginMode
from engine.models import (
    AccountSnapshot,
    DealEntry,
    Fill,
    Order,
    OrderRequest,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Side,
)
from engine.orders.rules import (
    SymbolRules,
    filling_problem,
    pending_problem,
    round_price,
    rounded_prices,
    stops_problem,
    volume_problem,
)

STOP_OUT_LEVEL = Decimal(50)  # margin level in % below which positions are closed

_CENT = Decimal("0.01")
_NO_PROFIT = Decimal("0.00")
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_TWO = Decimal(2)
_INF = Decimal("Infinity")
_BUY, _SELL = Side.BUY, Side.SELL


class PaperBroker:
    """One paper account. `on_quote` is the hot path; the rest runs per order."""

    kind = BrokerKind.PAPER

    def __init__(
        self,
        account: AccountConfig,
        instruments: Mapping[str, InstrumentConfig],
        clock: Clock,
        tickets: Callable[[], int],
        ledger: PaperLedger | None = None,
        *,
        quote_source: Callable[[str], Quote | None],
        on_band: Callable[[str], None] | None = None,
    ) -> None:
        """`tickets` numbers orders and deals alike; `ledger` is the state storage
        saved (a fresh account when None); `quote_source` gives the latest quote
        of any symbol (fills, marks and currency conversion); `on_band` is told
        the symbol whose `trigger_band` changed."""
        self.account_id = account.id
        self._config = account
        self._netting = account.margin_mode is MarginMode.NETTING
        self._leverage = Decimal(account.leverage)
        self._clock = clock
        self._tickets = tickets
        self._quote = quote_source
        self._on_band = on_band
        ledger = ledger or PaperLedger(balance=account.starting_balance)
        self._tradable = frozenset(account.symbols)
        # Restored positions and orders stay manageable even in a symbol the
        # account no longer lists, as long as the instrument is configured.
        held = {p.symbol for p in ledger.positions} | {o.symbol for o in ledger.orders}
        unknown = sorted(held - set(instruments))
        if unknown:
            raise ValueError(
                f"Account {account.id} holds positions or orders in {', '.join(unknown)}, "
                "which no longer have an instrument configured."
            )
        self._specs = {
            symbol: SymbolRules.of(instruments[symbol])
            for symbol in self._tradable | held
            if symbol in instruments
        }
        self._balance = ledger.balance
        self._realised = ledger.realised_pnl
        self._commission = ledger.commission
        self._realised_today = ledger.realised_today
        self._day = _utc_date(clock.now())
        self._rates: dict[str, Decimal] = {}  # last known rate per profit currency
        self._positions: dict[int, _Open] = {}
        self._orders: dict[int, Order] = {}
        self._books: dict[str, _Book] = {}  # only symbols with positions or orders
        self._holdings: dict[str, Holding] = {}  # only symbols with positions
        self._client_ids: set[str] = set()
        self._closed: set[int] = set()
        for position in ledger.positions:
            self._positions[position.ticket] = _Open.restore(position)
        for order in ledger.orders:
            self._orders[order.ticket] = order
            self._client_ids.add(order.client_order_id)
        for symbol in held:
            self._refresh(symbol)

    async def connect(self) -> None:
        """A paper account is always reachable."""

    async def disconnect(self) -> None:
        """Nothing to release; the ledger lives in the store."""

    # --- the hot path ------------------------------------------------------------

    def on_quote(self, quote: Quote) -> Changes | None:
        """Fire the SL/TP and pending orders `quote` reaches (then stop-out if the
        fills leave the margin level too low); None when it reaches nothing."""
        book = self._books.get(quote.symbol)
        if book is None or book.band is None or not book.band.reached(quote.bid, quote.ask):
            return None
        return self._on_trigger(book, quote)

    def trigger_band(self, symbol: str) -> TriggerBand | None:
        """The levels of `symbol`'s SL/TP and pending orders; None when it has none."""
        book = self._books.get(symbol)
        return None if book is None else book.band

    def check_stop_out(self) -> Changes | None:
        """Close the most losing positions while the margin level is below
        STOP_OUT_LEVEL, at the latest quotes."""
        if not self._positions:
            return None
        changes = Changes()
        self._stop_out(self._clock.now(), changes)
        return changes or None

    # --- requests ------------------------------------------------------------------

    async def send_order(self, request: OrderRequest) -> TradeResult:
        return self._send(request, self._tickets())

    async def cancel_order(self, ticket: int) -> TradeResult:
        order = self._orders.pop(ticket, None)
        if order is None:
            return TradeResult(retcodes.INVALID, f"There is no open order {ticket}.", None)
        now = self._clock.now()
        order = order.model_copy(
            update={
                "status": OrderStatus.CANCELLED,
                "retcode": retcodes.DONE,
                "reason": "cancelled",
                "updated_at": now,
            }
        )
        self._refresh(order.symbol)
        return TradeResult(retcodes.DONE, f"Order {ticket} cancelled.", order, Changes([order]))

    async def modify_order(
        self,
        ticket: int,
        price: Decimal,
        sl: Decimal | None,
        tp: Decimal | None,
        stop_limit: Decimal | None = None,
    ) -> TradeResult:
        """New prices for pending order `ticket` (MT5's TRADE_ACTION_MODIFY): checked
        against the market as a new order would be."""
        order = self._orders.get(ticket)
        if order is None:
            return TradeResult(retcodes.INVALID, f"There is no open order {ticket}.", None)
        spec = self._specs[order.symbol]
        quote = self._quote(order.symbol)
        if quote is None:
            return TradeResult(retcodes.PRICE_OFF, f"There is no quote for {order.symbol}.", None)
        request = OrderRequest(
            account_id=self.account_id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            volume=order.volume,
            price=price,
            stop_limit=stop_limit if order.type is OrderType.STOP_LIMIT else None,
            sl=sl,
            tp=tp,
            client_order_id=order.client_order_id,
        )
        if request.type is OrderType.STOP_LIMIT and request.stop_limit is None:
            return TradeResult(retcodes.INVALID, "A stop-limit order needs a stop_limit.", None)
        prices = rounded_prices(request, spec)
        problem = pending_problem(request, prices, quote, spec)
        if problem is not None:
            return TradeResult(retcodes.INVALID_PRICE, problem, None)
        reference = prices["stop_limit"] or prices["price"]
        assert reference is not None
        problem = stops_problem(order.side, reference, prices["sl"], prices["tp"], spec)
        if problem is not None:
            return TradeResult(retcodes.INVALID_STOPS, problem, None)
        update = {k: prices[k] for k in ("price", "stop_limit", "sl", "tp")}
        if all(getattr(order, k) == v for k, v in update.items()):
            message = f"Order {ticket} already has these prices."
            return TradeResult(retcodes.NO_CHANGES, message, order)
        order = order.model_copy(update={**update, "updated_at": self._clock.now()})
        self._orders[ticket] = order
        self._refresh(order.symbol)
        return TradeResult(retcodes.DONE, f"Order {ticket} modified.", order, Changes([order]))

    async def modify_position(
        self, ticket: int, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        """New SL/TP for open position `ticket` (MT5's TRADE_ACTION_SLTP; None removes one)."""
        position = self._positions.get(ticket)
        if position is None:
            return TradeResult(retcodes.INVALID, f"There is no open position {ticket}.", None)
        spec = self._specs[position.symbol]
        quote = self._quote(position.symbol)
        if quote is None:
            message = f"There is no quote for {position.symbol}."
            return TradeResult(retcodes.PRICE_OFF, message, None)
        reference = quote.bid if position.side is _BUY else quote.ask  # where it would close
        sl, tp = round_price(sl, spec), round_price(tp, spec)
        problem = stops_problem(position.side, reference, sl, tp, spec)
        if problem is not None:
            return TradeResult(retcodes.INVALID_STOPS, problem, None)
        if (position.sl, position.tp) == (sl, tp):
            message = f"Position {ticket} already has these stops."
            return TradeResult(retcodes.NO_CHANGES, message, None)
        position.sl, position.tp = sl, tp
        self._refresh(position.symbol)
        changes = Changes(positions=[self._mark(position)])
        return TradeResult(retcodes.DONE, f"Position {ticket} stops modified.", None, changes)

    async def close_position(self, ticket: int, volume: Decimal | None = None) -> TradeResult:
        """Close all of position `ticket`, or `volume` of it, by an opposite market deal."""
        position = self._positions.get(ticket)
        if position is None:
            if ticket in self._closed:
                return TradeResult(
                    retcodes.POSITION_CLOSED, f"Position {ticket} is already closed.", None
                )
            return TradeResult(retcodes.INVALID, f"There is no open position {ticket}.", None)
        order_ticket = self._tickets()
        spec = self._specs[position.symbol]
        request = OrderRequest(
            account_id=self.account_id,
            symbol=position.symbol,
            side=position.side.opposite,
            volume=position.volume if volume is None else volume,
            filling=spec.default_filling,
            client_order_id=f"close-{order_ticket}",
            strategy_id=position.strategy_id,
            position_ticket=ticket,
            magic=position.magic,
        )
        return self._send(request, order_ticket)

    # --- reading -------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        now = self._clock.now()
        self._roll_day(now)
        unrealised, margin = self._exposure()
        equity = self._balance + unrealised
        level = (equity / margin * _HUNDRED).quantize(_CENT) if margin else None
        return AccountSnapshot(
            account_id=self.account_id,
            broker=BrokerKind.PAPER,
            currency=self._config.currency,
            leverage=self._config.leverage,
            starting_balance=self._config.starting_balance,
            balance=self._balance,
            equity=equity,
            margin=margin,
            free_margin=equity - margin,
            margin_level=level,
            realised_pnl=self._realised,
            unrealised_pnl=unrealised,
            commission=self._commission,
            pnl_today=self._realised_today + unrealised,
            open_positions=len(self._positions),
            pending_orders=len(self._orders),
            time=now,
        )

    def positions(self) -> list[Position]:
        return [self._mark(p) for p in sorted(self._positions.values(), key=_ticket)]

    def position(self, ticket: int) -> Position | None:
        position = self._positions.get(ticket)
        return None if position is None else self._mark(position)

    def funds(self) -> Funds:
        unrealised, margin = self._exposure()
        equity = self._balance + unrealised
        config = self._config
        return Funds(config.currency, config.leverage, equity, equity - margin)

    def holdings(self) -> Mapping[str, Holding]:
        return self._holdings

    def open_orders(self) -> list[Order]:
        return sorted(self._orders.values(), key=_ticket)

    def last_quote(self, symbol: str) -> Quote | None:
        return self._quote(symbol)

    # --- placing orders --------------------------------------------------------------

    def _send(self, request: OrderRequest, ticket: int) -> TradeResult:
        now = self._clock.now()
        if request.client_order_id in self._client_ids:
            # Not recorded: the store keeps one order per client_order_id.
            message = f"An order with client_order_id {request.client_order_id!r} exists."
            return TradeResult(retcodes.INVALID, message, None)
        self._client_ids.add(request.client_order_id)
        order = new_order(request, self.account_id, ticket, now)
        spec = self._specs.get(request.symbol)
        problem = self._check(request, spec, now)
        if problem is not None:
            retcode, reason = problem
            return self._reject(order, retcode, reason, now)
        assert spec is not None  # `_check` refuses unknown symbols
        order = order.model_copy(update=rounded_prices(request, spec))
        if order.type is OrderType.MARKET:
            quote = self._quote(order.symbol)
            assert quote is not None  # `_check` refuses a symbol without a quote
            changes = Changes()
            order = self._execute(order, spec, quote, now, changes)
            self._stop_out(now, changes)
            return TradeResult(retcodes.DONE, "Request completed.", order, changes)
        order = order.model_copy(update={"status": OrderStatus.PLACED, "retcode": retcodes.PLACED})
        self._orders[ticket] = order
        self._refresh(order.symbol)
        return TradeResult(retcodes.PLACED, "Order placed.", order, Changes([order]))

    def _check(
        self, request: OrderRequest, spec: SymbolRules | None, now: datetime
    ) -> tuple[int, str] | None:
        """Why the request is refused (retcode, plain sentence), or None when it may go."""
        if request.account_id != self.account_id:
            return retcodes.INVALID, f"The order is for account {request.account_id}, not this one."
        if spec is None or (
            request.symbol not in self._tradable and request.position_ticket is None
        ):
            return retcodes.INVALID, f"{request.symbol} is not a symbol this account trades."
        problem = filling_problem(request, spec)
        if problem is not None:
            return retcodes.INVALID_FILL, problem
        problem = volume_problem(request.volume, spec)
        if problem is not None:
            return retcodes.INVALID_VOLUME, problem
        if request.position_ticket is not None:
            problem = self._close_problem(request)
            if problem is not None:
                return problem
        elif request.type is not OrderType.MARKET:
            if request.price is None:
                return retcodes.INVALID, f"A {request.type.value} order needs a price."
            if request.type is OrderType.STOP_LIMIT and request.stop_limit is None:
                return retcodes.INVALID, "A stop-limit order needs a stop_limit price."
        if not spec.is_open(now):
            return retcodes.MARKET_CLOSED, f"The {request.symbol} market is closed now."
        quote = self._quote(request.symbol)
        if quote is None:
            return retcodes.PRICE_OFF, f"There is no quote for {request.symbol} yet."
        prices = rounded_prices(request, spec)
        if request.type is OrderType.MARKET:
            entry = quote.ask if request.side is _BUY else quote.bid
            reference = quote.bid if request.side is _BUY else quote.ask  # where it closes
        else:
            problem = pending_problem(request, prices, quote, spec)
            if problem is not None:
                return retcodes.INVALID_PRICE, problem
            entry = reference = prices["stop_limit"] or prices["price"]
        if request.position_ticket is None:
            problem = stops_problem(request.side, reference, prices["sl"], prices["tp"], spec)
            if problem is not None:
                return retcodes.INVALID_STOPS, problem
        rate = self._rate(spec.profit_currency)
        if rate is None:
            return (
                retcodes.PRICE_OFF,
                f"There is no quote to convert {spec.profit_currency} "
                f"into {self._config.currency}.",
            )
        required = self._added_margin(
            request.symbol, request.side, request.volume, request.position_ticket, entry, rate
        )
        if required > 0:
            unrealised, margin = self._exposure()
            free = self._balance + unrealised - margin
            if required > free:
                return (
                    retcodes.NO_MONEY,
                    f"Not enough money: the order needs {required} {self._config.currency} "
                    f"of margin and {free} is free.",
                )
        return None

    def _close_problem(self, request: OrderRequest) -> tuple[int, str] | None:
        ticket = request.position_ticket
        position = self._positions.get(ticket) if ticket is not None else None
        if position is None:
            if ticket in self._closed:
                return retcodes.POSITION_CLOSED, f"Position {ticket} is already closed."
            return retcodes.INVALID, f"There is no open position {ticket}."
        if request.type is not OrderType.MARKET:
            return retcodes.INVALID, "A position is closed by a market order."
        if position.symbol != request.symbol or position.side is not request.side.opposite:
            return (
                retcodes.INVALID,
                f"Position {ticket} is {position.side.value} {position.symbol}; "
                f"only a {position.side.opposite.value} {position.symbol} order closes it.",
            )
        if request.volume > position.volume:
            return (
                retcodes.INVALID_CLOSE_VOLUME,
                f"Cannot close {request.volume} lots of position {ticket}: "
                f"it holds {position.volume}.",
            )
        return None

    def _added_margin(
        self,
        symbol: str,
        side: Side,
        volume: Decimal,
        closes: int | None,
        price: Decimal,
        rate: Decimal,
    ) -> Decimal:
        """Margin an order adds (volume * contract size * price / leverage, in the
        account currency): none for a close, only the part beyond the opposite
        position for a netting reduction or reversal."""
        if closes is not None:
            return _ZERO
        if self._netting:
            held = self._net_position(symbol)
            if held is not None and held.side is not side:
                volume = max(_ZERO, volume - held.volume)
        notional = volume * self._specs[symbol].contract_size * price
        return _money(notional / self._leverage * rate)

    def _reject(self, order: Order, retcode: int, reason: str, now: datetime) -> TradeResult:
        order = order.model_copy(
            update={
                "status": OrderStatus.REJECTED,
                "retcode": retcode,
                "reason": reason,
                "updated_at": now,
            }
        )
        return TradeResult(retcode, reason, order, Changes([order]))

    # --- execution -----------------------------------------------------------------

    def _execute(
        self, order: Order, spec: SymbolRules, quote: Quote, now: datetime, changes: Changes
    ) -> Order:
        """Fill `order` at the market (ask for a buy, bid for a sell); the filled order.

        Hedging: a new position, or a deal out of the position it names. Netting:
        into the symbol's position, or out of it, and a reversal closes it with an
        OUT deal and opens the rest as a new position with an IN deal."""
        price = quote.ask if order.side is _BUY else quote.bid
        volume = order.volume
        target = order.position_ticket
        if target is None and self._netting:
            held = self._net_position(order.symbol)
            if held is not None:
                target = held.ticket
        position = self._positions.get(target) if target is not None else None
        if position is None:
            self._open(order, spec, price, volume, now, changes)
        elif position.side is order.side:
            self._add(position, order, spec, price, volume, now, changes)
        else:
            out = min(volume, position.volume)
            self._reduce(position, order, spec, price, out, now, changes)
            if volume > out:
                self._open(order, spec, price, volume - out, now, changes)
        self._refresh(order.symbol)
        order = order.model_copy(
            update={
                "status": OrderStatus.FILLED,
                "filled_volume": volume,
                "fill_price": price,
                "retcode": retcodes.DONE,
                "updated_at": now,
            }
        )
        changes.orders.append(order)
        return order

    def _open(
        self,
        order: Order,
        spec: SymbolRules,
        price: Decimal,
        volume: Decimal,
        now: datetime,
        changes: Changes,
    ) -> None:
        position = _Open(
            ticket=order.ticket,
            symbol=order.symbol,
            side=order.side,
            volume=volume,
            average=price,
            open_price=price,
            open_time=now,
            sl=order.sl,
            tp=order.tp,
            strategy_id=order.strategy_id,
            magic=order.magic,
            comment=order.comment,
        )
        self._positions[position.ticket] = position
        self._deal(order, position, DealEntry.IN, volume, price, _NO_PROFIT, now, changes)
        _changed(changes, self._mark(position))

    def _add(
        self,
        position: _Open,
        order: Order,
        spec: SymbolRules,
        price: Decimal,
        volume: Decimal,
        now: datetime,
        changes: Changes,
    ) -> None:
        total = position.volume + volume
        position.average = (position.average * position.volume + price * volume) / total
        position.open_price = position.average.quantize(spec.quantum, ROUND_HALF_EVEN)
        position.volume = total
        # As on MT5, a deal's SL/TP replace the position's.
        position.sl = order.sl if order.sl is not None else position.sl
        position.tp = order.tp if order.tp is not None else position.tp
        self._deal(order, position, DealEntry.IN, volume, price, _NO_PROFIT, now, changes)
        _changed(changes, self._mark(position))

    def _reduce(
        self,
        position: _Open,
        order: Order,
        spec: SymbolRules,
        price: Decimal,
        volume: Decimal,
        now: datetime,
        changes: Changes,
    ) -> None:
        profit = self._profit(position, spec, price, volume)
        self._deal(order, position, DealEntry.OUT, volume, price, profit, now, changes)
        position.volume -= volume
        if position.volume > 0:
            _changed(changes, self._mark(position))
            return
        del self._positions[position.ticket]
        self._closed.add(position.ticket)
        final = self._mark(position).model_copy(
            update={"volume": volume, "current_price": price, "profit": profit}
        )
        changes.closed.append(final)
        changes.positions[:] = [p for p in changes.positions if p.ticket != position.ticket]

    def _deal(
        self,
        order: Order,
        position: _Open,
        entry: DealEntry,
        volume: Decimal,
        price: Decimal,
        profit: Decimal,
        now: datetime,
        changes: Changes,
    ) -> None:
        """Record one deal and book its profit and commission on the balance."""
        commission = _money(self._config.commission_per_lot * volume)
        position.commission += commission
        self._roll_day(now)
        self._balance += profit - commission
        self._realised += profit
        self._commission += commission
        self._realised_today += profit - commission
        changes.fills.append(
            Fill(
                ticket=self._tickets(),
                order_ticket=order.ticket,
                position_ticket=position.ticket,
                account_id=self.account_id,
                symbol=order.symbol,
                side=order.side,
                entry=entry,
                volume=volume,
                price=price,
                commission=commission,
                profit=profit,
                strategy_id=order.strategy_id or position.strategy_id,
                time=now,
            )
        )
        if profit or commission:
            changes.balance = self._balance

    # --- triggers --------------------------------------------------------------------

    def _on_trigger(self, book: _Book, quote: Quote) -> Changes | None:
        """A quote reached a level of `book`: act on it exactly."""
        now = self._clock.now()
        spec = book.spec
        if not spec.is_open(now):
            return None  # a closed market fills nothing until it reopens
        changes = Changes()
        bid, ask = quote.bid, quote.ask
        for position in sorted(book.positions.values(), key=_ticket):
            hit = _stop_hit(position, bid, ask)
            if hit is not None:
                self._close_by_system(position, spec, quote, hit, now, changes)
        for order in sorted(book.orders.values(), key=_ticket):
            self._trigger_order(order, spec, quote, now, changes)
        self._stop_out(now, changes)
        return changes or None

    def _trigger_order(
        self, order: Order, spec: SymbolRules, quote: Quote, now: datetime, changes: Changes
    ) -> None:
        bid, ask = quote.bid, quote.ask
        price = order.price
        assert price is not None  # pending orders always have one
        buy = order.side is _BUY
        if order.type is OrderType.STOP_LIMIT:
            if not (ask >= price if buy else bid <= price):
                return
            # The stop is reached: the order becomes a limit at its stop_limit price.
            order = order.model_copy(
                update={"type": OrderType.LIMIT, "price": order.stop_limit, "updated_at": now}
            )
            self._orders[order.ticket] = order
            self._refresh(order.symbol)
            price = order.price
            assert price is not None
            if not (ask <= price if buy else bid >= price):
                changes.orders.append(order)
                return
        elif order.type is OrderType.LIMIT:
            if not (ask <= price if buy else bid >= price):
                return
        elif not (ask >= price if buy else bid <= price):
            return
        del self._orders[order.ticket]
        rate = self._rate(spec.profit_currency)
        unrealised, margin = self._exposure()
        free = self._balance + unrealised - margin
        if rate is None or free < self._added_margin(
            order.symbol, order.side, order.volume, None, ask if buy else bid, rate
        ):
            changes.orders.append(
                order.model_copy(
                    update={
                        "status": OrderStatus.REJECTED,
                        "retcode": retcodes.NO_MONEY,
                        "reason": "Not enough free margin when the order triggered.",
                        "updated_at": now,
                    }
                )
            )
            self._refresh(order.symbol)
            return
        self._execute(order, spec, quote, now, changes)

    def _close_by_system(
        self,
        position: _Open,
        spec: SymbolRules,
        quote: Quote,
        comment: str,
        now: datetime,
        changes: Changes,
    ) -> None:
        """Close `position` at the market for SL, TP or stop-out, as MT5's server does."""
        ticket = self._tickets()
        order = Order(
            ticket=ticket,
            account_id=self.account_id,
            client_order_id=f"{comment.strip('[]')}-{ticket}",
            symbol=position.symbol,
            side=position.side.opposite,
            type=OrderType.MARKET,
            volume=position.volume,
            source=OrderSource.SYSTEM,
            strategy_id=position.strategy_id,
            position_ticket=position.ticket,
            magic=position.magic,
            comment=comment,
            created_at=now,
            updated_at=now,
        )
        self._execute(order, spec, quote, now, changes)

    def _stop_out(self, now: datetime, changes: Changes) -> None:
        """Close the most losing position while the margin level is below STOP_OUT_LEVEL."""
        while self._positions:
            unrealised, margin = self._exposure()
            if not margin or (self._balance + unrealised) * _HUNDRED >= STOP_OUT_LEVEL * margin:
                return
            closable = [
                p
                for p in self._positions.values()
                if self._quote(p.symbol) is not None and self._specs[p.symbol].is_open(now)
            ]
            if not closable:
                return
            worst = min(closable, key=lambda p: (self._mark(p).profit, p.ticket))
            quote = self._quote(worst.symbol)
            assert quote is not None
            self._close_by_system(worst, self._specs[worst.symbol], quote, "[so]", now, changes)

    # --- bookkeeping -----------------------------------------------------------------

    def _refresh(self, symbol: str) -> None:
        """Recompute a symbol's trigger band after its positions or orders changed;
        forget the symbol when nothing in it is left."""
        positions = {t: p for t, p in self._positions.items() if p.symbol == symbol}
        orders = {t: o for t, o in self._orders.items() if o.symbol == symbol}
        old = self._books.pop(symbol, None)
        spec = self._specs.get(symbol)
        band = None
        if spec is not None and (positions or orders):
            band = _band(positions.values(), orders.values())
            self._books[symbol] = _Book(spec, positions, orders, band)
        if positions:
            net = sum((p.volume * p.side.sign for p in positions.values()), _ZERO)
            self._holdings[symbol] = Holding(net, len(positions))
        else:
            self._holdings.pop(symbol, None)
        if self._on_band is not None and band != (None if old is None else old.band):
            self._on_band(symbol)

    def _exposure(self) -> tuple[Decimal, Decimal]:
        """(unrealised P&L, margin) of the open positions, in the account currency:
        a sum over the symbols held, each priced again only when its positions,
        its quote or its conversion rate changed since it was last asked."""
        unrealised = margin = _ZERO
        for symbol in self._holdings:
            book = self._books[symbol]
            spec = book.spec
            rate = self._rate(spec.profit_currency) or _ZERO
            quote = self._quote(symbol)
            priced = book.priced
            if priced is None or priced[0] is not quote or priced[1] != rate:
                priced = book.priced = (quote, rate, *self._price(book, quote, rate))
            unrealised += priced[2]
            margin += priced[3]
        return unrealised, margin

    def _price(self, book: _Book, quote: Quote | None, rate: Decimal) -> tuple[Decimal, Decimal]:
        """(unrealised P&L, margin) of one symbol's positions, each rounded to the
        cent as an MT5 server reports it."""
        spec = book.spec
        unrealised = margin = _ZERO
        for position in book.positions.values():
            if quote is not None:
                mark = quote.bid if position.side is _BUY else quote.ask
                unrealised += self._profit(position, spec, mark, position.volume, rate)
            notional = position.volume * spec.contract_size * position.open_price
            margin += _money(notional / self._leverage * rate)
        return unrealised, margin

    def _profit(
        self,
        position: _Open,
        spec: SymbolRules,
        price: Decimal,
        volume: Decimal,
        rate: Decimal | None = None,
    ) -> Decimal:
        """Profit of `volume` of `position` closed at `price`, in the account currency."""
        if rate is None:
            rate = self._rate(spec.profit_currency) or _ZERO
        points = (price - position.open_price) * position.side.sign
        return _money(points * volume * spec.contract_size * rate)

    def _mark(self, position: _Open) -> Position:
        spec = self._specs[position.symbol]
        quote = self._quote(position.symbol)
        current, profit = None, _NO_PROFIT
        if quote is not None:
            current = quote.bid if position.side is _BUY else quote.ask
            profit = self._profit(position, spec, current, position.volume)
        return Position(
            ticket=position.ticket,
            account_id=self.account_id,
            symbol=position.symbol,
            side=position.side,
            volume=position.volume,
            open_price=position.open_price,
            open_time=position.open_time,
            sl=position.sl,
            tp=position.tp,
            current_price=current,
            profit=profit,
            commission=position.commission,
            strategy_id=position.strategy_id,
            magic=position.magic,
            comment=position.comment,
        )

    def _net_position(self, symbol: str) -> _Open | None:
        return next((p for p in self._positions.values() if p.symbol == symbol), None)

    def _rate(self, currency: str) -> Decimal | None:
        """Account-currency value of one unit of `currency` from the mid of the direct
        pair (EURUSD for EUR -> USD) or the inverse of the reverse pair (USDJPY for
        JPY -> USD); the last known rate when neither is quoted now."""
        account = self._config.currency
        if currency == account:
            return Decimal(1)
        direct = self._quote(currency + account)
        if direct is not None:
            rate = (direct.bid + direct.ask) / _TWO
        else:
            inverse = self._quote(account + currency)
            if inverse is None:
                return self._rates.get(currency)
            rate = _TWO / (inverse.bid + inverse.ask)
        self._rates[currency] = rate
        return rate

    def _roll_day(self, now: datetime) -> None:
        """`realised_today` restarts at UTC midnight."""
        today = _utc_date(now)
        if today != self._day:
            self._day = today
            self._realised_today = _ZERO


# --- helpers --------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    """An open position as the broker keeps it (mutable; `Position` is the report)."""

    ticket: int
    symbol: str
    side: Side
    volume: Decimal
    average: Decimal  # exact volume-weighted open price
    open_price: Decimal  # `average` rounded to the instrument's digits
    open_time: datetime
    sl: Decimal | None
    tp: Decimal | None
    strategy_id: str | None
    magic: int
    comment: str
    commission: Decimal = _ZERO

    @classmethod
    def restore(cls, position: Position) -> _Open:
        return cls(
            ticket=position.ticket,
            symbol=position.symbol,
            side=position.side,
            volume=position.volume,
            average=position.open_price,
            open_price=position.open_price,
            open_time=position.open_time,
            sl=position.sl,
            tp=position.tp,
            strategy_id=position.strategy_id,
            magic=position.magic,
            comment=position.comment,
            commission=position.commission,
        )


@dataclass(slots=True)
class _Book:
    """One symbol's open positions and orders, and the band of prices at which a
    quote fires any of them."""

    spec: SymbolRules
    positions: dict[int, _Open]
    orders: dict[int, Order]
    band: TriggerBand | None  # None when no quote can fire anything (no SL, TP or order)
    # (quote, rate, unrealised, margin) of `positions`, priced at that quote and
    # rate: a new book (positions changed) or a new quote prices them again.
    priced: tuple[Quote | None, Decimal, Decimal, Decimal] | None = None


def _band(positions: Iterable[_Open], orders: Iterable[Order]) -> TriggerBand | None:
    """The tightest levels: a long closes on the bid (SL below, TP above), a short
    on the ask (SL above, TP below); a buy limit fills when the ask falls to it, a
    buy stop (or a stop-limit's stop) when the ask rises to it, sells on the bid."""
    bid_low: list[Decimal] = []
    bid_high: list[Decimal] = []
    ask_low: list[Decimal] = []
    ask_high: list[Decimal] = []
    for position in positions:
        stops, targets = (bid_low, bid_high) if position.side is _BUY else (ask_high, ask_low)
        if position.sl is not None:
            stops.append(position.sl)
        if position.tp is not None:
            targets.append(position.tp)
    for order in orders:
        assert order.price is not None  # pending orders always have one
        buy = order.side is _BUY
        if order.type is OrderType.LIMIT:
            (ask_low if buy else bid_high).append(order.price)
        else:
            (ask_high if buy else bid_low).append(order.price)
    if not (bid_low or bid_high or ask_low or ask_high):
        return None
    return TriggerBand(
        max(bid_low, default=-_INF),
        min(bid_high, default=_INF),
        max(ask_low, default=-_INF),
        min(ask_high, default=_INF),
    )


def _changed(changes: Changes, position: Position) -> None:
    """Report `position` as changed once, in its latest state."""
    changes.positions[:] = [p for p in changes.positions if p.ticket != position.ticket]
    changes.positions.append(position)


def _stop_hit(position: _Open, bid: Decimal, ask: Decimal) -> str | None:
    """ "[sl]" or "[tp]" when the quote reaches the position's stop loss or take profit."""
    sl, tp = position.sl, position.tp
    if position.side is _BUY:
        if sl is not None and bid <= sl:
            return "[sl]"
        if tp is not None and bid >= tp:
            return "[tp]"
    else:
        if sl is not None and ask >= sl:
            return "[sl]"
        if tp is not None and ask <= tp:
            return "[tp]"
    return None


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, ROUND_HALF_EVEN)


def _utc_date(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _ticket(item: _Open | Order) -> int:
    return item.ticket
