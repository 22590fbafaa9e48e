"""The live-mode guard: MT5 accounts trade real money, so their orders pass the
pre-trade gate only while the system mode is `live`. Orders that close a
position still pass, so switching back to `paper` never traps exposure."""

from __future__ import annotations

from collections.abc import Callable

from engine.brokers import retcodes
from engine.domain import BrokerKind, SystemMode
from engine.orders.gate import OrderContext, PreTradeCheck, Rejection

LIVE_MODE_CHECK = "mode.live"
LIVE_MODE_RANK = 10  # after the kill switch (0), before validation (100)


def live_mode_check(mode: Callable[[], SystemMode]) -> PreTradeCheck:
    """A gate check reading the system mode at each order."""

    def check(context: OrderContext) -> Rejection | None:
        if context.broker.kind is not BrokerKind.MT5 or context.closing:
            return None
        current = mode()
        if current is SystemMode.LIVE:
            return None
        return Rejection(
            retcodes.TRADE_DISABLED,
            f"Account {context.account_id} is a MetaTrader 5 account and trades only in live "
            f"mode; the system is in {current.value} mode.",
            LIVE_MODE_CHECK,
        )

    return check
