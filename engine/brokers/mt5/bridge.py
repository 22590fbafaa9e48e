"""The bridge child: one process per MetaTrader 5 terminal.

The `MetaTrader5` module keeps one terminal connection per process, so each
MT5 account's calls run here, in a process of their own, never on the
engine's event loop. The parent writes one JSON request per line on stdin
(`{"id": 1, "call": "order_send", "args": [...], "kwargs": {...}}`) and reads
one JSON response per line on stdout (`{"id": 1, "ok": true, "result": ...,
"last_error": [code, text]}`). Results are plain JSON: the package's named
tuples become objects with their field names, tuples of them lists, rates
arrays lists of objects. `symbol_info_ticks` (a list of symbols) answers every
symbol's `symbol_info_tick` at once.

Run as a script (`python bridge.py`, or `python bridge.py --mt5linux
HOST:PORT` to reach a terminal under Wine through mt5linux's rpyc server
instead of importing `MetaTrader5`). It imports only the standard library
and the MetaTrader5 module, so it starts fast and runs on the Windows Python
next to a terminal as well.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

CALLS = frozenset(
    {
        "initialize",
        "login",
        "shutdown",
        "last_error",
        "version",
        "terminal_info",
        "account_info",
        "symbol_info",
        "symbol_info_tick",
        "symbol_select",
        "copy_rates_from_pos",
        "order_check",
        "order_send",
        "positions_get",
        "orders_get",
        "history_deals_get",
        "history_orders_get",
        "market_book_add",
        "market_book_get",
        "market_book_release",
    }
)
"""What the parent may call: the terminal API, and the batches below."""


def symbol_info_ticks(module: Any, symbols: list[str]) -> dict[str, Any]:
    """`symbol_info_tick` of each symbol (None where there is none): the quotes
    of a whole account in one round trip between the engine and this process."""
    return {symbol: module.symbol_info_tick(symbol) for symbol in symbols}


BATCHES = {"symbol_info_ticks": symbol_info_ticks}
"""Several terminal calls in one request: they run here, next to the terminal,
so the engine waits for one answer instead of one per symbol."""


def plain(value: Any) -> Any:
    """A MetaTrader5 result as JSON-ready data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "_asdict"):
        return {name: plain(item) for name, item in value._asdict().items()}
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype.names:  # a numpy record array (copy_rates_*)
        return [dict(zip(dtype.names, row, strict=True)) for row in value.tolist()]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return str(value)


def load_module(argv: list[str]) -> Any:
    if len(argv) >= 2 and argv[0] == "--mt5linux":
        host, _, port = argv[1].rpartition(":")
        from mt5linux import MetaTrader5

        return MetaTrader5(host=host or "localhost", port=int(port))
    import MetaTrader5

    return MetaTrader5


def serve(module: Any, requests: Any, out: Any) -> None:
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        out.write(json.dumps(answer(module, request)) + "\n")
        out.flush()


def answer(module: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = request.get("call")
    response: dict[str, Any] = {"id": request.get("id")}
    batch = BATCHES.get(name)  # type: ignore[arg-type]
    if name not in CALLS and batch is None:
        return {**response, "ok": False, "exception": f"{name!r} is not a terminal call"}
    args, kwargs = request.get("args", ()), request.get("kwargs", {})
    try:
        result = batch(module, *args, **kwargs) if batch else getattr(module, name)(*args, **kwargs)
    except Exception as exc:  # the terminal's exception goes back to the caller
        return {**response, "ok": False, "exception": f"{type(exc).__name__}: {exc}"}
    response.update(ok=True, result=plain(result))
    if result is None or result is False:
        response["last_error"] = plain(module.last_error())
    return response


def main() -> None:
    # The protocol owns the real stdout; anything the module prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr
    try:
        module = load_module(sys.argv[1:])
    except Exception as exc:
        out.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        sys.exit(1)
    out.write(json.dumps({"ready": True, "version": str(getattr(module, "__version__", ""))}))
    out.write("\n")
    out.flush()
    serve(module, sys.stdin, out)


if __name__ == "__main__":
    main()
