"""The one set of models for what the engine runs and reports.

The engine emits them, storage stores them, the API serialises them and the
panel renders them. Money, prices and volumes are `Decimal` (strings in JSON);
times are timezone-aware UTC datetimes from the engine's clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from config.issues import ValidationReport
from config.models import RiskOverrides
from engine.domain import BrokerKind, RiskAction, RiskLimitKind, RiskScope, SystemMode, Timeframe

# Decimals travel as strings in JSON, never as floats (no rounding on the way).
Money = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The resolutions the API and the panel offer, by label.
Resolution = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
RESOLUTIONS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}


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


class OrderRequest(BaseModel):
    """What a strategy or a person asks the broker to do (MT5's MqlTradeRequest,
    in our names)."""

    model_config = ConfigDict(extra="forbid")

    account_id: str
    symbol: str
    side: Side
    type: OrderType = OrderType.MARKET
    volume: Money
    price: Money | None = None
    stop_limit: Money | None = None
    sl: Money | None = None
    tp: Money | None = None
    filling: Filling = Filling.FOK
    client_order_id: str = Field(min_length=1, max_length=64)
    source: OrderSource = OrderSource.MANUAL
    strategy_id: str | None = None
    position_ticket: int | None = Field(default=None, description="close this position")
    magic: int = 0
    comment: str = Field(default="", max_length=31)  # MT5 truncates comments at 31 chars


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
    rule: str | None = Field(
        default=None,
        description="the pre-trade check that refused it (validation.volume, risk.max_exposure...)",
    )
    source: OrderSource = OrderSource.MANUAL
    strategy_id: str | None = None
    position_ticket: int | None = Field(default=None, description="the position it closes")
    magic: int = 0
    comment: str = ""
    created_at: datetime
    updated_at: datetime
    broker_ticket: int | None = Field(
        default=None, description="the broker's own ticket (MT5 order ticket); None on paper"
    )


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
    broker_ticket: int | None = Field(
        default=None, description="the broker's own ticket (MT5 deal ticket); None on paper"
    )


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
    broker_ticket: int | None = Field(
        default=None, description="the broker's own ticket (MT5 position id); None on paper"
    )


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


class OrderCheck(_Model):
    """What an order would meet if sent now, without sending it: the quote, the
    margin it needs against the free margin, and the pre-trade checks' verdict
    (`passed`, or the refusing rule with its retcode and sentence)."""

    account_id: str
    symbol: str
    bid: Money | None = None
    ask: Money | None = None
    margin_required: Money | None = Field(
        default=None, description="in the account currency; None when it cannot be priced"
    )
    free_margin: Money | None = None
    currency: str = "USD"
    passed: bool
    retcode: int | None = None
    rule: str | None = Field(default=None, description="the check that refuses it")
    message: str = Field(description="the verdict in a sentence")


class PerformanceMetrics(_Model):
    """Performance over a range, by the conventions of `engine.analytics.performance`
    (docs/metrics.md). Ratios are fractions (0.05 = 5 %); None where undefined."""

    start: datetime | None = None
    end: datetime | None = None
    periods: int = Field(default=0, description="returns in the range, after resampling")
    total_return: float | None = None
    annualised_return: float | None = None
    volatility: float | None = Field(default=None, description="annualised, sample std")
    sharpe: float | None = None
    sortino: float | None = None
    max_drawdown: float | None = Field(
        default=None, description="worst fall from a running peak, <= 0 as empyrical reports it"
    )
    max_drawdown_duration: float | None = Field(
        default=None, description="seconds from the peak to recovery (or to the range's end)"
    )
    calmar: float | None = None
    trades: int = 0
    win_rate: float | None = None
    profit_factor: float | None = None
    avg_win: float | None = None
    avg_loss: float | None = None
    expectancy: float | None = None
    benchmark_return: float | None = None
    excess_return: float | None = Field(
        default=None, description="total return minus the benchmark's over the same closes"
    )
    beta: float | None = None
    alpha: float | None = Field(default=None, description="annualised, as empyrical's `alpha`")


class EquityPoint(_Model):
    account_id: str
    time: datetime
    balance: Money
    equity: Money
    margin: Money = Decimal(0)


class PortfolioTotal(_Model):
    """The sum over the accounts listed beside it (amounts added as they are, in
    their own currencies)."""

    balance: Money
    equity: Money
    margin: Money
    free_margin: Money
    margin_level: Money | None = Field(
        default=None, description="total equity / total margin in %; None without margin"
    )
    realised_pnl: Money
    unrealised_pnl: Money
    commission: Money
    pnl_today: Money
    open_positions: int
    pending_orders: int


class StrategyPnl(_Model):
    """One strategy's trading on one account over a range, from its fills
    (`strategy_id` None: the deals placed by hand) and its open positions."""

    strategy_id: str | None
    account_id: str
    trades: int = Field(default=0, description="deals that closed (part of) a position")
    wins: int = 0
    losses: int = 0
    gross_profit: Money = Decimal(0)
    gross_loss: Money = Field(default=Decimal(0), description="<= 0")
    commission: Money = Field(default=Decimal(0), description="of every deal, entries too")
    realised_pnl: Money = Field(
        default=Decimal(0), description="profit of its closing deals - commission of all"
    )
    open_positions: int = 0
    unrealised_pnl: Money = Decimal(0)
    first_fill: datetime | None = None
    last_fill: datetime | None = None


class Portfolio(_Model):
    """Every account's live snapshot the caller may see, their total, and each
    of their strategies' P&L since it first traded."""

    time: datetime
    accounts: list[AccountSnapshot]
    total: PortfolioTotal
    strategies: list[StrategyPnl] = Field(default_factory=list)


class PerformanceReport(_Model):
    """The metrics with what they were computed over: the scope, the range, the
    conventions, and each strategy's trades in that scope and range."""

    accounts: list[str] = Field(description="the accounts whose equity and trades count")
    strategy_id: str | None = None
    since: datetime | None = None
    until: datetime
    benchmark: str | None = None
    resolution: timedelta
    periods_per_year: int
    risk_free_rate: float = Field(description="annual")
    metrics: PerformanceMetrics
    strategies: list[StrategyPnl]


# --- workers and strategies -------------------------------------------------


class StrategyOrigin(StrEnum):
    CONFIG = "config"  # written in the configuration file
    RUNTIME = "runtime"  # added while the engine runs (API or panel), kept in the store


class StrategyDefinition(_Model):
    """What a strategy is: its kind, parameters, symbols and timeframe, where it
    came from, and whether a person paused it. Workers build strategies from these."""

    id: str
    account_id: str
    kind: str
    params: dict[str, Any]
    symbols: list[str]
    timeframe: Timeframe
    risk: RiskOverrides | None = None
    origin: StrategyOrigin = StrategyOrigin.CONFIG
    paused: bool = False
    created_at: datetime | None = None


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
    label: str | None = Field(
        default=None, description="the account's own mark in the panel ([[accounts]] label)"
    )
    colour: str | None = Field(default=None, description="the colour of that mark")
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


class Webhook(_Model):
    """A URL that alerts are posted to, signed with its secret (HMAC-SHA256)."""

    id: int
    url: str
    events: list[str] = Field(description="alert kinds it receives; ['*'] for every kind")
    accounts: list[str] | None = Field(
        default=None, description="the accounts whose alerts it receives; None for all"
    )
    secret: str = Field(exclude=True, repr=False)
    created_by: str
    created_at: datetime


class PriceDirection(StrEnum):
    ABOVE = "above"  # fires when the bid rises to the level or beyond
    BELOW = "below"  # fires when the bid falls to the level or beyond


class PriceAlert(_Model):
    """A price level to watch: an alert fires when the symbol's bid crosses it.

    It fires only on a crossing: created with the price already beyond the
    level, it waits (`armed` false) until the price comes back. A `repeat` one
    re-arms each time the price goes back across; a once one is then done
    (`active` false)."""

    id: int
    symbol: str
    direction: PriceDirection
    level: Money
    repeat: bool = False
    severity: Severity = Severity.MEDIUM
    note: str = ""
    account_id: str | None = Field(default=None, description="the account it concerns, if any")
    active: bool = True
    armed: bool = True
    triggered_count: int = 0
    last_triggered_at: datetime | None = None
    last_price: Money | None = Field(default=None, description="the bid that last fired it")
    created_by: str = ""
    created_at: datetime


class CacheCounter(_Model):
    hits: int = 0
    misses: int = 0
    hit_rate: float | None = Field(default=None, description="hits / reads; None before any")


class CacheType(_Model):
    """One type of cached data, as the risk/market API counts it."""

    keys: int
    hit_rate: float | None = Field(description="hits / reads; None before any")
    avg_ttl_seconds: float | None = Field(
        description="mean time left before entries expire; None: kept current, never expire"
    )


class MarketCacheStats(_Model):
    """How well the market-data cache serves its readers, per kind of data."""

    quotes: CacheCounter
    bars: CacheCounter
    trades: CacheCounter
    bar_series: int = Field(description="(symbol, timeframe) series held")
    trade_symbols: int = Field(description="symbols whose recent trades are held")
    invalidations: int = 0
    since: datetime = Field(description="counting since (start or last reset)")
    market_data_cache: CacheType = Field(description="bar series and recent trades")
    price_cache: CacheType = Field(description="the latest quote per symbol")


class MarketDay(_Model):
    """A symbol over the last 24 hours, from the cached closed H1 bars and the
    latest quote."""

    open: float = Field(description="the mid 24 hours ago (the first bar's open)")
    high: float
    low: float
    last: float = Field(description="the mid now")
    change_24h: float = Field(description="percent, last against open")
    volume_24h: int = Field(description="ticks (tick volume), as MT5 counts volume for FX")


class MarketView(_Model):
    """One symbol's market as the cache serves it: the latest quote, recent
    closed bars of one timeframe, and our recent fills in it (newest first)."""

    symbol: str
    quote: Quote | None
    timeframe: Timeframe
    bars: list[Bar]
    trades: list[Fill]
    day: MarketDay | None = Field(default=None, description="the last 24 hours")


class BookLevel(_Model):
    price: Money
    volume: float = Field(description="lots offered at this price")


class OrderBook(_Model):
    """Depth of market: the best prices first. The simulator makes its levels
    around its quote, one point apart (its volumes are seeded, so repeatable)."""

    symbol: str
    time: datetime
    bids: list[BookLevel]
    asks: list[BookLevel]


class DatasetColumn(_Model):
    name: str
    type: str = Field(description="TEXT, INTEGER, REAL, ...; decimals are TEXT, exact")


class Dataset(_Model):
    """One dataset of the catalog: what it holds and how big it is."""

    id: str = Field(examples=["fills", "bars.EURUSD.M1"])
    name: str
    kind: Literal["stored", "market"] = Field(
        description="rows in the store, or bars the market source draws"
    )
    description: str
    columns: list[DatasetColumn]
    rows: int
    start: datetime | None = Field(description="the first row's time")
    end: datetime | None = Field(description="the last row's time")
    size_bytes: int
    size_estimated: bool = Field(description="true where the size is reckoned, not counted")
    formats: list[Literal["csv", "jsonl"]] = ["csv", "jsonl"]


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


# --- jobs, schedules, models and reports ------------------------------------


class JobPriority(StrEnum):
    """Strict: a runner always takes the highest priority that has a job ready."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical .. 3 for low (the order runners take them in)."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {p: i for i, p in enumerate(JobPriority)}


class JobState(StrEnum):
    PENDING = "pending"  # ready to run
    SCHEDULED = "scheduled"  # waits for its `run_at` (a delayed enqueue)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # an attempt failed; the next one runs at `run_at`
    CANCELLED = "cancelled"
    DEAD = "dead"  # retries exhausted: in the dead-letter queue

    @property
    def is_active(self) -> bool:
        """Still to run or running (what a `dedup_key` guards)."""
        return self in _ACTIVE_JOB_STATES


_ACTIVE_JOB_STATES = frozenset(
    {JobState.PENDING, JobState.SCHEDULED, JobState.RUNNING, JobState.FAILED}
)


class Job(_Model):
    """A unit of background work. Delivery is at-least-once: a job whose runner
    died runs again, so handlers are written to be idempotent."""

    id: int
    handler: str
    args: dict[str, Any] = Field(default_factory=dict)
    account_id: str | None = Field(default=None, description="the account it works on, if one")
    priority: JobPriority = JobPriority.NORMAL
    state: JobState = JobState.PENDING
    attempts: int = Field(default=0, description="attempts started, the running one included")
    max_retries: int = Field(default=3, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    dedup_key: str | None = Field(default=None, description="one active job per key")
    schedule: str | None = Field(default=None, description="the schedule that enqueued it")
    progress: float = Field(default=0.0, ge=0, le=100)
    message: str = ""
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    cancel_requested: bool = False
    runner: str | None = Field(
        default=None, description="the runner holding its lease, or (once ended) the last to run it"
    )
    created_at: datetime
    run_at: datetime = Field(description="when it may (next) run")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_until: datetime | None = None
    description: str = Field(default="", description="what it is for, in its submitter's words")


class JobStats(_Model):
    """The queue at a glance (the panel's jobs pane, `GET /jobs/stats`)."""

    queued: dict[JobPriority, int] = Field(description="jobs waiting to run, by priority")
    states: dict[JobState, int] = Field(description="jobs in each state")
    running: int
    dead: int
    runners: int


class RunnerStats(_Model):
    """What the job runners did since the engine started: attempts that ended,
    by outcome, and how long they took (on the engine clock)."""

    since: datetime | None = Field(description="when the runners started")
    runners: int
    running: int = Field(description="attempts under way now")
    processed: int = Field(description="attempts that ended: succeeded + failed + cancelled")
    succeeded: int
    failed: int = Field(description="attempts that raised or timed out (retried or dead)")
    cancelled: int
    success_rate: float = Field(description="percent of processed attempts that succeeded")
    mean_duration_seconds: float


class JobDay(_Model):
    """The jobs that ended on one day (UTC), by outcome, and how long those that
    completed ran."""

    day: date
    completed: int
    failed: int = Field(description="ended in the dead-letter queue")
    cancelled: int
    mean_duration_seconds: float | None = Field(description="of the completed ones")

    @property
    def ended(self) -> int:
        return self.completed + self.failed + self.cancelled


class JobsOverview(_Model):
    """The panel's jobs pane at once: the queue's counts, the running jobs with
    their progress, and the latest completions and failures."""

    stats: JobStats
    running: list[Job]
    recent: list[Job] = Field(description="finished or failed jobs, latest first")


class ScheduleKind(StrEnum):
    INTERVAL = "interval"
    CRON = "cron"


class Schedule(_Model):
    """A named rule that enqueues a job; times are UTC."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    handler: str
    args: dict[str, Any] = Field(default_factory=dict)
    priority: JobPriority = JobPriority.NORMAL
    kind: ScheduleKind
    every_seconds: float | None = Field(default=None, gt=0, description="interval rules")
    cron: str | None = Field(default=None, description="cron rules: 'minute hour day month dow'")
    enabled: bool = True
    misfire_grace_seconds: int = Field(
        default=3600, gt=0, description="a run later than this is skipped"
    )
    max_retries: int | None = Field(default=None, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    run_count: int = Field(default=0, ge=0, description="times the rule fired, under this name")
    next_run_at: datetime | None = Field(default=None, description="None while disabled")


class ParamSet(_Model):
    """One parameter set an optimisation tried, with its backtest metrics (the
    "models" of the API)."""

    id: int | None = Field(default=None, description="given when stored")
    job_id: int | None = None
    kind: str = Field(description="the strategy kind")
    strategy_id: str | None = Field(default=None, description="the strategy it was tuned for")
    symbol: str
    timeframe: Timeframe
    params: dict[str, Any]
    objective: str = Field(description="the metric the search maximised")
    score: float | None = Field(description="the objective's value; None when undefined")
    metrics: dict[str, Any]
    rank: int = Field(description="1 is the best of its search")
    created_at: datetime
    deployed_at: datetime | None = None
    deployed_to: str | None = None


class DailyReport(_Model):
    """One day's performance of one account, or of all (`account_id` "total")."""

    day: date
    account_id: str
    start_equity: Money
    end_equity: Money
    pnl: Money
    trades: int
    metrics: dict[str, Any]
    created_at: datetime


# --- risk -------------------------------------------------------------------


class RiskLimitOrigin(StrEnum):
    CONFIG = "config"  # declared under [risk] in the configuration file
    RUNTIME = "runtime"  # created through the API or the panel


class RiskLimit(_Model):
    """A rule on one metric of a scope (see `config.models.RiskLimitKind` for
    units): crossing `warning` raises an alert; going over `threshold` raises a
    critical alert, refuses new orders in the scope and takes `action`."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    description: str = ""
    scope: RiskScope
    account_id: str | None = None
    symbol: str | None = None
    kind: RiskLimitKind
    warning: Money | None = None
    threshold: Money
    action: RiskAction = RiskAction.BLOCK
    enabled: bool = True
    origin: RiskLimitOrigin = RiskLimitOrigin.RUNTIME
    created_at: datetime
    updated_at: datetime


class RiskLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"  # above the warning
    BREACH = "breach"  # over the threshold, until back at or below the warning


class RiskMetric(_Model):
    """One limit's metric now, against its warning and threshold."""

    limit_id: str
    kind: RiskLimitKind
    scope: RiskScope
    account_id: str | None = None
    symbol: str | None = None
    value: Money
    warning: Money | None = None
    threshold: Money
    unit: str = Field(description="lots, %, positions, orders/min, or a currency")
    utilisation: float = Field(description="value / threshold (1.0 is at the threshold)")
    level: RiskLevel
    action: RiskAction


class RiskBook(_Model):
    """What the equity limits of one account (or `*`, the whole book) measure from."""

    account_id: str = Field(description="an account id, or * for all accounts together")
    equity: Money
    peak_equity: Money
    day: date | None = Field(default=None, description="the UTC day the daily loss counts")
    day_start_equity: Money | None = None
    daily_loss: Money = Decimal(0)
    drawdown_percent: Money = Decimal(0)


class KillSwitchState(_Model):
    """Whether trading is halted, by whom and since when; stored, so a restart
    stays halted until an admin clears it."""

    engaged: bool = False
    engaged_at: datetime | None = None
    engaged_by: str | None = None
    reason: str = ""
    flatten: bool = Field(default=False, description="positions were closed when engaged")
    mode_before: SystemMode | None = Field(default=None, description="the mode a clear returns to")
    cancelled_orders: int = 0
    closed_positions: int = 0
    paused_strategies: int = 0
    cleared_at: datetime | None = None
    cleared_by: str | None = None


class RiskEvaluation(_Model):
    """Every enabled limit's metric now; `violations` are the breached ones,
    `warnings` those above their warning."""

    time: datetime
    metrics: list[RiskMetric]
    violations: list[RiskMetric]
    warnings: list[RiskMetric]
    books: list[RiskBook]
    kill_switch: KillSwitchState
    symbol: str | None = Field(
        default=None, description="only the limits that bind this symbol (its own and wider ones)"
    )
    risk_level: Literal["low", "moderate", "high", "critical"] = Field(
        default="low",
        description="critical: the kill switch is engaged; high: a limit is breached; "
        "moderate: one is above its warning or past half its threshold; else low",
    )
    margin_ratio: Money | None = Field(
        default=None, description="margin in use / equity, over the accounts seen (0..1)"
    )


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
    removed: bool = False


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


class MarketTrade(_Model):
    """A print of the market (not one of our fills): a price moved by a trade."""

    symbol: str
    price: Money
    volume: Money = Field(description="lots")
    side: Side = Field(description="the aggressor: buy lifted the ask, sell hit the bid")
    time: datetime


class MarketTradeEvent(_Event):
    kind: Literal["market_trade"] = "market_trade"
    trade: MarketTrade


class LogEvent(_Event):
    kind: Literal["log"] = "log"
    record: LogRecord


class JobEvent(_Event):
    kind: Literal["job"] = "job"
    job: Job


class ScheduleEvent(_Event):
    kind: Literal["schedule"] = "schedule"
    schedule: Schedule
    deleted: bool = False


class KillSwitchEvent(_Event):
    kind: Literal["kill_switch"] = "kill_switch"
    state: KillSwitchState


class RiskLimitEvent(_Event):
    """A limit was created, changed or deleted."""

    kind: Literal["risk_limit"] = "risk_limit"
    limit: RiskLimit
    deleted: bool = False


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
    | MarketTradeEvent
    | LogEvent
    | JobEvent
    | ScheduleEvent
    | KillSwitchEvent
    | RiskLimitEvent
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
    "market_trade": "trades",
    "log": "logs",
    "job": "jobs",
    "schedule": "jobs",
    "resync": "system",
    "kill_switch": "system",
    "risk_limit": "alerts",
}
