"""A stand-in for the `MetaTrader5` package, for tests.

The real package is a client of a terminal process (terminal64.exe) reached
over IPC; so is this one: every call goes to a `FakeTerminal` running in the
test process (tests/engine/mt5/fake_terminal.py), whose address is in
FAKE_MT5_TERMINAL ("host:port") and key in FAKE_MT5_KEY. Tests put this
directory first on the bridge child's PYTHONPATH, so `import MetaTrader5`
there finds it. The numbers are the real package's (our constants module,
copied from the wheel); results are named tuples with the real field names.
"""

from __future__ import annotations

import os
from collections import namedtuple
from multiprocessing.connection import Client
from typing import Any

from engine.brokers.mt5.constants import *  # noqa: F403 - the package's own numbers
from engine.brokers.mt5.constants import RES_E_INTERNAL_FAIL_CONNECT

__version__ = "5.0.6231"
__author__ = "tradedeck test stand-in"

_connection: Any = None
_types: dict[tuple[str, tuple[str, ...]], Any] = {}
_unreachable: tuple[int, str] | None = None


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    global _connection, _unreachable
    try:
        if _connection is None:
            host, _, port = os.environ["FAKE_MT5_TERMINAL"].rpartition(":")
            _connection = Client((host, int(port)), authkey=os.environ["FAKE_MT5_KEY"].encode())
        _connection.send((name, args, kwargs))
        result = _connection.recv()
    except (OSError, EOFError):
        _connection = None
        _unreachable = (RES_E_INTERNAL_FAIL_CONNECT, "internal IPC no ipc")
        return None
    _unreachable = None
    return _record(result)


def _record(value: Any) -> Any:
    """Tagged dicts from the terminal as named tuples, as the real package returns."""
    if isinstance(value, dict) and "__record__" in value:
        fields = tuple(k for k in value if k != "__record__")
        key = (value["__record__"], fields)
        if key not in _types:
            _types[key] = namedtuple(value["__record__"], fields)
        return _types[key](*(_record(value[f]) for f in fields))
    if isinstance(value, list):
        return tuple(_record(item) for item in value)
    return value


def last_error() -> tuple[int, str]:
    if _unreachable is not None:
        return _unreachable
    return _call("last_error")


def initialize(*args: Any, **kwargs: Any) -> Any:
    return _call("initialize", *args, **kwargs)


def login(*args: Any, **kwargs: Any) -> Any:
    return _call("login", *args, **kwargs)


def shutdown() -> Any:
    return _call("shutdown")


def version() -> Any:
    return _call("version")


def terminal_info() -> Any:
    return _call("terminal_info")


def account_info() -> Any:
    return _call("account_info")


def symbol_info(symbol: str) -> Any:
    return _call("symbol_info", symbol)


def symbol_info_tick(symbol: str) -> Any:
    return _call("symbol_info_tick", symbol)


def symbol_select(symbol: str, enable: bool = True) -> Any:
    return _call("symbol_select", symbol, enable)


def copy_rates_from_pos(symbol: str, timeframe: int, start_pos: int, count: int) -> Any:
    return _call("copy_rates_from_pos", symbol, timeframe, start_pos, count)


def order_check(request: dict[str, Any]) -> Any:
    return _call("order_check", request)


def order_send(request: dict[str, Any]) -> Any:
    return _call("order_send", request)


def positions_get(**kwargs: Any) -> Any:
    return _call("positions_get", **kwargs)


def orders_get(**kwargs: Any) -> Any:
    return _call("orders_get", **kwargs)


def history_deals_get(*args: Any, **kwargs: Any) -> Any:
    return _call("history_deals_get", *args, **kwargs)


def history_orders_get(*args: Any, **kwargs: Any) -> Any:
    return _call("history_orders_get", *args, **kwargs)


def market_book_add(symbol: str) -> Any:
    return _call("market_book_add", symbol)


def market_book_get(symbol: str) -> Any:
    return _call("market_book_get", symbol)


def market_book_release(symbol: str) -> Any:
    return _call("market_book_release", symbol)
