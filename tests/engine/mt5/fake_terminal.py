"""A MetaTrader 5 terminal and trade server, simulated in the test process.

The stand-in `MetaTrader5` module (fake_mt5/MetaTrader5) in a bridge child
forwards every call here over a socket, as the real package talks to
terminal64.exe. The terminal keeps hedging accounts with positions, pending
orders and deals under MT5's numbering (a position's ticket is its opening
order's), quotes from `quotes` (the engine's market or prices a test sets),
margin, commission, SL/TP and pending triggers, and answers with MT5's
records and retcodes. Tests steer it: requotes, partial fills, lost answers,
a dead trade server, a broken IPC link, Algo Trading off, or a terminal that
stops answering altogether.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from config.models import InstrumentConfig
from engine.brokers import retcodes as rc
from engine.brokers.mt5 import constants as mt5

STAND_IN = Path(__file__).parent / "fake_mt5"

Quotes = Callable[[str], tuple[Decimal, Decimal] | None]

_BUYS = {mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_BUY_STOP}
_BUYS |= {mt5.ORDER_TYPE_BUY_STOP_LIMIT}
_FILLING_FLAGS = {"fok": mt5.SYMBOL_FILLING_FOK, "ioc": mt5.SYMBOL_FILLING_IOC}


@dataclass
class FakeAccount:
    login: int
    password: str
    server: str
    balance: Decimal
    currency: str = "USD"
    leverage: int = 100
    commission_per_lot: Decimal = Decimal(0)
    positions: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    deals: list[dict[str, Any]] = field(default_factory=list)


class FakeTerminal:
    def __init__(
        self,
        instruments: dict[str, InstrumentConfig],
        now: Callable[[], datetime],
        quotes: Quotes | None = None,
    ) -> None:
        self.instruments = instruments
        self.now = now
        self._quotes = quotes
        self._prices: dict[str, tuple[Decimal, Decimal]] = {}
        self._ticks: dict[str, tuple[tuple[Decimal, Decimal], int]] = {}  # price, its time_msc
        self.accounts: dict[int, FakeAccount] = {}
        self.lock = threading.RLock()
        self._tickets = 500_000
        # What tests steer
        self.requests: list[dict[str, Any]] = []  # every order_send request, as received
        self.requotes = 0  # the next n market deals are requoted
        self.partial: Decimal | None = None  # the next IOC deal fills this fraction
        self.timeout_after_execution = 0  # the next n deals execute but answer 10012
        self.server_down = False  # order_send answers 10031, nothing executes
        self.ipc_down = False  # every call fails with an IPC error
        self.algo_trading = True
        self.book_depth = 0  # levels a side `market_book_get` gives; 0: no depth of market
        self.books: set[str] = set()  # symbols `market_book_add`ed
        self.answering = threading.Event()
        self.answering.set()
        self.calls: list[str] = []
        self.rates_requests: list[tuple[str, int, int, int]] = []  # copy_rates_from_pos args
        self.key = secrets.token_hex(8)
        self._listener = Listener(("127.0.0.1", 0), authkey=self.key.encode())
        self._stopped = False
        self._threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()

    # --- steering ------------------------------------------------------------------------

    @property
    def address(self) -> str:
        host, port = self._listener.address
        return f"{host}:{port}"

    def environment(self) -> dict[str, str]:
        """What a bridge child needs to find this terminal through the stand-in."""
        path = os.pathsep.join([str(STAND_IN), os.environ.get("PYTHONPATH", "")])
        return {"PYTHONPATH": path, "FAKE_MT5_TERMINAL": self.address, "FAKE_MT5_KEY": self.key}

    def add_account(self, account: FakeAccount) -> FakeAccount:
        self.accounts[account.login] = account
        return account

    def set_price(self, symbol: str, bid: str | Decimal, ask: str | Decimal) -> None:
        with self.lock:
            self._prices[symbol] = (Decimal(bid), Decimal(ask))
            self._process()

    @contextmanager
    def silent(self) -> Iterator[None]:
        """The terminal stops answering (every call hangs) until the block ends."""
        self.answering.clear()
        try:
            yield
        finally:
            self.answering.set()

    def close(self) -> None:
        self._stopped = True
        self.answering.set()
        self._listener.close()

    # --- the server ----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped:
            try:
                connection = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._session, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _session(self, connection: Connection) -> None:
        """One terminal connection (one bridge process): its own login and errors."""
        session = _Session()
        with connection:
            while True:
                try:
                    name, args, kwargs = connection.recv()
                except (EOFError, OSError):
                    return
                self.answering.wait()
                if self._stopped:
                    return
                with self.lock:
                    self.calls.append(name)
                    result = self._dispatch(session, name, args, kwargs)
                try:
                    connection.send(result)
                except OSError:
                    return

    def _dispatch(self, session: _Session, name: str, args: tuple, kwargs: dict) -> Any:  # type: ignore[type-arg]
        if name == "last_error":
            return list(session.error)
        if self.ipc_down and name != "shutdown":
            session.error = (mt5.RES_E_INTERNAL_FAIL_CONNECT, "internal IPC no ipc")
            return None
        session.error = (mt5.RES_S_OK, "Success")
        if name in ("initialize", "login"):
            return self._login(session, args, kwargs)
        if name == "shutdown":
            session.account = None
            return None
        if session.account is None:
            session.error = (mt5.RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed")
            return None
        self._process()
        handler = getattr(self, f"_{name}")
        return handler(session, *args, **kwargs)

    # --- calls ---------------------------------------------------------------------------

    def _login(self, session: _Session, args: tuple, kwargs: dict) -> bool:  # type: ignore[type-arg]
        login = kwargs.get("login", args[0] if args and isinstance(args[0], int) else None)
        if login is None:
            session.initialized = True
            return True
        account = self.accounts.get(login)
        if (
            account is None
            or kwargs.get("password") != account.password
            or kwargs.get("server") != account.server
        ):
            session.error = (mt5.RES_E_AUTH_FAILED, "Authorization failed")
            return False
        session.account = account
        return True

    def _version(self, session: _Session) -> list[Any]:
        return [500, 4755, "1 Jan 2026"]

    def _terminal_info(self, session: _Session) -> dict[str, Any]:
        return _tag(
            "TerminalInfo",
            connected=not self.server_down,
            trade_allowed=self.algo_trading,
            tradeapi_disabled=False,
            build=4755,
            company="Fake Broker",
            name="MetaTrader 5",
            path="C:\\Fake\\MetaTrader 5",
        )

    def _account_info(self, session: _Session) -> dict[str, Any]:
        account = session.account
        assert account is not None
        profit = sum((self._floating(account, p) for p in account.positions.values()), Decimal(0))
        margin = sum((self._margin(account, p) for p in account.positions.values()), Decimal(0))
        equity = account.balance + profit
        return _tag(
            "AccountInfo",
            login=account.login,
            trade_mode=0,
            leverage=account.leverage,
            limit_orders=200,
            margin_so_mode=0,
            trade_allowed=True,
            trade_expert=self.algo_trading,
            margin_mode=mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
            currency_digits=2,
            fifo_close=False,
            balance=float(account.balance),
            credit=0.0,
            profit=float(profit),
            equity=float(equity),
            margin=float(margin),
            margin_free=float(equity - margin),
            margin_level=float(equity / margin * 100) if margin else 0.0,
            margin_so_call=50.0,
            margin_so_so=30.0,
            name="Test Trader",
            server=account.server,
            currency=account.currency,
            company="Fake Broker",
        )

    def _symbol_select(self, session: _Session, symbol: str, enable: bool = True) -> bool:
        if symbol not in self.instruments:
            session.error = (mt5.RES_E_NOT_FOUND, "Symbol not found")
            return False
        if enable:
            session.selected.add(symbol)
        return True

    def _symbol_info(self, session: _Session, symbol: str) -> dict[str, Any] | None:
        spec = self.instruments.get(symbol)
        if spec is None:
            session.error = (mt5.RES_E_NOT_FOUND, "Symbol not found")
            return None
        bid, ask = self._price(symbol) or (Decimal(0), Decimal(0))
        flags = sum(_FILLING_FLAGS.get(m, 0) for m in spec.filling_modes)
        return _tag(
            "SymbolInfo",
            select=symbol in session.selected,
            digits=spec.digits,
            spread=spec.spread_points,
            trade_mode=mt5.SYMBOL_TRADE_MODE_FULL,
            trade_stops_level=spec.stops_level,
            trade_exemode=2,  # SYMBOL_TRADE_EXECUTION_MARKET
            filling_mode=flags,
            bid=float(bid),
            ask=float(ask),
            point=float(spec.point),
            trade_contract_size=float(spec.contract_size),
            volume_min=float(spec.volume_min),
            volume_max=float(spec.volume_max),
            volume_step=float(spec.volume_step),
            currency_profit=spec.profit_currency,
            description=spec.description,
            name=symbol,
        )

    def _symbol_info_tick(self, session: _Session, symbol: str) -> dict[str, Any] | None:
        price = self._price(symbol) if symbol in session.selected else None
        if price is None:
            session.error = (mt5.RES_E_NOT_FOUND, "Symbol not selected or not quoted")
            return None
        # As on MT5, a tick's time is when its price last changed.
        last = self._ticks.get(symbol)
        msc = last[1] if last is not None and last[0] == price else _msc(self.now())
        self._ticks[symbol] = (price, msc)
        return _tag(
            "Tick",
            time=msc // 1000,
            bid=float(price[0]),
            ask=float(price[1]),
            last=0.0,
            volume=0,
            time_msc=msc,
            flags=6,
            volume_real=0.0,
        )

    def _market_book_add(self, session: _Session, symbol: str) -> bool:
        if not self.book_depth or symbol not in session.selected:
            session.error = (mt5.RES_E_NOT_FOUND, "Market depth not available")
            return False
        self.books.add(symbol)
        return True

    def _market_book_get(self, session: _Session, symbol: str) -> list[dict[str, Any]] | None:
        """As MT5 orders it: by price, highest first (the asks, then the bids)."""
        price = self._price(symbol)
        if symbol not in self.books or price is None:
            session.error = (mt5.RES_E_NOT_FOUND, "Market depth not subscribed")
            return None
        point = self.instruments[symbol].point
        entries = []
        for level in range(self.book_depth - 1, -1, -1):
            volume = float(level + 1)
            entries.append(_book(mt5.BOOK_TYPE_SELL, price[1] + point * level, volume))
        for level in range(self.book_depth):
            volume = float(level + 2)
            entries.append(_book(mt5.BOOK_TYPE_BUY, price[0] - point * level, volume))
        return entries

    def _market_book_release(self, session: _Session, symbol: str) -> bool:
        self.books.discard(symbol)
        return True

    def _copy_rates_from_pos(
        self, session: _Session, symbol: str, timeframe: int, start: int, count: int
    ) -> list[dict[str, Any]]:
        """Flat bars at the current bid, oldest first; position 0 is the bar
        still forming, as on MT5."""
        self.rates_requests.append((symbol, timeframe, start, count))
        price = self._price(symbol) or (Decimal(1), Decimal(1))
        close = float(price[0])
        seconds = _timeframe_seconds(timeframe)
        forming = int(self.now().timestamp()) // seconds * seconds
        return [
            {"time": forming - seconds * position, "open": close, "high": close, "low": close,
             "close": close, "tick_volume": 4, "spread": 10, "real_volume": 0}
            for position in range(start + count - 1, start - 1, -1)
        ]  # fmt: skip

    def _positions_get(self, session: _Session, **filters: Any) -> list[dict[str, Any]]:
        account = session.account
        assert account is not None
        return [
            self._position_record(account, p)
            for p in account.positions.values()
            if _matches(p, filters)
        ]

    def _orders_get(self, session: _Session, **filters: Any) -> list[dict[str, Any]]:
        account = session.account
        assert account is not None
        return [_tag("TradeOrder", **o) for o in account.orders.values() if _matches(o, filters)]

    def _history_deals_get(
        self, session: _Session, date_from: int | None = None, date_to: int | None = None,
        position: int | None = None, ticket: int | None = None, group: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        account = session.account
        assert account is not None
        deals = account.deals
        if position is not None:
            deals = [d for d in deals if d["position_id"] == position]
        elif ticket is not None:
            deals = [d for d in deals if d["order"] == ticket]
        else:
            deals = [d for d in deals if date_from <= d["time"] <= date_to]  # type: ignore[operator]
        return [_tag("TradeDeal", **d) for d in deals]

    def _history_orders_get(self, session: _Session, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def _order_check(self, session: _Session, request: dict[str, Any]) -> dict[str, Any]:
        account = session.account
        assert account is not None
        info = self._account_info(session)
        need = Decimal(0)
        price = self._price(request["symbol"])
        if price is not None and request["action"] in (
            mt5.TRADE_ACTION_DEAL,
            mt5.TRADE_ACTION_PENDING,
        ):
            spec = self.instruments[request["symbol"]]
            need = self._margin_for(account, spec, Decimal(str(request["volume"])), price[1])
        free = Decimal(str(info["margin_free"]))
        retcode, comment = (0, "Done") if need <= free else (rc.NO_MONEY, "No money")
        return _tag(
            "OrderCheckResult",
            retcode=retcode,
            balance=info["balance"],
            equity=info["equity"],
            profit=info["profit"],
            margin=float(Decimal(str(info["margin"])) + need),
            margin_free=float(free - need),
            margin_level=0.0,
            comment=comment,
            request=_tag("TradeRequest", **_request_fields(request)),
        )

    def _order_send(self, session: _Session, request: dict[str, Any]) -> dict[str, Any]:
        account = session.account
        assert account is not None
        self.requests.append(dict(request))
        if not self.algo_trading:
            return self._answer(request, rc.CLIENT_DISABLES_AT, "AutoTrading disabled by client")
        if self.server_down:
            return self._answer(request, rc.CONNECTION, "No connection")
        action = request.get("action")
        if action == mt5.TRADE_ACTION_DEAL:
            return self._deal_request(session, account, request)
        if action == mt5.TRADE_ACTION_PENDING:
            return self._pending_request(account, request)
        if action == mt5.TRADE_ACTION_SLTP:
            position = account.positions.get(request.get("position", 0))
            if position is None:
                return self._answer(request, rc.POSITION_CLOSED, "Position doesn't exist")
            position.update(sl=request.get("sl", 0.0), tp=request.get("tp", 0.0))
            return self._answer(request, rc.DONE, "Request executed")
        if action == mt5.TRADE_ACTION_MODIFY:
            order = account.orders.get(request.get("order", 0))
            if order is None:
                return self._answer(request, rc.INVALID_ORDER, "Order doesn't exist")
            order.update(
                price_open=request["price"], sl=request.get("sl", 0.0), tp=request.get("tp", 0.0)
            )
            return self._answer(request, rc.DONE, "Request executed", order=order["ticket"])
        if action == mt5.TRADE_ACTION_REMOVE:
            order = account.orders.pop(request.get("order", 0), None)
            if order is None:
                return self._answer(request, rc.INVALID_ORDER, "Order doesn't exist")
            return self._answer(request, rc.DONE, "Request executed", order=order["ticket"])
        return self._answer(request, rc.INVALID, "Invalid request")

    def _deal_request(
        self, session: _Session, account: FakeAccount, request: dict[str, Any]
    ) -> dict[str, Any]:
        symbol = request.get("symbol", "")
        spec = self.instruments.get(symbol)
        price = self._price(symbol)
        if spec is None or symbol not in session.selected or price is None:
            return self._answer(request, rc.INVALID, "Invalid request")
        if request.get("type_filling") not in self._fillings(spec):
            return self._answer(request, rc.INVALID_FILL, "Unsupported filling mode")
        volume = Decimal(str(request["volume"]))
        if volume < spec.volume_min or volume > spec.volume_max or volume % spec.volume_step:
            return self._answer(request, rc.INVALID_VOLUME, "Invalid volume")
        buy = request["type"] == mt5.ORDER_TYPE_BUY
        market = price[1] if buy else price[0]
        slip = abs(Decimal(str(request["price"])) - market) / spec.point
        if self.requotes > 0 or slip > request.get("deviation", 0):
            self.requotes = max(0, self.requotes - 1)
            return self._answer(request, rc.REQUOTE, "Requote", bid=price[0], ask=price[1])
        closing = request.get("position")
        if closing:
            position = account.positions.get(closing)
            if position is None:
                return self._answer(request, rc.POSITION_CLOSED, "Position doesn't exist")
            volume = min(volume, Decimal(str(position["volume"])))
        elif self._margin_for(account, spec, volume, market) > self._free(account):
            return self._answer(request, rc.NO_MONEY, "No money")
        retcode = rc.DONE
        if self.partial is not None and request["type_filling"] == mt5.ORDER_FILLING_IOC:
            volume = (volume * self.partial).quantize(spec.volume_step, ROUND_DOWN)
            self.partial = None
            retcode = rc.DONE_PARTIAL
        order = self._ticket()
        deal = self._execute(account, request, order, volume, market, mt5.DEAL_REASON_EXPERT)
        if self.timeout_after_execution > 0:
            self.timeout_after_execution -= 1
            return self._answer(request, rc.TIMEOUT, "Request timed out")
        return self._answer(
            request, retcode, "Request executed", deal=deal, order=order, volume=volume,
            price=market, bid=price[0], ask=price[1],
        )  # fmt: skip

    def _pending_request(self, account: FakeAccount, request: dict[str, Any]) -> dict[str, Any]:
        symbol = request.get("symbol", "")
        price = self._price(symbol)
        if symbol not in self.instruments or price is None:
            return self._answer(request, rc.INVALID, "Invalid request")
        kind = request["type"]
        level = Decimal(str(request["price"]))
        bid, ask = price
        below = kind in (
            mt5.ORDER_TYPE_BUY_LIMIT,
            mt5.ORDER_TYPE_SELL_STOP,
            mt5.ORDER_TYPE_SELL_STOP_LIMIT,
        )
        market = ask if kind in _BUYS else bid
        if (below and level >= market) or (not below and level <= market):
            return self._answer(request, rc.INVALID_PRICE, "Invalid price")
        ticket = self._ticket()
        now = self.now()
        volume = float(request["volume"])
        account.orders[ticket] = {
            "ticket": ticket,
            "time_setup": int(now.timestamp()),
            "time_setup_msc": int(now.timestamp() * 1000),
            "time_done": 0,
            "time_done_msc": 0,
            "time_expiration": 0,
            "type": kind,
            "type_time": request.get("type_time", mt5.ORDER_TIME_GTC),
            "type_filling": request.get("type_filling", mt5.ORDER_FILLING_RETURN),
            "state": mt5.ORDER_STATE_PLACED,
            "magic": request.get("magic", 0),
            "position_id": 0,
            "position_by_id": 0,
            "reason": 3,
            "volume_current": volume,
            "volume_initial": volume,
            "price_open": float(level),
            "price_stoplimit": float(request.get("stoplimit", 0.0)),
            "sl": request.get("sl", 0.0),
            "tp": request.get("tp", 0.0),
            "price_current": float(market),
            "symbol": symbol,
            "comment": request.get("comment", ""),
            "external_id": "",
        }
        return self._answer(request, rc.PLACED, "Request executed", order=ticket)

    # --- the trade server ------------------------------------------------------------------

    def _process(self) -> None:
        """Fire what the current prices reach: pending orders, then SL/TP."""
        for account in self.accounts.values():
            for order in list(account.orders.values()):
                self._trigger(account, order)
            for position in list(account.positions.values()):
                price = self._price(position["symbol"])
                if price is None:
                    continue
                bid, ask = price
                long = position["type"] == mt5.POSITION_TYPE_BUY
                mark = bid if long else ask
                sl, tp = Decimal(str(position["sl"])), Decimal(str(position["tp"]))
                hit = None
                if sl and (mark <= sl if long else mark >= sl):
                    hit, reason = f"[sl {sl}]", mt5.DEAL_REASON_SL
                elif tp and (mark >= tp if long else mark <= tp):
                    hit, reason = f"[tp {tp}]", mt5.DEAL_REASON_TP
                if hit is not None:
                    request = {
                        "symbol": position["symbol"],
                        "type": mt5.ORDER_TYPE_SELL if long else mt5.ORDER_TYPE_BUY,
                        "position": position["ticket"],
                        "magic": position["magic"],
                        "comment": hit,
                    }
                    volume = Decimal(str(position["volume"]))
                    self._execute(account, request, self._ticket(), volume, mark, reason)

    def _trigger(self, account: FakeAccount, order: dict[str, Any]) -> None:
        price = self._price(order["symbol"])
        if price is None:
            return
        bid, ask = price
        kind = order["type"]
        level = Decimal(str(order["price_open"]))
        buy = kind in _BUYS
        market = ask if buy else bid
        if kind in (mt5.ORDER_TYPE_BUY_STOP_LIMIT, mt5.ORDER_TYPE_SELL_STOP_LIMIT):
            if not (market >= level if buy else market <= level):
                return
            order["type"] = mt5.ORDER_TYPE_BUY_LIMIT if buy else mt5.ORDER_TYPE_SELL_LIMIT
            order["price_open"] = order["price_stoplimit"]
            order["price_stoplimit"] = 0.0
            self._trigger(account, order)
            return
        limit = kind in (mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_SELL_LIMIT)
        reached = (
            (market <= level if buy else market >= level)
            if limit
            else (market >= level if buy else market <= level)
        )
        if not reached:
            return
        del account.orders[order["ticket"]]
        request = {
            "symbol": order["symbol"],
            "type": mt5.ORDER_TYPE_BUY if buy else mt5.ORDER_TYPE_SELL,
            "magic": order["magic"],
            "comment": order["comment"],
            "sl": order["sl"],
            "tp": order["tp"],
        }
        volume = Decimal(str(order["volume_current"]))
        self._execute(account, request, order["ticket"], volume, market, mt5.DEAL_REASON_EXPERT)

    def _execute(
        self,
        account: FakeAccount,
        request: dict[str, Any],
        order: int,
        volume: Decimal,
        price: Decimal,
        reason: int,
    ) -> int:
        """One deal: opens a position numbered after `order`, or closes (part of)
        `request["position"]`; books profit and commission on the balance."""
        spec = self.instruments[request["symbol"]]
        buy = request["type"] == mt5.ORDER_TYPE_BUY
        now = self.now()
        commission = -(account.commission_per_lot * volume).quantize(Decimal("0.01"))
        closing = account.positions.get(request.get("position") or 0)
        profit = Decimal(0)
        if closing is not None:
            entry, position_id = mt5.DEAL_ENTRY_OUT, closing["ticket"]
            sign = 1 if closing["type"] == mt5.POSITION_TYPE_BUY else -1
            rate = self._rate(account, spec.profit_currency)
            profit = ((price - Decimal(str(closing["price_open"]))) * sign * volume
                      * spec.contract_size * rate).quantize(Decimal("0.01"))  # fmt: skip
            left = Decimal(str(closing["volume"])) - volume
            if left > 0:
                closing["volume"] = float(left)
            else:
                del account.positions[closing["ticket"]]
        else:
            entry, position_id = mt5.DEAL_ENTRY_IN, order
            account.positions[order] = {
                "ticket": order,
                "time": int(now.timestamp()),
                "time_msc": int(now.timestamp() * 1000),
                "time_update": int(now.timestamp()),
                "time_update_msc": int(now.timestamp() * 1000),
                "position_id": order,
                "magic": request.get("magic", 0),
                "identifier": order,
                "reason": reason,
                "type": mt5.POSITION_TYPE_BUY if buy else mt5.POSITION_TYPE_SELL,
                "volume": float(volume),
                "price_open": float(price),
                "sl": request.get("sl", 0.0),
                "tp": request.get("tp", 0.0),
                "symbol": request["symbol"],
                "comment": request.get("comment", ""),
                "external_id": "",
            }
        account.balance += profit + commission
        deal = self._ticket()
        account.deals.append(
            {
                "ticket": deal,
                "order": order,
                "time": int(now.timestamp()),
                "time_msc": int(now.timestamp() * 1000),
                "type": mt5.DEAL_TYPE_BUY if buy else mt5.DEAL_TYPE_SELL,
                "entry": entry,
                "magic": request.get("magic", 0),
                "position_id": position_id,
                "reason": reason,
                "volume": float(volume),
                "price": float(price),
                "commission": float(commission),
                "swap": 0.0,
                "profit": float(profit),
                "fee": 0.0,
                "symbol": request["symbol"],
                "comment": request.get("comment", ""),
                "external_id": "",
            }
        )
        return deal

    # --- money -------------------------------------------------------------------------------

    def _position_record(self, account: FakeAccount, position: dict[str, Any]) -> dict[str, Any]:
        price = self._price(position["symbol"])
        long = position["type"] == mt5.POSITION_TYPE_BUY
        current = (price[0] if long else price[1]) if price else Decimal(0)
        return _tag(
            "TradePosition",
            **{k: v for k, v in position.items() if k != "external_id"},
            price_current=float(current),
            swap=0.0,
            profit=float(self._floating(account, position)),
            external_id="",
        )

    def _floating(self, account: FakeAccount, position: dict[str, Any]) -> Decimal:
        price = self._price(position["symbol"])
        if price is None:
            return Decimal(0)
        spec = self.instruments[position["symbol"]]
        long = position["type"] == mt5.POSITION_TYPE_BUY
        mark = price[0] if long else price[1]
        move = (mark - Decimal(str(position["price_open"]))) * (1 if long else -1)
        value = move * Decimal(str(position["volume"])) * spec.contract_size
        return (value * self._rate(account, spec.profit_currency)).quantize(Decimal("0.01"))

    def _margin(self, account: FakeAccount, position: dict[str, Any]) -> Decimal:
        spec = self.instruments[position["symbol"]]
        volume = Decimal(str(position["volume"]))
        return self._margin_for(account, spec, volume, Decimal(str(position["price_open"])))

    def _margin_for(
        self, account: FakeAccount, spec: InstrumentConfig, volume: Decimal, price: Decimal
    ) -> Decimal:
        notional = volume * spec.contract_size * price / account.leverage
        return (notional * self._rate(account, spec.profit_currency)).quantize(Decimal("0.01"))

    def _free(self, account: FakeAccount) -> Decimal:
        floating = sum((self._floating(account, p) for p in account.positions.values()), Decimal(0))
        used = sum((self._margin(account, p) for p in account.positions.values()), Decimal(0))
        return account.balance + floating - used

    def _rate(self, account: FakeAccount, currency: str) -> Decimal:
        if currency == account.currency:
            return Decimal(1)
        direct = self._price(currency + account.currency)
        if direct is not None:
            return (direct[0] + direct[1]) / 2
        inverse = self._price(account.currency + currency)
        return 2 / (inverse[0] + inverse[1]) if inverse is not None else Decimal(1)

    def _price(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        if symbol in self._prices:
            return self._prices[symbol]
        return self._quotes(symbol) if self._quotes is not None else None

    def _fillings(self, spec: InstrumentConfig) -> set[int]:
        modes = {"fok": mt5.ORDER_FILLING_FOK, "ioc": mt5.ORDER_FILLING_IOC}
        return {modes[m] for m in spec.filling_modes if m in modes} | {mt5.ORDER_FILLING_RETURN}

    def _ticket(self) -> int:
        self._tickets += 1
        return self._tickets

    def _answer(
        self, request: dict[str, Any], retcode: int, comment: str, **values: Any
    ) -> dict[str, Any]:
        return _tag(
            "OrderSendResult",
            retcode=retcode,
            deal=values.get("deal", 0),
            order=values.get("order", 0),
            volume=float(values.get("volume", 0)),
            price=float(values.get("price", 0)),
            bid=float(values.get("bid", 0)),
            ask=float(values.get("ask", 0)),
            comment=comment,
            request_id=len(self.requests),
            retcode_external=0,
            request=_tag("TradeRequest", **_request_fields(request)),
        )


@dataclass
class _Session:
    initialized: bool = False
    account: FakeAccount | None = None
    selected: set[str] = field(default_factory=set)
    error: tuple[int, str] = (mt5.RES_S_OK, "Success")


_REQUEST_FIELDS = (
    "action", "magic", "order", "symbol", "volume", "price", "stoplimit", "sl", "tp",
    "deviation", "type", "type_filling", "type_time", "expiration", "comment", "position",
    "position_by",
)  # fmt: skip


def _request_fields(request: dict[str, Any]) -> dict[str, Any]:
    return {
        name: request.get(name, "" if name in ("symbol", "comment") else 0)
        for name in _REQUEST_FIELDS
    }


def _msc(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _timeframe_seconds(timeframe: int) -> int:
    """MT5's TIMEFRAME_* numbers: minutes, or hours with bit 0x4000 set."""
    if timeframe & 0x4000:
        return (timeframe & 0x3FFF) * 3600
    return timeframe * 60


def _tag(record: str, **fields: Any) -> dict[str, Any]:
    return {
        "__record__": record,
        **{k: float(v) if isinstance(v, Decimal) else v for k, v in fields.items()},
    }


def _matches(item: dict[str, Any], filters: dict[str, Any]) -> bool:
    if "symbol" in filters and item["symbol"] != filters["symbol"]:
        return False
    return not ("ticket" in filters and item["ticket"] != filters["ticket"])


def _book(kind: int, price: Decimal, volume: float) -> dict[str, Any]:
    return _tag("BookInfo", type=kind, price=float(price), volume=int(volume), volume_dbl=volume)
