"""`Mt5Broker`: a MetaTrader 5 account behind the same `Broker` protocol as the
paper broker.

Every terminal call goes through the account's own bridge process (one
terminal per process, each call with a timeout, one call at a time). The
terminal acts on SL/TP, pending orders and stop-out itself, so the broker
reads positions, orders, deals and the ticks of the account's symbols (all
of them in one round trip) every `mt5_poll_ms`, reports what changed through
`on_changes` and the ticks that moved through `on_quotes`: the account's
strategies trade on its terminal's prices. `on_quote` and `trigger_band`
have nothing to do.

Order results follow MT5's rules: requotes and busy servers are retried
with backoff; a lost answer (timeout, no connection, empty result) may hide an
executed order, so the terminal is searched for it (by the engine ticket in
the comment, under the account's magic) before anything is sent again; the
rest are final rejections in words. A broken link to the terminal puts the
worker in `reconnecting` until a fresh bridge has logged in and the
positions and orders are read again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from config.models import AccountConfig
from engine.alerts import AlertCenter
from engine.brokers import retcodes
from engine.brokers.base import (
    Changes,
    Funds,
    Holding,
    PaperLedger,
    TradeResult,
    TriggerBand,
    holdings_of,
    new_order,
)
from engine.brokers.mt5 import constants as mt5
from engine.brokers.mt5 import mapping
from engine.brokers.mt5.book import Reading, TerminalBook
from engine.brokers.mt5.credentials import password_variable, read_password
from engine.brokers.mt5.mapping import Record, SymbolSpec
from engine.brokers.mt5.transport import Bridge, BridgeDown, BridgeLost
from engine.clock import Clock
from engine.domain import BrokerKind, Timeframe
from engine.errors import EngineError, Unavailable
from engine.models import (
    AccountSnapshot,
    Bar,
    BookLevel,
    Fill,
    Filling,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Severity,
    WorkerState,
)

TICKS_CALL = "symbol_info_ticks"
"""The bridge's batch of `symbol_info_tick`: every symbol's tick in one round trip."""

RETRIED = frozenset(
    {
        retcodes.REQUOTE,
        retcodes.PRICE_CHANGED,
        retcodes.PRICE_OFF,
        retcodes.TOO_MANY_REQUESTS,
    }
)
"""Refusals of the moment: the same request may succeed a little later."""

UNCERTAIN = frozenset({retcodes.TIMEOUT, retcodes.CONNECTION})
"""The order may have executed although the answer says otherwise."""

TIMEFRAMES = {
    Timeframe.M1: mt5.TIMEFRAME_M1,
    Timeframe.M5: mt5.TIMEFRAME_M5,
    Timeframe.M15: mt5.TIMEFRAME_M15,
    Timeframe.M30: mt5.TIMEFRAME_M30,
    Timeframe.H1: mt5.TIMEFRAME_H1,
    Timeframe.H4: mt5.TIMEFRAME_H4,
    Timeframe.D1: mt5.TIMEFRAME_D1,
}
"""The bars MT5 has (copy_rates_*), as its TIMEFRAME_* numbers."""
_DEAL_WINDOW = timedelta(days=1)  # deals are re-read this far back (server time zones differ)
_ORDER_CHECK_OK = frozenset({0, retcodes.DONE})

LogLevel = Literal["debug", "info", "warning", "error"]


class LoginFailed(EngineError):
    """The terminal refused the account's credentials (MT5 error -6)."""

    code = "INVALID_REQUEST"


class TerminalLost(BridgeLost):
    """The terminal answered with an IPC error: its link is broken."""


@dataclass(frozen=True, slots=True)
class Mt5Hooks:
    """How the broker reaches its worker: changes the terminal made on its own,
    the terminal's ticks that moved, the state of the link, alerts and the
    event log."""

    on_changes: Callable[[Changes], None]
    on_quotes: Callable[[list[Quote]], None]
    on_link: Callable[[WorkerState, str | None], None]
    alerts: AlertCenter
    log: Callable[[str, LogLevel], None]


@dataclass(frozen=True, slots=True)
class Retry:
    """Backoff of retried orders and of reconnection, in seconds."""

    attempts: int = 4
    order_backoff: float = 0.25
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0


class Mt5Broker:
    kind = BrokerKind.MT5

    def __init__(
        self,
        account: AccountConfig,
        clock: Clock,
        tickets: Callable[[], int],
        ledger: PaperLedger,
        hooks: Mt5Hooks,
        *,
        known_fills: Iterable[Fill] = (),
        bridge: Bridge | None = None,
        retry: Retry | None = None,
    ) -> None:
        """`ledger` is the account as stored; `known_fills` its fills since
        `deals_from(now, ledger)` (so deals are not stored twice across a
        restart); `bridge` defaults to a child process per the account's settings."""
        if account.login is None or account.server is None:
            raise EngineError(f"Account {account.id} needs a login and a server to reach MT5.")
        self.account_id = account.id
        self._config = account
        self._clock = clock
        self._tickets = tickets
        self._hooks = hooks
        self._retry = retry or Retry()
        mt5linux = (
            f"{account.mt5linux_host}:{account.mt5linux_port}" if account.mt5linux_host else None
        )
        self.bridge = bridge or Bridge(mt5linux=mt5linux, timeout=account.mt5_timeout_seconds)
        self._book = TerminalBook(
            account.id, account.magic, tickets, clock.now, ledger, known_fills
        )
        self._starting_balance = account.starting_balance
        self._holdings: tuple[dict[int, Position], dict[str, Holding]] | None = None
        self._lock = asyncio.Lock()  # one reading or request at a time
        self._connected = False
        self._broken = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._deals_from = deals_from(clock.now(), ledger)
        self._books: set[str] = set()  # symbols whose depth of market is subscribed
        self._no_book: set[str] = set()  # symbols the server gives no depth for

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        """Start the bridge, log in, select the symbols, read the account, and
        keep reading it."""
        changes = await self._open()
        self._hooks.on_changes(changes)
        self._poller = asyncio.create_task(self._poll_loop(), name=f"{self.account_id}:mt5")

    async def disconnect(self) -> None:
        self._connected = False
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self.bridge.alive:
            with contextlib.suppress(BridgeDown):
                for symbol in sorted(self._books):
                    await self.bridge.call("market_book_release", symbol, call_timeout=2.0)
                await self.bridge.call("shutdown", call_timeout=2.0)
        self._books.clear()
        await self.bridge.close()

    # --- what the terminal does on its own -----------------------------------------------

    def on_quote(self, quote: Quote) -> Changes | None:
        """The terminal's server fires SL/TP and pending orders; polling reports them."""
        return None

    def trigger_band(self, symbol: str) -> TriggerBand | None:
        return None

    def check_stop_out(self) -> Changes | None:
        """The server stops out; the deals it makes arrive with the next reading."""
        return None

    # --- requests ------------------------------------------------------------------------

    async def send_order(self, request: OrderRequest) -> TradeResult:
        order = new_order(request, self.account_id, self._tickets(), self._clock.now())
        return await self._submit(order, request.filling)

    async def close_position(self, ticket: int, volume: Decimal | None = None) -> TradeResult:
        position = self._book.positions.get(ticket)
        if position is None:
            return TradeResult(retcodes.INVALID, f"There is no open position {ticket}.", None)
        order_ticket = self._tickets()
        request = OrderRequest(
            account_id=self.account_id,
            symbol=position.symbol,
            side=position.side.opposite,
            volume=position.volume if volume is None else volume,
            client_order_id=f"close-{order_ticket}",
            strategy_id=position.strategy_id,
            position_ticket=ticket,
            magic=self._config.magic,
        )
        order = new_order(request, self.account_id, order_ticket, self._clock.now())
        return await self._submit(order, request.filling)

    async def cancel_order(self, ticket: int) -> TradeResult:
        order = self._book.orders.get(ticket)
        terminal = self._book.terminal_order(ticket)
        if order is None or terminal is None:
            return TradeResult(retcodes.INVALID, f"There is no open order {ticket}.", None)
        result = await self._action(mapping.remove_request(order=terminal), order)
        if result.retcode == retcodes.DONE:
            self._book.orders.pop(ticket, None)
            cancelled = order.model_copy(
                update={
                    "status": OrderStatus.CANCELLED,
                    "retcode": retcodes.DONE,
                    "reason": "cancelled",
                    "updated_at": self._clock.now(),
                }
            )
            result.order = cancelled
            result.changes.orders.append(cancelled)
        return result

    async def modify_position(
        self, ticket: int, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        """New SL/TP for an open position (None removes one)."""
        position = self._book.positions.get(ticket)
        terminal = self._book.terminal_position(ticket)
        if position is None or terminal is None:
            return TradeResult(retcodes.INVALID, f"There is no open position {ticket}.", None)
        request = mapping.sltp_request(
            position=terminal, symbol=position.symbol, sl=sl, tp=tp, magic=self._config.magic
        )
        return await self._action(request, None)

    async def modify_order(
        self,
        ticket: int,
        price: Decimal,
        sl: Decimal | None,
        tp: Decimal | None,
        stop_limit: Decimal | None = None,
    ) -> TradeResult:
        """A pending order's new price and stops."""
        order = self._book.orders.get(ticket)
        terminal = self._book.terminal_order(ticket)
        if order is None or terminal is None:
            return TradeResult(retcodes.INVALID, f"There is no open order {ticket}.", None)
        request = mapping.modify_request(
            order=terminal, price=price, sl=sl, tp=tp, stop_limit=stop_limit
        )
        return await self._action(request, order)

    async def rates(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]:
        """The last `count` closed bars of `symbol` from the terminal, oldest first
        (position 0 is the bar still forming: it is left out)."""
        frame = TIMEFRAMES.get(timeframe)
        if frame is None:
            raise ValueError(f"MT5 has no {timeframe.value} bars; the shortest is M1.")
        async with self._lock:
            rows = await self._need("copy_rates_from_pos", symbol, frame, 1, count)
        return [
            Bar(
                symbol=symbol,
                timeframe=timeframe,
                time=mapping.moment(row),
                open=float(row["open"]),
                high=float(row["high"]),
                low=float(row["low"]),
                close=float(row["close"]),
                ticks=int(row.get("tick_volume", 0)),
            )
            for row in rows
        ]

    async def book(self, symbol: str, depth: int) -> OrderBook | None:
        """The terminal's depth of market (`market_book_add` once per symbol,
        then `market_book_get`); None where the server gives none."""
        if symbol in self._no_book or not self._connected:
            return None
        async with self._lock:
            if symbol not in self._books:
                added, _ = await self.bridge.call("market_book_add", symbol)
                if not added:
                    self._no_book.add(symbol)
                    return None
                self._books.add(symbol)
            rows, _ = await self.bridge.call("market_book_get", symbol)
        if not rows:
            return None
        sells = sorted(
            (r for r in rows if r["type"] in (mt5.BOOK_TYPE_SELL, mt5.BOOK_TYPE_SELL_MARKET)),
            key=lambda r: r["price"],
        )
        buys = sorted(
            (r for r in rows if r["type"] in (mt5.BOOK_TYPE_BUY, mt5.BOOK_TYPE_BUY_MARKET)),
            key=lambda r: -r["price"],
        )

        spec = self._book.specs.get(symbol)
        digits = spec.digits if spec is not None else 5

        def level(row: Record) -> BookLevel:
            volume = float(row.get("volume_dbl") or row.get("volume", 0))
            return BookLevel(price=mapping.decimal(row["price"], digits), volume=volume)

        return OrderBook(
            symbol=symbol,
            time=self._clock.now(),
            bids=[level(r) for r in buys[:depth]],
            asks=[level(r) for r in sells[:depth]],
        )

    # --- reading ---------------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        book = self._book
        info = book.account_info or {}
        now = self._clock.now()
        unrealised = sum((p.profit for p in book.positions.values()), Decimal(0))
        day_start = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
        balance = mapping.money(info["balance"]) if "balance" in info else book.balance
        equity = mapping.money(info["equity"]) if "equity" in info else balance + unrealised
        margin = mapping.money(info.get("margin", 0))
        level = info.get("margin_level")
        return AccountSnapshot(
            account_id=self.account_id,
            broker=BrokerKind.MT5,
            currency=str(info.get("currency", self._config.currency)),
            leverage=int(info.get("leverage", self._config.leverage)),
            starting_balance=self._starting_balance,
            balance=balance,
            equity=equity,
            margin=margin,
            free_margin=mapping.money(info["margin_free"]) if "margin_free" in info else equity,
            margin_level=mapping.money(level) if margin and level else None,
            realised_pnl=book.realised,
            unrealised_pnl=unrealised,
            commission=book.commission,
            pnl_today=book.realised_since(day_start) + unrealised,
            open_positions=len(book.positions),
            pending_orders=len(book.orders),
            time=now,
        )

    def positions(self) -> list[Position]:
        return sorted(self._book.positions.values(), key=lambda p: p.ticket)

    def position(self, ticket: int) -> Position | None:
        return self._book.positions.get(ticket)

    def funds(self) -> Funds:
        info = self._book.account_info or {}
        if "equity" in info and "margin_free" in info:
            return Funds(
                str(info.get("currency", self._config.currency)),
                int(info.get("leverage", self._config.leverage)),
                mapping.money(info["equity"]),
                mapping.money(info["margin_free"]),
            )
        account = self.account()
        return Funds(account.currency, account.leverage, account.equity, account.free_margin)

    def holdings(self) -> Mapping[str, Holding]:
        """Counted once per terminal reading (each replaces the book's positions)."""
        positions = self._book.positions
        cached = self._holdings
        if cached is None or cached[0] is not positions:
            cached = self._holdings = (positions, holdings_of(positions.values()))
        return cached[1]

    def open_orders(self) -> list[Order]:
        orders = [*self._book.orders.values(), *self._book.in_doubt.values()]
        return sorted(orders, key=lambda o: o.ticket)

    def last_quote(self, symbol: str) -> Quote | None:
        return self._book.quotes.get(symbol)

    # --- sending ---------------------------------------------------------------------------

    async def _submit(self, order: Order, filling: Filling) -> TradeResult:
        if not self._connected:
            return self._reject(
                order, retcodes.CONNECTION, "No connection with the MT5 terminal; reconnecting."
            )
        spec = self._book.specs.get(order.symbol)
        if spec is None:
            return self._reject(
                order, retcodes.INVALID, f"{order.symbol} is not a symbol this account trades."
            )
        terminal_position = None
        if order.position_ticket is not None:
            terminal_position = self._book.terminal_position(order.position_ticket)
            if terminal_position is None:
                return self._reject(
                    order, retcodes.INVALID, f"There is no open position {order.position_ticket}."
                )
        self._book.strategies.setdefault(order.ticket, order.strategy_id)
        async with self._lock:
            return await self._attempts(order, spec, filling, terminal_position)

    async def _attempts(
        self, order: Order, spec: SymbolSpec, filling: Filling, position: int | None
    ) -> TradeResult:
        carried = Changes()  # what readings found meanwhile goes out with the result
        retcode, message = retcodes.ERROR, "no attempt was made"
        for attempt in range(1, self._retry.attempts + 1):
            if attempt > 1:
                await self._clock.sleep(self._retry.order_backoff * 2 ** (attempt - 2))
            try:
                request = await self._request(order, spec, filling, position)
                if attempt == 1 and position is None:
                    check, _ = await self.bridge.call("order_check", request)
                    if check is not None and int(check["retcode"]) not in _ORDER_CHECK_OK:
                        code = int(check["retcode"])
                        return self._refused(order, code, check.get("comment"), carried)
                result, error = await self.bridge.call("order_send", request)
            except BridgeLost as exc:
                return self._in_doubt(order, str(exc), carried)
            except BridgeDown as exc:
                self._lose(str(exc))
                return self._refused(order, retcodes.CONNECTION, str(exc), carried)
            retcode = int(result["retcode"]) if result else retcodes.TIMEOUT
            message = _sentence(retcode, result, error)
            if result is None or retcode in UNCERTAIN:
                found = await self._reconcile(order, carried)
                if found is not None:
                    return found
                if error is not None and error[0] in mt5.IPC_ERRORS:
                    self._lose(message)
                    return self._refused(order, retcodes.CONNECTION, message, carried)
                continue
            if retcode in RETRIED:
                self._hooks.log(f"order {order.ticket}: {message}; retrying", "info")
                continue
            if retcode in retcodes.SUCCESS_RETCODES:
                return await self._executed(order, result, retcode, carried)
            return self._refused(order, retcode, result.get("comment"), carried)
        return self._refused(
            order, retcode, f"{message} (gave up after {self._retry.attempts} attempts)", carried
        )

    async def _request(
        self, order: Order, spec: SymbolSpec, filling: Filling, position: int | None
    ) -> Record:
        comment = mapping.tagged_comment(order.ticket, order.comment)
        magic = self._config.magic
        if order.type is OrderType.MARKET:
            tick = await self._need("symbol_info_tick", order.symbol)
            price = spec.price(tick["ask"] if order.side.value == "buy" else tick["bid"])
            assert price is not None
            return mapping.market_request(
                symbol=order.symbol,
                side=order.side,
                volume=order.volume,
                price=price,
                filling=spec.filling(filling, pending=False),
                deviation=self._config.deviation_points,
                magic=magic,
                comment=comment,
                sl=order.sl,
                tp=order.tp,
                position=position,
            )
        if order.price is None:
            raise ValueError(f"a {order.type.value} order needs a price")
        return mapping.pending_request(
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            volume=order.volume,
            price=order.price,
            filling=spec.filling(filling, pending=True),
            magic=magic,
            comment=comment,
            stop_limit=order.stop_limit,
            sl=order.sl,
            tp=order.tp,
        )

    async def _executed(
        self, order: Order, result: Record, retcode: int, carried: Changes
    ) -> TradeResult:
        """The terminal accepted the order: read what it did, report the order."""
        terminal = int(result.get("order") or 0)
        if terminal:
            self._book.expect(terminal, order)
        if retcode == retcodes.PLACED:
            placed = order.model_copy(
                update={"status": OrderStatus.PLACED, "retcode": retcode, "reason": None}
            )
            self._book.orders[order.ticket] = placed
        carried.extend(await self._read_or_lose())
        self._hooks.alerts.resolve_key(self._autotrading_key)
        final = self._outcome(order, retcode, result)
        _replace_order(carried, final)
        message = retcodes.describe(retcode)
        return TradeResult(retcode, f"{message}.", final, carried)

    def _outcome(self, order: Order, retcode: int, result: Record | None = None) -> Order:
        """The order as the terminal left it: resting, or filled by its deals (by
        the answer's volume and price when its deals are not in the history yet)."""
        book = self._book
        if order.ticket in book.orders:
            return book.orders[order.ticket]
        volume, price = book.filled.get(order.ticket, (Decimal(0), Decimal(0)))
        if not volume and result and result.get("volume"):
            spec = book.specs[order.symbol]
            volume, price = mapping.volume(result["volume"]), spec.price(result["price"]) or price
        reason = None
        if 0 < volume < order.volume:
            reason = f"only {volume} of {order.volume} lots were filled; the rest was cancelled"
        return order.model_copy(
            update={
                "status": OrderStatus.FILLED if volume > 0 else OrderStatus.PLACED,
                "filled_volume": volume,
                "fill_price": price if volume > 0 else None,
                "retcode": retcode,
                "reason": reason,
                "broker_ticket": book.terminal_order(order.ticket),
                "updated_at": self._clock.now(),
            }
        )

    async def _reconcile(self, order: Order, carried: Changes) -> TradeResult | None:
        """Look for `order` on the terminal (a deal, a position or a pending
        order carrying its ticket); the result when it executed, None when not."""
        try:
            carried.extend(await self._read())
        except BridgeDown as exc:
            self._lose(str(exc))
            return self._in_doubt(order, str(exc), carried)
        if order.ticket not in self._book.found:
            return None
        self._hooks.log(f"order {order.ticket} found on the terminal after a lost answer", "info")
        retcode = retcodes.PLACED if order.ticket in self._book.orders else retcodes.DONE
        final = self._outcome(order, retcode)
        _replace_order(carried, final)
        return TradeResult(retcode, "Executed (confirmed on the terminal).", final, carried)

    def _in_doubt(self, order: Order, why: str, carried: Changes) -> TradeResult:
        """The request went out and its answer was lost with the link: keep the order
        pending until the terminal is back and says whether it executed."""
        self._lose(why)
        pending = order.model_copy(
            update={
                "status": OrderStatus.PENDING,
                "retcode": retcodes.TIMEOUT,
                "reason": f"outcome unknown until the terminal is back: {why}",
            }
        )
        self._book.in_doubt[order.ticket] = pending
        _replace_order(carried, pending)
        return TradeResult(retcodes.TIMEOUT, pending.reason or why, pending, carried)

    async def _action(self, request: Record, order: Order | None) -> TradeResult:
        """A request on something that exists (modify, remove): no retry, no reconciliation."""
        if not self._connected:
            return TradeResult(retcodes.CONNECTION, "No connection with the MT5 terminal.", order)
        async with self._lock:
            try:
                result, error = await self.bridge.call("order_send", request)
            except BridgeDown as exc:
                self._lose(str(exc))
                return TradeResult(retcodes.CONNECTION, str(exc), order)
            retcode = int(result["retcode"]) if result else retcodes.TIMEOUT
            message = _sentence(retcode, result, error)
            if retcode in retcodes.SUCCESS_RETCODES:
                changes = await self._read_or_lose()
                return TradeResult(retcode, f"{message}.", order, changes)
            self._alert_for(retcode)
            return TradeResult(retcode, message, order)

    def _refused(
        self, order: Order, retcode: int, comment: str | None, carried: Changes
    ) -> TradeResult:
        self._alert_for(retcode)
        result = self._reject(order, retcode, _sentence(retcode, {"comment": comment}, None))
        carried.extend(result.changes)
        result.changes = carried
        return result

    def _reject(self, order: Order, retcode: int, reason: str) -> TradeResult:
        rejected = order.model_copy(
            update={
                "status": OrderStatus.REJECTED,
                "retcode": retcode,
                "reason": reason,
                "updated_at": self._clock.now(),
            }
        )
        return TradeResult(retcode, reason, rejected, Changes([rejected]))

    def _alert_for(self, retcode: int) -> None:
        if retcode == retcodes.CLIENT_DISABLES_AT:
            message = (
                f"Algo Trading is off in the MetaTrader 5 terminal of account {self.account_id}: "
                "switch on the Algo Trading button in the terminal's toolbar (and allow "
                "algorithmic trading under Tools > Options > Expert Advisors)."
            )
        elif retcode == retcodes.SERVER_DISABLES_AT:
            message = (
                f"The broker's server disabled automated trading for account {self.account_id}; "
                "ask the broker to enable it."
            )
        else:
            return
        self._hooks.alerts.raise_alert(
            "mt5_autotrading",
            Severity.HIGH,
            message,
            account_id=self.account_id,
            dedup_key=self._autotrading_key,
        )

    @property
    def _autotrading_key(self) -> str:
        return f"mt5_autotrading:{self.account_id}"

    # --- reading the terminal ----------------------------------------------------------------

    async def _read(self) -> Changes:
        """One reading of the account: what changed since the last one."""
        book = self._book
        now = self._clock.now()
        account = await self._need("account_info")
        positions = await self._need("positions_get")
        orders = await self._need("orders_get")
        # The window starts a day or more back, so it holds today's deals too
        # (pnl_today) without a call of its own.
        deals = await self._need(
            "history_deals_get",
            int(self._deals_from.timestamp()),
            int((now + _DEAL_WINDOW).timestamp()),
        )
        quotes = book.ticks(await self._need(TICKS_CALL, list(book.specs)))
        opening = await self._openings(positions, deals)
        changes = book.absorb(Reading(account, positions, orders, deals), opening)
        self._settle_in_doubt(changes)
        # The next reading looks back a window from this one, so a disconnection
        # shorter than the window loses no deal.
        self._deals_from = now - _DEAL_WINDOW
        if quotes:
            self._hooks.on_quotes(quotes)
        return changes

    async def _read_or_lose(self) -> Changes:
        try:
            return await self._read()
        except BridgeDown as exc:
            self._lose(str(exc))
            return Changes()

    async def _openings(self, positions: list[Record], deals: list[Record]) -> dict[int, Record]:
        """The opening deal of every deal's position that the book cannot number
        yet (a position opened before the window of deals read)."""
        book = self._book
        unknown = {
            int(d["position_id"])
            for d in deals
            if mapping.is_trade_deal(d)
            and book.ours(d)
            and int(d["position_id"]) not in book.position_ids
            and int(d["entry"]) != mt5.DEAL_ENTRY_IN
        }
        unknown -= {int(p.get("identifier") or p["ticket"]) for p in positions}
        found: dict[int, Record] = {}
        for position_id in sorted(unknown):
            history = await self._need("history_deals_get", position=position_id)
            first = next((d for d in history if int(d["entry"]) == mt5.DEAL_ENTRY_IN), None)
            if first is not None:
                found[position_id] = first
        return found

    def _settle_in_doubt(self, changes: Changes) -> None:
        """Orders whose answer was lost: found on the terminal, or ruled out. Only
        a reading after reconnecting gets here: losing the answer broke the link."""
        book = self._book
        for ticket, order in list(book.in_doubt.items()):
            if ticket in book.found:
                settled = self._outcome(order, retcodes.DONE)
            else:
                settled = order.model_copy(
                    update={
                        "status": OrderStatus.REJECTED,
                        "retcode": retcodes.CONNECTION,
                        "reason": "not executed: the link to the terminal broke before it arrived",
                        "updated_at": self._clock.now(),
                    }
                )
            del book.in_doubt[ticket]
            _replace_order(changes, settled)

    async def _need(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A terminal call that must answer; an IPC error means the link is broken."""
        result, error = await self.bridge.call(name, *args, **kwargs)
        if result is None:
            code, text = error or (mt5.RES_E_FAIL, "no result")
            raise TerminalLost(f"The MT5 terminal failed in {name}: {text} ({code}).")
        return result

    # --- connection --------------------------------------------------------------------------

    async def _open(self) -> Changes:
        """A fresh bridge, logged in, symbols selected, the account read."""
        account = self._config
        password = read_password(account)
        version = await self.bridge.start()
        timeout_ms = int(account.mt5_timeout_seconds * 1000)
        init_args = [account.terminal_path] if account.terminal_path else []
        ok, error = await self.bridge.call(
            "initialize",
            *init_args,
            timeout=timeout_ms,
            call_timeout=account.mt5_timeout_seconds * 2 + 5,
        )
        if not ok:
            await self.bridge.close()
            raise Unavailable(
                f"The MT5 terminal of account {self.account_id} did not start: "
                f"{_error_text(error)}."
            )
        await self._login(password, timeout_ms)
        info = await self._need("terminal_info")
        if not info.get("trade_allowed", True):
            self._alert_for(retcodes.CLIENT_DISABLES_AT)
        for symbol in account.symbols:
            selected, error = await self.bridge.call("symbol_select", symbol, True)
            spec, _ = await self.bridge.call("symbol_info", symbol)
            if not selected or not spec:
                raise EngineError(
                    f"{symbol} is not available on {account.server} for account "
                    f"{self.account_id}: {_error_text(error)}."
                )
            self._book.specs[symbol] = SymbolSpec.of(spec)
        async with self._lock:
            changes = await self._read()
        self._connected = True
        self._broken.clear()
        self._hooks.log(
            f"connected to MT5 login {account.login} on {account.server} (MetaTrader5 {version})",
            "info",
        )
        return changes

    async def _login(self, password: str, timeout_ms: int) -> None:
        """Log in; a login that times out is confirmed by asking who is logged in."""
        account = self._config
        ok, error = await self.bridge.call(
            "login",
            account.login,
            password=password,
            server=account.server,
            timeout=timeout_ms,
            call_timeout=account.mt5_timeout_seconds * 2 + 5,
        )
        if ok:
            return
        code = error[0] if error else mt5.RES_E_FAIL
        if code == mt5.RES_E_INTERNAL_FAIL_TIMEOUT:
            info, _ = await self.bridge.call("account_info")
            if info and int(info.get("login", 0)) == account.login:
                return
        await self.bridge.close()
        if code == mt5.RES_E_AUTH_FAILED:
            raise LoginFailed(
                f"MT5 refused login {account.login} on {account.server} for account "
                f"{self.account_id}: authorization failed. Check the password in "
                f"{self._password_source()} and the server name."
            )
        raise Unavailable(
            f"Login {account.login} on {account.server} failed: {_error_text(error)}."
        )

    def _password_source(self) -> str:
        if self._config.password_file is not None:
            return str(self._config.password_file)
        return password_variable(self._config)

    def _lose(self, why: str) -> None:
        """The link broke: stop trading and let the poller reconnect."""
        if self._connected:
            self._hooks.log(f"lost the MT5 terminal: {why}", "warning")
        self._connected = False
        self._broken.set()

    async def _poll_loop(self) -> None:
        interval = self._config.mt5_poll_ms / 1000
        while True:
            await self._wait(interval)
            if self._broken.is_set():
                await self._reconnect()
                continue
            try:
                async with self._lock:
                    changes = await self._read()
            except BridgeDown as exc:
                self._lose(str(exc))
                continue
            if changes:
                self._hooks.on_changes(changes)

    async def _wait(self, seconds: float) -> None:
        """Sleep on the clock, waking early when the link breaks."""
        if self._broken.is_set():
            return
        sleep = asyncio.ensure_future(self._clock.sleep(seconds))
        broken = asyncio.ensure_future(self._broken.wait())
        try:
            await asyncio.wait({sleep, broken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            broken.cancel()

    async def _reconnect(self) -> None:
        """Back off, reopen, read everything again; `running` once it worked."""
        reason = "the link to the MT5 terminal broke"
        self._hooks.on_link(WorkerState.RECONNECTING, reason)
        retry = self._retry
        attempt = 0
        while True:
            attempt += 1
            delay = min(retry.reconnect_max, retry.reconnect_initial * 2 ** (attempt - 1))
            await self._clock.sleep(delay)
            try:
                changes = await self._open()
            except (EngineError, OSError) as exc:
                await self.bridge.kill()
                self._hooks.on_link(WorkerState.RECONNECTING, f"reconnect {attempt} failed: {exc}")
                continue
            self._hooks.on_changes(changes)
            self._hooks.on_link(WorkerState.RUNNING, None)
            self._hooks.log(f"reconnected to the MT5 terminal after {attempt} attempt(s)", "info")
            return


def deals_from(now: datetime, ledger: PaperLedger) -> datetime:
    """Where the first reading of the terminal's deals starts: a day back, or a
    day before the oldest position stored (its closing deals may have come
    while tradedeck was stopped)."""
    start = now - _DEAL_WINDOW
    opened = [p.open_time for p in ledger.positions]
    return min(start, min(opened) - _DEAL_WINDOW) if opened else start


def _replace_order(changes: Changes, order: Order) -> None:
    """Report `order` once, in its latest state."""
    changes.orders[:] = [o for o in changes.orders if o.ticket != order.ticket]
    changes.orders.append(order)


def _sentence(retcode: int, result: Record | None, error: tuple[int, str] | None) -> str:
    """A retcode's meaning in words, with the server's own comment when it adds one."""
    meaning = retcodes.describe(retcode)
    comment = (result or {}).get("comment") or ""
    if error is not None and result is None:
        comment = _error_text(error)
    if comment and comment.lower() not in meaning.lower():
        return f"{meaning} ({comment})"
    return meaning


def _error_text(error: tuple[int, str] | None) -> str:
    if error is None:
        return "no error reported"
    code, text = error
    return f"{text or mt5.LAST_ERRORS.get(code, 'unknown error')} ({code})"
