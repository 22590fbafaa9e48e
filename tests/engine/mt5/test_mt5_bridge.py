"""The bridge child's dispatch: terminal calls only, and the batch that reads a
whole account's ticks in one request."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from engine.brokers.mt5.bridge import answer

Tick = namedtuple("Tick", "time bid ask time_msc")


class _Terminal:
    """What the bridge sees of the MetaTrader5 module: a call log and ticks."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def symbol_info_tick(self, symbol: str) -> Any:
        self.calls.append(symbol)
        return Tick(1, 1.1, 1.1001, 1000) if symbol == "EURUSD" else None

    def last_error(self) -> tuple[int, str]:
        return (-4, "Symbol not found")


def test_symbol_info_ticks_answers_every_symbol_in_one_response() -> None:
    terminal = _Terminal()
    response = answer(
        terminal, {"id": 7, "call": "symbol_info_ticks", "args": [["EURUSD", "NOPE"]]}
    )
    assert response == {
        "id": 7,
        "ok": True,
        "result": {
            "EURUSD": {"time": 1, "bid": 1.1, "ask": 1.1001, "time_msc": 1000},
            "NOPE": None,
        },
    }
    assert terminal.calls == ["EURUSD", "NOPE"]


def test_only_terminal_calls_are_answered() -> None:
    response = answer(_Terminal(), {"id": 1, "call": "__import__", "args": ["os"]})
    assert (
        response["ok"] is False and "'__import__' is not a terminal call" in response["exception"]
    )
