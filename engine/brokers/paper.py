"""A simulated broker account with MetaTrader 5's semantics.

Market orders fill at the ask (buy) or bid (sell) of the last quote; limit,
stop and stop-limit orders rest until a quote crosses them; SL/TP close
positions; the account hedges (a position per order) or nets (a position per
symbol); margin, commission, currency conversion and stop-out behave as on an
MT5 server, and refusals carry MT5's retcodes. The broker never writes
anywhere: every change comes back as `Changes` for the worker to store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from config.models import AccountConfig, BrokerKind, InstrumentConfig, MarginMode
from engine.brokers import retcodes
from engine.brokers.base import Changes, OrderRequest, PaperLedger, TradeResult
from engine.clock import Clock
from engine.models import (
    AccountSnapshot,
    DealEntry,
    Fill,
    Filling,
    Order,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Side,
)

STOP_OUT_LEVEL = Decimal(50)  # margin level in % below which positions are closed

# The float estimate errs towards checking: the exact Decimal check decides.
_STOP_OUT_F = float(STOP_OUT_LEVEL) + 0.001
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
        quote_source: Callable[[str], Quote | None] | None = None,
    ) -> None:
        """`tickets` numbers orders and deals alike; `ledger` is the state storage
        saved (a fresh account when None); `quote_source` gives the quotes of
        symbols the account does not trade, for currency conversion."""
        self.account_id = account.id
        self._config = account
        self._netting = account.margin_mode is MarginMode.NETTING
        self._leverage = Decimal(account.leverage)
        self._clock = clock
        self._tickets = tickets
        self._quote_source = quote_source
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
            symbol: _Spec.of(instruments[symbol], account.currency)
            for symbol in self._tradable | held
            if symbol in instruments
        }
        self._balance = ledger.balance
        self._balance_f = float(ledger.balance)
        self._realised = ledger.realised_pnl
        self._commission = ledger.commission
        self._realised_today = ledger.realised_today
        self._day = _utc_date(clock.now())
        self._quotes: dict[str, Quote] = {}
        self._rates: dict[str, Decimal] = {}  # last known rate per profit currency
        self._positions: dict[int, _Open] = {}
        self._orders: dict[int, Order] = {}
        self._books: dict[str, _Book] = {}  # only symbols with positions or orders
        self._client_ids: set[str] = set()
        self._closed: set[int] = set()
        self._upnl_f = 0.0  # float estimates, to spot a stop-out cheaply
        self._margin_f = 0.0
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
        """Remember `quote`; fire SL/TP, pending orders and stop-out if it reaches them."""
        symbol = quote.symbol
        self._quotes[symbol] = quote
        book = self._books.get(symbol)
        if book is None:
            return None
        bid, ask = quote.bid, quote.ask
        if (
            bid <= book.bid_low
            or bid >= book.bid_high
            or ask >= book.ask_high
            or ask <= book.ask_low
        ):
            return self._on_trigger(book, quote)
        if book.exposed:
            self._estimate(book, quote)
            if (self._balance_f + self._upnl_f) * 100.0 < _STOP_OUT_F * self._margin_f:
                return self._on_trigger(book, quote)
        return None

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

    def open_orders(self) -> list[Order]:
        return sorted(self._orders.values(), key=_ticket)

    def last_quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    # --- placing orders --------------------------------------------------------------

    def _send(self, request: OrderRequest, ticket: int) -> TradeResult:
        now = self._clock.now()
        if request.client_order_id in self._client_ids:
            # Not recorded: the store keeps one order per client_order_id.
            message = f"An order with client_order_id {request.client_order_id!r} exists."
            return TradeResult(retcodes.INVALID, message, None)
        self._client_ids.add(request.client_order_id)
        order = _order(request, self.account_id, ticket, now)
        spec = self._specs.get(request.symbol)
        problem = self._check(request, spec, now)
        if problem is not None:
            retcode, reason = problem
            return self._reject(order, retcode, reason, now)
        assert spec is not None  # `_check` refuses unknown symbols
        order = order.model_copy(update=_rounded_prices(request, spec))
        if order.type is OrderType.MARKET:
            changes = Changes()
            order = self._execute(order, spec, self._quotes[order.symbol], now, changes)
            return TradeResult(retcodes.DONE, "Request completed.", order, changes)
        order = order.model_copy(update={"status": OrderStatus.PLACED, "retcode": retcodes.PLACED})
        self._orders[ticket] = order
        self._refresh(order.symbol)
        return TradeResult(retcodes.PLACED, "Order placed.", order, Changes([order]))

    def _check(
        self, request: OrderRequest, spec: _Spec | None, now: datetime
    ) -> tuple[int, str] | None:
        """Why the request is refused (retcode, plain sentence), or None when it may go."""
        if request.account_id != self.account_id:
            return retcodes.INVALID, f"The order is for account {request.account_id}, not this one."
        if spec is None or (
            request.symbol not in self._tradable and request.position_ticket is None
        ):
            return retcodes.INVALID, f"{request.symbol} is not a symbol this account trades."
        if request.filling.value not in spec.fillings:
            allowed = ", ".join(sorted(spec.fillings)) or "none"
            return (
                retcodes.INVALID_FILL,
                f"Filling mode {request.filling.value} is not allowed for {request.symbol} "
                f"(allowed: {allowed}).",
            )
        problem = _volume_problem(request.volume, spec)
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
        quote = self._quotes.get(request.symbol)
        if quote is None:
            return retcodes.PRICE_OFF, f"There is no quote for {request.symbol} yet."
        prices = _rounded_prices(request, spec)
        if request.type is OrderType.MARKET:
            entry = quote.ask if request.side is _BUY else quote.bid
            reference = quote.bid if request.side is _BUY else quote.ask  # where it closes
        else:
            problem = _pending_problem(request, prices, quote, spec)
            if problem is not None:
                return retcodes.INVALID_PRICE, problem
            entry = reference = prices["stop_limit"] or prices["price"]
        if request.position_ticket is None:
            problem = _stops_problem(request.side, reference, prices["sl"], prices["tp"], spec)
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
        self, order: Order, spec: _Spec, quote: Quote, now: datetime, changes: Changes
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
        spec: _Spec,
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
        spec: _Spec,
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
        spec: _Spec,
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
        self._balance_f = float(self._balance)
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
        """A quote reached a level (or the margin level looks low): act on it exactly."""
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
        self, order: Order, spec: _Spec, quote: Quote, now: datetime, changes: Changes
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
        spec: _Spec,
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
                if p.symbol in self._quotes and self._specs[p.symbol].is_open(now)
            ]
            if not closable:
                return
            worst = min(closable, key=lambda p: (self._mark(p).profit, p.ticket))
            spec = self._specs[worst.symbol]
            self._close_by_system(worst, spec, self._quotes[worst.symbol], "[so]", now, changes)

    def _estimate(self, book: _Book, quote: Quote) -> None:
        """Update the float estimate of the account's unrealised P&L and margin with
        this symbol's quote; exact Decimal checks follow only when it looks low."""
        rate = self._rate_f(book)
        upnl = rate * (
            book.long_units * float(quote.bid)
            - book.long_cost
            - book.short_units * float(quote.ask)
            + book.short_cost
        )
        margin = rate * book.margin_units
        self._upnl_f += upnl - book.upnl
        self._margin_f += margin - book.margin
        book.upnl, book.margin = upnl, margin

    # --- bookkeeping -----------------------------------------------------------------

    def _refresh(self, symbol: str) -> None:
        """Recompute a symbol's trigger levels and exposure after its positions or
        orders changed; forget the symbol when nothing in it is left."""
        positions = {t: p for t, p in self._positions.items() if p.symbol == symbol}
        orders = {t: o for t, o in self._orders.items() if o.symbol == symbol}
        old = self._books.pop(symbol, None)
        if old is not None:
            self._upnl_f -= old.upnl
            self._margin_f -= old.margin
        spec = self._specs.get(symbol)
        if spec is None or not (positions or orders):
            return
        book = _Book(spec, positions, orders)
        for position in positions.values():
            book.watch_position(position, self._leverage)
        for order in orders.values():
            book.watch_order(order)
        self._books[symbol] = book
        quote = self._quotes.get(symbol)
        if quote is not None and book.exposed:
            self._estimate(book, quote)

    def _exposure(self) -> tuple[Decimal, Decimal]:
        """(unrealised P&L, margin) of the open positions, in the account currency."""
        unrealised = margin = _ZERO
        for position in self._positions.values():
            spec = self._specs[position.symbol]
            rate = self._rate(spec.profit_currency) or _ZERO
            quote = self._quotes.get(position.symbol)
            if quote is not None:
                mark = quote.bid if position.side is _BUY else quote.ask
                unrealised += self._profit(position, spec, mark, position.volume, rate)
            notional = position.volume * spec.contract_size * position.open_price
            margin += _money(notional / self._leverage * rate)
        return unrealised, margin

    def _profit(
        self,
        position: _Open,
        spec: _Spec,
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
        quote = self._quotes.get(position.symbol)
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

    def _lookup(self, symbol: str) -> Quote | None:
        quote = self._quotes.get(symbol)
        if quote is None and self._quote_source is not None:
            quote = self._quote_source(symbol)
        return quote

    def _rate(self, currency: str) -> Decimal | None:
        """Account-currency value of one unit of `currency` from the mid of the direct
        pair (EURUSD for EUR -> USD) or the inverse of the reverse pair (USDJPY for
        JPY -> USD); the last known rate when neither is quoted now."""
        account = self._config.currency
        if currency == account:
            return Decimal(1)
        direct = self._lookup(currency + account)
        if direct is not None:
            rate = (direct.bid + direct.ask) / _TWO
        else:
            inverse = self._lookup(account + currency)
            if inverse is None:
                return self._rates.get(currency)
            rate = _TWO / (inverse.bid + inverse.ask)
        self._rates[currency] = rate
        return rate

    def _rate_f(self, book: _Book) -> float:
        """`_rate` as a float from the pair's mid, for the hot path's estimate."""
        pairs = book.spec.pairs
        if pairs is None:
            return 1.0
        direct = self._lookup(pairs[0])
        if direct is not None:
            book.rate = direct.mid
        else:
            inverse = self._lookup(pairs[1])
            if inverse is not None:
                book.rate = 1.0 / inverse.mid
        return book.rate

    def _roll_day(self, now: datetime) -> None:
        """`realised_today` restarts at UTC midnight."""
        today = _utc_date(now)
        if today != self._day:
            self._day = today
            self._realised_today = _ZERO


# --- helpers --------------------------------------------------------------------------


@dataclass(slots=True)
class _Spec:
    """What the broker needs of an instrument, converted once."""

    quantum: Decimal  # 10**-digits
    point: Decimal
    stops: Decimal  # stops_level in price
    contract_size: Decimal
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    fillings: frozenset[str]
    default_filling: Filling
    profit_currency: str
    pairs: tuple[str, str] | None  # (direct, inverse) pairs converting profit to the account
    days: frozenset[int]
    sessions: tuple[tuple[int, int], ...]  # (start, end) in seconds of the UTC day

    @classmethod
    def of(cls, instrument: InstrumentConfig, account_currency: str) -> _Spec:
        profit = instrument.profit_currency
        fillings = frozenset(instrument.filling_modes)
        return cls(
            quantum=Decimal(1).scaleb(-instrument.digits),
            point=instrument.point,
            stops=instrument.stops_level * instrument.point,
            contract_size=instrument.contract_size,
            volume_min=instrument.volume_min,
            volume_max=instrument.volume_max,
            volume_step=instrument.volume_step,
            fillings=fillings,
            default_filling=next((f for f in Filling if f.value in fillings), Filling.FOK),
            profit_currency=profit,
            pairs=None
            if profit == account_currency
            else (profit + account_currency, account_currency + profit),
            days=frozenset(instrument.trading_days),
            sessions=tuple(_session(hours) for hours in instrument.trading_hours),
        )

    def is_open(self, now: datetime) -> bool:
        now = now.astimezone(UTC)
        if now.weekday() not in self.days:
            return False
        second = now.hour * 3600 + now.minute * 60 + now.second
        return any(start <= second < end for start, end in self.sessions)


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
    """One symbol's open positions and orders, with the levels a quote must reach
    to fire any of them and the exposure for the stop-out estimate (floats, in
    the profit currency)."""

    spec: _Spec
    positions: dict[int, _Open]
    orders: dict[int, Order]
    bid_low: Decimal = -_INF  # fire when bid <= bid_low
    bid_high: Decimal = _INF  # fire when bid >= bid_high
    ask_high: Decimal = _INF  # fire when ask >= ask_high
    ask_low: Decimal = -_INF  # fire when ask <= ask_low
    long_units: float = 0.0  # sum of volume * contract size of longs
    long_cost: float = 0.0  # ... times their open price
    short_units: float = 0.0
    short_cost: float = 0.0
    margin_units: float = 0.0
    exposed: bool = False  # any position at all
    upnl: float = 0.0  # last estimate, in the account currency
    margin: float = 0.0
    rate: float = 1.0  # last profit -> account currency rate seen

    def watch_position(self, position: _Open, leverage: Decimal) -> None:
        units = float(position.volume * self.spec.contract_size)
        cost = units * float(position.open_price)
        self.exposed = True
        self.margin_units += cost / float(leverage)
        if position.side is _BUY:
            self.long_units += units
            self.long_cost += cost
            self._bid_below(position.sl)
            self._bid_above(position.tp)
        else:
            self.short_units += units
            self.short_cost += cost
            self._ask_above(position.sl)
            self._ask_below(position.tp)

    def watch_order(self, order: Order) -> None:
        buy = order.side is _BUY
        if order.type is OrderType.LIMIT:
            (self._ask_below if buy else self._bid_above)(order.price)
        else:  # stop, and a stop-limit until its stop is reached
            (self._ask_above if buy else self._bid_below)(order.price)

    def _bid_below(self, level: Decimal | None) -> None:
        if level is not None and level > self.bid_low:
            self.bid_low = level

    def _bid_above(self, level: Decimal | None) -> None:
        if level is not None and level < self.bid_high:
            self.bid_high = level

    def _ask_above(self, level: Decimal | None) -> None:
        if level is not None and level < self.ask_high:
            self.ask_high = level

    def _ask_below(self, level: Decimal | None) -> None:
        if level is not None and level > self.ask_low:
            self.ask_low = level


def _changed(changes: Changes, position: Position) -> None:
    """Report `position` as changed once, in its latest state."""
    changes.positions[:] = [p for p in changes.positions if p.ticket != position.ticket]
    changes.positions.append(position)


def _order(request: OrderRequest, account_id: str, ticket: int, now: datetime) -> Order:
    return Order(
        ticket=ticket,
        account_id=account_id,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        volume=request.volume,
        price=request.price,
        stop_limit=request.stop_limit,
        sl=request.sl,
        tp=request.tp,
        source=request.source,
        strategy_id=request.strategy_id,
        position_ticket=request.position_ticket,
        magic=request.magic,
        comment=request.comment,
        created_at=now,
        updated_at=now,
    )


def _rounded_prices(request: OrderRequest, spec: _Spec) -> dict[str, Decimal | None]:
    """The request's prices rounded to the instrument's digits (SL/TP ignored on a close)."""
    closing = request.position_ticket is not None
    return {
        "price": _round(request.price, spec),
        "stop_limit": _round(request.stop_limit, spec),
        "sl": None if closing else _round(request.sl, spec),
        "tp": None if closing else _round(request.tp, spec),
    }


def _round(price: Decimal | None, spec: _Spec) -> Decimal | None:
    return None if price is None else price.quantize(spec.quantum, ROUND_HALF_EVEN)


def _volume_problem(volume: Decimal, spec: _Spec) -> str | None:
    if volume < spec.volume_min or volume > spec.volume_max:
        return (
            f"Volume {volume} is outside the allowed {spec.volume_min} to {spec.volume_max} lots."
        )
    if volume % spec.volume_step:
        return f"Volume {volume} is not a multiple of the volume step {spec.volume_step}."
    return None


def _pending_problem(
    request: OrderRequest, prices: Mapping[str, Decimal | None], quote: Quote, spec: _Spec
) -> str | None:
    """Why a pending order's price is on the wrong side of the market (or too
    close to it), or None. Buy limits rest below the ask, buy stops above it;
    sell limits above the bid, sell stops below it."""
    price = prices["price"]
    assert price is not None
    buy = request.side is _BUY
    market = quote.ask if buy else quote.bid
    name = f"{request.side.value} {request.type.value.replace('_', '-')}"
    if price <= 0:
        return f"The {name} price must be above zero, not {price}."
    below = (request.type is OrderType.LIMIT) == buy
    distance = market - price if below else price - market
    if distance <= 0 or distance < spec.stops:
        where = "below" if below else "above"
        side = "ask" if buy else "bid"
        return (
            f"A {name} price must be {where} the {side} ({market}) by at least "
            f"{max(spec.stops, spec.point)}; it is {price}."
        )
    if request.type is OrderType.STOP_LIMIT:
        limit = prices["stop_limit"]
        assert limit is not None
        if limit <= 0 or (limit > price if buy else limit < price):
            where = "at or below" if buy else "at or above"
            return f"The stop_limit price {limit} must be {where} the stop price {price}."
    return None


def _stops_problem(
    side: Side, reference: Decimal, sl: Decimal | None, tp: Decimal | None, spec: _Spec
) -> str | None:
    """Why SL/TP are invalid around `reference` (the price the position would close
    at, or the pending order's open price), or None. A long's SL goes below and its
    TP above, a short's the other way, each at least `stops_level` points away."""
    sign = side.sign
    for name, level, direction in (("SL", sl, -sign), ("TP", tp, sign)):
        if level is None:
            continue
        distance = (level - reference) * direction
        if level <= 0 or distance <= 0 or distance < spec.stops:
            where = "below" if direction < 0 else "above"
            return (
                f"The {name} {level} must be {where} {reference} by at least "
                f"{max(spec.stops, spec.point)}."
            )
    return None


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


def _session(hours: str) -> tuple[int, int]:
    """ "08:00-17:30" as seconds of the day; "24:00" is the end of the day."""
    start, end = hours.split("-")
    return _seconds(start), _seconds(end)


def _seconds(clock_time: str) -> int:
    hours, minutes = clock_time.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, ROUND_HALF_EVEN)


def _utc_date(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _ticket(item: _Open | Order) -> int:
    return item.ticket
