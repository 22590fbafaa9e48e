"""The MetaTrader5 package's numeric constants that tradedeck sends and reads.

Copied by name and value from `MetaTrader5/__init__.py` of the `MetaTrader5`
wheel 5.0.6231 (`pip download --no-deps --only-binary=:all: --platform
win_amd64 MetaTrader5`), so requests carry exactly the numbers a terminal
expects. The trade server's return codes (TRADE_RETCODE_*) are in
`engine.brokers.retcodes`. `SYMBOL_FILLING_*` are bit flags of a symbol's
`filling_mode`, not defined in the wheel: their values are MQL5's
(SYMBOL_FILLING_FOK = 1, SYMBOL_FILLING_IOC = 2). The `last_error` codes
(RES_*) are in the wheel and documented in mt5linux's `last_error`
docstring (mt5linux/metatrader5.py); where the two disagree
(RES_E_INTERNAL_FAIL_CONNECT) the wheel's value is used.

This module imports nothing, so the bridge child and the test stand-in can
read it too.
"""

# --- timeframes (copy_rates_*) ---------------------------------------------------------
TIMEFRAME_M1 = 1
TIMEFRAME_M5 = 5
TIMEFRAME_M15 = 15
TIMEFRAME_M30 = 30
TIMEFRAME_H1 = 1 | 0x4000
TIMEFRAME_H4 = 4 | 0x4000
TIMEFRAME_D1 = 24 | 0x4000

# --- ENUM_POSITION_TYPE ----------------------------------------------------------------
POSITION_TYPE_BUY = 0
POSITION_TYPE_SELL = 1

# --- ENUM_ORDER_TYPE -------------------------------------------------------------------
ORDER_TYPE_BUY = 0
ORDER_TYPE_SELL = 1
ORDER_TYPE_BUY_LIMIT = 2
ORDER_TYPE_SELL_LIMIT = 3
ORDER_TYPE_BUY_STOP = 4
ORDER_TYPE_SELL_STOP = 5
ORDER_TYPE_BUY_STOP_LIMIT = 6
ORDER_TYPE_SELL_STOP_LIMIT = 7
ORDER_TYPE_CLOSE_BY = 8

# --- ENUM_ORDER_STATE ------------------------------------------------------------------
ORDER_STATE_STARTED = 0
ORDER_STATE_PLACED = 1
ORDER_STATE_CANCELED = 2
ORDER_STATE_PARTIAL = 3
ORDER_STATE_FILLED = 4
ORDER_STATE_REJECTED = 5
ORDER_STATE_EXPIRED = 6

# --- ENUM_ORDER_TYPE_FILLING -----------------------------------------------------------
ORDER_FILLING_FOK = 0
ORDER_FILLING_IOC = 1
ORDER_FILLING_RETURN = 2
ORDER_FILLING_BOC = 3

# --- ENUM_ORDER_TYPE_TIME --------------------------------------------------------------
ORDER_TIME_GTC = 0
ORDER_TIME_DAY = 1
ORDER_TIME_SPECIFIED = 2
ORDER_TIME_SPECIFIED_DAY = 3

# --- symbol filling_mode flags (MQL5) --------------------------------------------------
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2

# --- ENUM_SYMBOL_TRADE_MODE ------------------------------------------------------------
SYMBOL_TRADE_MODE_DISABLED = 0
SYMBOL_TRADE_MODE_LONGONLY = 1
SYMBOL_TRADE_MODE_SHORTONLY = 2
SYMBOL_TRADE_MODE_CLOSEONLY = 3
SYMBOL_TRADE_MODE_FULL = 4

# --- ENUM_DEAL_TYPE (the ones a trading account's deals use) ---------------------------
DEAL_TYPE_BUY = 0
DEAL_TYPE_SELL = 1
DEAL_TYPE_BALANCE = 2

# --- ENUM_DEAL_ENTRY -------------------------------------------------------------------
DEAL_ENTRY_IN = 0
DEAL_ENTRY_OUT = 1
DEAL_ENTRY_INOUT = 2
DEAL_ENTRY_OUT_BY = 3

# --- ENUM_DEAL_REASON ------------------------------------------------------------------
DEAL_REASON_CLIENT = 0
DEAL_REASON_EXPERT = 3
DEAL_REASON_SL = 4
DEAL_REASON_TP = 5
DEAL_REASON_SO = 6

# --- ENUM_TRADE_REQUEST_ACTIONS --------------------------------------------------------
TRADE_ACTION_DEAL = 1
TRADE_ACTION_PENDING = 5
TRADE_ACTION_SLTP = 6
TRADE_ACTION_MODIFY = 7
TRADE_ACTION_REMOVE = 8
TRADE_ACTION_CLOSE_BY = 10

# --- ENUM_ACCOUNT_MARGIN_MODE ----------------------------------------------------------
ACCOUNT_MARGIN_MODE_RETAIL_NETTING = 0
ACCOUNT_MARGIN_MODE_EXCHANGE = 1
ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2

# --- last_error() codes ----------------------------------------------------------------
RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NO_MEMORY = -3
RES_E_NOT_FOUND = -4
RES_E_INVALID_VERSION = -5
RES_E_AUTH_FAILED = -6
RES_E_UNSUPPORTED = -7
RES_E_AUTO_TRADING_DISABLED = -8
RES_E_INTERNAL_FAIL = -10000
RES_E_INTERNAL_FAIL_SEND = -10001
RES_E_INTERNAL_FAIL_RECEIVE = -10002
RES_E_INTERNAL_FAIL_INIT = -10003
RES_E_INTERNAL_FAIL_CONNECT = -10004
RES_E_INTERNAL_FAIL_TIMEOUT = -10005

LAST_ERRORS = {
    RES_S_OK: "generic success",
    RES_E_FAIL: "generic fail",
    RES_E_INVALID_PARAMS: "invalid arguments/parameters",
    RES_E_NO_MEMORY: "no memory condition",
    RES_E_NOT_FOUND: "no history",
    RES_E_INVALID_VERSION: "invalid version",
    RES_E_AUTH_FAILED: "authorization failed",
    RES_E_UNSUPPORTED: "unsupported method",
    RES_E_AUTO_TRADING_DISABLED: "auto-trading disabled",
    RES_E_INTERNAL_FAIL: "internal IPC general error",
    RES_E_INTERNAL_FAIL_SEND: "internal IPC send failed",
    RES_E_INTERNAL_FAIL_RECEIVE: "internal IPC recv failed",
    RES_E_INTERNAL_FAIL_INIT: "internal IPC initialization fail",
    RES_E_INTERNAL_FAIL_CONNECT: "internal IPC no ipc",
    RES_E_INTERNAL_FAIL_TIMEOUT: "internal timeout",
}

# The codes that mean the link to the terminal itself broke (not a refusal):
# the adapter reconnects on them.
IPC_ERRORS = frozenset(range(RES_E_INTERNAL_FAIL_TIMEOUT, RES_E_INTERNAL_FAIL + 1))

# Depth of market (`market_book_get` entries' `type`), as in the wheel.
BOOK_TYPE_SELL = 1
BOOK_TYPE_BUY = 2
BOOK_TYPE_SELL_MARKET = 3
BOOK_TYPE_BUY_MARKET = 4
