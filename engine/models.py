"""The one set of models for what the engine runs and reports.

The engine emits them, storage stores them, the API serialises them and the
panel renders them. Money, prices and volumes are `Decimal` (strings in JSON);
times are timezone-aware UTC datetimes from the engine's clock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from config.issues import ValidationReport
from config.models import BrokerKind, SystemMode, Timeframe

# Decimals travel as strings in JSON (seed 004), never as floats.
Money = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class Filling(StrEnum):
    """MT5's ORDER_FILLING_*: fill-or-kill, immediate-or-cancel, or return
    (the rest stays as an order)."""

    FOK = "fok"
    IOC = "ioc"
    RETURN = "return"


class OrderStatus(StrEnum):
    PENDING = "pending"  # accepted, not yet at the broker
    PLACED = "placed"  # resting at the broker (limit/stop)
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.PENDING, OrderStatus.PLACED, OrderStatus.PARTIALLY_FILLED)


class OrderSource(StrEnum):
    STRATEGY = "strategy"
    MANUAL = "manual"
    SYSTEM = "system"  # SL/TP, stop-out, kill switch


class DealEntry(StrEnum):
    """MT5's DEAL_ENTRY_*: a deal opens, closes, or reverses a position."""

    IN = "in"
    OUT = "out"
    INOUT = "inout"


class WorkerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    RECONNECTING = "reconnecting"
    ERROR = "error"


class StrategyState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class EngineState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# --- market -----------------------------------------------------------------


class Quote(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str
    bid: Money
    ask: Money
    time: datetime
    mid: float = Field(description="(bid + ask) / 2 as a float, for indicator arithmetic")


class Bar(_Model):
    symbol: str
    timeframe: Timeframe
    time: datetime = Field(description="the bar's open time")
    open: float
    high: float
    low: float
    close: float
    ticks: int = 0


# --- trading ----------------------------------------------------------------


class Order(_Model):
    ticket: int
    account_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    volume: Money
    price: Money | None = Field(default=None, description="limit/stop trigger price")
    stop_limit: Money | None = Field(default=None, description="limit price of a stop-limit")
    sl: Money | None = None
    tp: Money | None = None
    status: OrderStatus = OrderStatus.PENDING
    filled_volume: Money = Decimal(0)
    fill_price: Money | None = None
    retcode: int | None = None
    reason: str | None = None
    source: OrderSource = OrderSource.MANUAL
    strategy_id: str | None = None
    position_ticket: int | None = Field(default=None, description="the position it closes")
    magic: int = 0
    comment: str = ""
    created_at: datetime
    updated_at: datetime


class Fill(_Model):
    """A deal: one execution of an order."""

    ticket: int
    order_ticket: int
    position_ticket: int
    account_id: str
    symbol: str
    side: Side
    entry: DealEntry
    volume: Money
    price: Money
    commission: Money = Decimal(0)
    profit: Money = Decimal(0)
    strategy_id: str | None = None
    time: datetime


class Position(_Model):
    ticket: int
    account_id: str
    symbol: str
    side: Side
    volume: Money
    open_price: Money
    open_time: datetime
    sl: Money | None = None
    tp: Money | None = None
    current_price: Money | None = None
    profit: Money = Field(default=Decimal(0), description="unrealised P&L at current_price")
    commission: Money = Decimal(0)
    strategy_id: str | None = None
    magic: int = 0
    comment: str = ""


class AccountSnapshot(_Model):
    """An account's portfolio at one moment."""

    account_id: str
    broker: BrokerKind = BrokerKind.PAPER
    currency: str = "USD"
    leverage: int = 100
    starting_balance: Money
    balance: Money
    equity: Money
    margin: Money = Decimal(0)
    free_margin: Money
    margin_level: Money | None = Field(default=None, description="equity / margin in %")
    realised_pnl: Money = Decimal(0)
    unrealised_pnl: Money = Decimal(0)
    commission: Money = Decimal(0)
    pnl_today: Money = Decimal(0)
    open_positions: int = 0
    pending_orders: int = 0
    time: datetime


class EquityPoint(_Model):
    account_id: str
    time: datetime
    balance: Money
    equity: Money
    margin: Money = Decimal(0)


# --- workers and strategies -------------------------------------------------


class StrategyInfo(_Model):
    id: str
    account_id: str
    kind: str
    params: dict[str, Any]
    symbols: list[str]
    timeframe: Timeframe
    state: StrategyState = StrategyState.STOPPED
    signals: int = 0
    last_signal_at: datetime | None = None


class WorkerInfo(_Model):
    worker_id: str | None = Field(default=None, description="changes on every start")
    account_id: str
    name: str = ""
    broker: BrokerKind = BrokerKind.PAPER
    enabled: bool = True
    status: WorkerState = WorkerState.STOPPED
    symbols: list[str] = Field(default_factory=list)
    created_at: datetime
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    heartbeat_at: datetime | None = None
    error: str | None = None
    restarts: int = Field(default=0, description="crash restarts since the last manual start")
    metadata: dict[str, Any] = Field(default_factory=dict)


class Signal(_Model):
    id: int | None = None
    account_id: str
    strategy_id: str
    symbol: str
    side: Side
    strength: float = 1.0
    reason: str
    time: datetime


class Alert(_Model):
    id: int | None = None
    kind: str = Field(description="e.g. worker_error, risk_limit, price_alert, job_dead")
    severity: Severity
    status: AlertStatus = AlertStatus.TRIGGERED
    message: str
    account_id: str | None = None
    dedup_key: str | None = Field(default=None, description="one open alert per key")
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


class LogRecord(_Model):
    time: datetime
    level: Literal["debug", "info", "warning", "error"] = "info"
    account_id: str | None = None
    message: str


class SystemStatus(_Model):
    state: EngineState
    mode: SystemMode
    started_at: datetime | None = None
    time: datetime
    workers_total: int = 0
    workers_running: int = 0
    total_equity: Money = Decimal(0)
    total_balance: Money = Decimal(0)
    pnl_today: Money = Decimal(0)
    open_alerts: int = 0


class Snapshot(_Model):
    """Everything the panel needs to paint its main screen from scratch."""

    system: SystemStatus
    workers: list[WorkerInfo]
    accounts: list[AccountSnapshot]
    positions: list[Position]
    orders: list[Order] = Field(description="open orders and the most recent closed ones")
    alerts: list[Alert]
    quotes: list[Quote] = Field(default_factory=list)


class WorkerDetail(_Model):
    worker: WorkerInfo
    account: AccountSnapshot | None
    strategies: list[StrategyInfo]
    validation: ValidationReport
    positions: list[Position]
    orders: list[Order]
    fills: list[Fill]
    signals: list[Signal]
    equity: list[EquityPoint]


# --- events -----------------------------------------------------------------


class _Event(_Model):
    time: datetime


class SystemEvent(_Event):
    kind: Literal["system"] = "system"
    status: SystemStatus


class WorkerEvent(_Event):
    kind: Literal["worker"] = "worker"
    worker: WorkerInfo


class StrategyEvent(_Event):
    kind: Literal["strategy"] = "strategy"
    strategy: StrategyInfo


class OrderEvent(_Event):
    kind: Literal["order"] = "order"
    order: Order


class FillEvent(_Event):
    kind: Literal["fill"] = "fill"
    fill: Fill


class PositionEvent(_Event):
    kind: Literal["position"] = "position"
    position: Position
    closed: bool = False


class AccountEvent(_Event):
    kind: Literal["account"] = "account"
    account: AccountSnapshot


class AlertEvent(_Event):
    kind: Literal["alert"] = "alert"
    alert: Alert


class SignalEvent(_Event):
    kind: Literal["signal"] = "signal"
    signal: Signal


class QuoteEvent(_Event):
    kind: Literal["quote"] = "quote"
    quote: Quote


class LogEvent(_Event):
    kind: Literal["log"] = "log"
    record: LogRecord


class ResyncEvent(_Event):
    """The subscriber fell behind and lost events: take a fresh snapshot."""

    kind: Literal["resync"] = "resync"
    dropped: int = 0


Event = Annotated[
    SystemEvent
    | WorkerEvent
    | StrategyEvent
    | OrderEvent
    | FillEvent
    | PositionEvent
    | AccountEvent
    | AlertEvent
    | SignalEvent
    | QuoteEvent
    | LogEvent
    | ResyncEvent,
    Field(discriminator="kind"),
]

# The WebSocket channel (SPEC 7) each event kind is streamed on.
EVENT_CHANNELS: dict[str, str] = {
    "system": "system",
    "worker": "workers",
    "strategy": "workers",
    "order": "orders",
    "fill": "fills",
    "position": "positions",
    "account": "portfolio",
    "alert": "alerts",
    "signal": "signals",
    "quote": "ticker",
    "log": "logs",
    "resync": "system",
}
