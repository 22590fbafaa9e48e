"""The domain's vocabulary: the enums that the settings, the engine, storage,
the API and the panel all speak.

It sits beneath everything, configuration included, and imports nothing of the
project, so a settings file and a running engine name a timeframe, a broker or
a risk limit with the same value.
"""

from __future__ import annotations

from enum import StrEnum


class BrokerKind(StrEnum):
    PAPER = "paper"
    MT5 = "mt5"


class MarginMode(StrEnum):
    """MT5's ACCOUNT_MARGIN_MODE: hedging keeps one position per ticket,
    netting keeps one position per symbol."""

    HEDGING = "hedging"
    NETTING = "netting"


class SystemMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"
    HALTED = "halted"


class Timeframe(StrEnum):
    """Bar lengths. S5 and S15 exist for simulated markets (the demo trades
    within seconds); MT5 itself starts at M1."""

    S5 = "S5"
    S15 = "S15"
    M1 = "M1"
    M5 = "M5"
    M15 = "M15"
    M30 = "M30"
    H1 = "H1"
    H4 = "H4"
    D1 = "D1"

    @property
    def seconds(self) -> int:
        return _TIMEFRAME_SECONDS[self]


_TIMEFRAME_SECONDS = {
    Timeframe.S5: 5,
    Timeframe.S15: 15,
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.M30: 1800,
    Timeframe.H1: 3600,
    Timeframe.H4: 14400,
    Timeframe.D1: 86400,
}


class RiskScope(StrEnum):
    """What a risk limit's metric covers: the whole book, one account, or one
    symbol (in one account, or across every account when none is named)."""

    GLOBAL = "global"
    ACCOUNT = "account"
    SYMBOL = "symbol"


class RiskLimitKind(StrEnum):
    MAX_POSITION_SIZE = "max_position_size"  # lots, net, in one symbol
    MAX_EXPOSURE = "max_exposure"  # notional in the account currency
    MAX_OPEN_POSITIONS = "max_open_positions"
    MAX_DAILY_LOSS = "max_daily_loss"  # account currency, since 00:00 UTC
    MAX_DRAWDOWN = "max_drawdown"  # percent below the peak equity
    MAX_ORDERS_PER_MINUTE = "max_orders_per_minute"


class RiskAction(StrEnum):
    """What a breached limit does besides refusing new orders in its scope."""

    BLOCK = "block"  # nothing more: new orders in the scope are refused until it clears
    PAUSE = "pause"  # also pause the scope's strategies
    FLATTEN = "flatten"  # also close the scope's positions
