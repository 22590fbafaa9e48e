"""The settings a user writes: one pydantic model per section of the TOML file.

Parsing checks types only. The rules that need the whole picture (unknown
instruments, duplicate symbols, risky values) live in `config.validation`, so a
file with several problems reports all of them at once, each with its path.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from engine.domain import (
    BrokerKind,
    MarginMode,
    RiskAction,
    RiskLimitKind,
    RiskScope,
    SystemMode,
    Timeframe,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RiskOverrides(_Section):
    """Risk settings at one level of the cascade; unset fields inherit."""

    risk_percent: float | None = None
    max_positions: int | None = None
    max_concurrent_trades: int | None = None
    portfolio_risk_percent: float | None = None
    stop_loss_pips: float | None = None
    take_profit_pips: float | None = None


class RiskSettings(_Section):
    """Fully resolved risk settings (defaults -> account -> strategy)."""

    risk_percent: float = 1.0
    max_positions: int = 5
    max_concurrent_trades: int = 3
    portfolio_risk_percent: float = 10.0
    stop_loss_pips: float = 30.0
    take_profit_pips: float = 60.0

    def merged(self, overrides: RiskOverrides | None) -> RiskSettings:
        if overrides is None:
            return self
        changes = overrides.model_dump(exclude_none=True)
        return self.model_copy(update=changes)


class InstrumentConfig(_Section):
    """A tradable symbol with MT5's symbol properties and the simulator's
    parameters for it."""

    description: str = ""
    digits: int = Field(ge=0, le=10)
    point: Decimal
    contract_size: Decimal = Decimal(100000)
    volume_min: Decimal = Decimal("0.01")
    volume_max: Decimal = Decimal(100)
    volume_step: Decimal = Decimal("0.01")
    spread_points: int = Field(default=10, ge=0)
    stops_level: int = Field(default=0, ge=0, description="minimum SL/TP distance in points")
    pip_points: int = Field(default=10, ge=1, description="points per pip")
    profit_currency: str = "USD"
    filling_modes: list[str] = Field(
        default_factory=lambda: ["fok", "ioc"], description="allowed ORDER_FILLING_* modes"
    )
    trading_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])
    trading_hours: list[str] = Field(default_factory=lambda: ["00:00-24:00"])
    start_price: Decimal
    volatility: float = Field(default=0.10, gt=0, description="annualised, for the simulator")
    ticks_per_second: float = Field(default=4.0, gt=0, description="for the simulator")


class StrategyConfig(_Section):
    id: str | None = None
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    symbols: list[str] | None = None
    timeframe: Timeframe | None = None
    risk: RiskOverrides | None = None
    enabled: bool = True


def _colour(value: str | None) -> str | None:
    """A colour Rich (and so the panel) can draw, or the error names it."""
    if value is None:
        return None
    from rich.color import Color, ColorParseError

    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(
            f"{value!r} is not a colour: use a name such as red or orange1, or #rrggbb"
        ) from None
    return value


class AccountConfig(_Section):
    id: str
    name: str = ""
    broker: BrokerKind = BrokerKind.PAPER
    enabled: bool = True
    currency: str = "USD"
    starting_balance: Decimal = Decimal(10000)
    leverage: int = Field(default=100, ge=1)
    margin_mode: MarginMode = MarginMode.HEDGING
    commission_per_lot: Decimal = Decimal(0)
    symbols: list[str] = Field(default_factory=list)
    strategies: list[StrategyConfig] = Field(default_factory=list)
    risk: RiskOverrides | None = None
    # How the panel marks this account's rows and the header: MT5 accounts are
    # marked by default ("LIVE" in live mode, "MT5" in paper mode); a label here
    # marks any account, and `colour` (a colour name or #rrggbb) replaces red/yellow.
    label: str | None = Field(default=None, min_length=1, max_length=6)
    colour: str | None = None
    # mt5 only. The password never lives here: it comes from `password_env` (by
    # default TRADEDECK_MT5_PASSWORD_<ID>) or from `password_file`.
    login: int | None = None
    server: str | None = None
    magic: int = 0
    terminal_path: str | None = Field(
        default=None, description="terminal64.exe of this account's terminal; None finds one"
    )
    mt5linux_host: str | None = Field(
        default=None, description="reach the terminal through an mt5linux server (Linux + Wine)"
    )
    mt5linux_port: int = Field(default=18812, ge=1, le=65535)
    password_env: str | None = Field(
        default=None, description="the environment variable holding the password"
    )
    password_file: Path | None = Field(
        default=None, description="a file holding only the password (mode 0600)"
    )
    deviation_points: int = Field(default=20, ge=0, description="accepted slippage, in points")
    mt5_timeout_seconds: float = Field(default=10.0, gt=0, description="bound on every call")
    mt5_poll_ms: int = Field(
        default=500, ge=50, description="how often positions, orders and deals are read"
    )

    @field_validator("colour")
    @classmethod
    def _drawable(cls, value: str | None) -> str | None:
        return _colour(value)


class StrategyDefaults(_Section):
    timeframe: Timeframe = Timeframe.M1


class Defaults(_Section):
    risk: RiskOverrides | None = None
    strategy: StrategyDefaults = Field(default_factory=StrategyDefaults)


class EngineSettings(_Section):
    mode: SystemMode = SystemMode.PAPER
    seed: int = 42
    market_step_ms: int = Field(default=250, ge=10, description="simulator step on the real clock")
    mark_interval_ms: int = Field(default=500, ge=50, description="equity/P&L refresh")
    equity_sample_seconds: int = Field(default=60, ge=1)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    stop_timeout_seconds: float = Field(default=10.0, gt=0)
    restart_backoff_initial: float = Field(default=1.0, gt=0)
    restart_backoff_max: float = Field(default=60.0, gt=0)
    max_restarts: int = Field(default=5, ge=0, description="crashes in a row before `error`")


class StorageSettings(_Section):
    path: Path | None = None
    synchronous: str = Field(default="FULL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")
    batch_max: int = Field(default=2000, ge=1)


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class RateLimitSettings(_Section):
    """Requests per window, per key (or client address) and endpoint group."""

    window_seconds: int = Field(default=60, ge=1)
    default: int = Field(default=600, ge=1, description="per window, any group not listed")
    groups: dict[str, int] = Field(
        default_factory=lambda: {"orders": 120, "auth": 30, "system": 60},
        description="per-group limits, e.g. workers = 300",
    )
    endpoints: dict[str, int] = Field(
        default_factory=lambda: {"POST /orders": 60},
        description="per-endpoint limits per window, counted beside the group's: "
        '`"METHOD /path"` after the API prefix, `*` for one path segment, e.g. '
        '`"POST /orders" = 60`, `"DELETE /orders/*" = 120`',
    )
    hourly: int | None = Field(
        default=36_000,
        ge=1,
        description="requests per hour per key over every group (the per-minute limits are "
        "the burst); none: no hourly limit",
    )
    admin_multiplier: int = Field(default=5, ge=1, description="admins get this many times more")
    login_attempts: int = Field(
        default=10, ge=1, description="failed logins per window per user/IP"
    )

    @field_validator("endpoints")
    @classmethod
    def _endpoint_keys(cls, endpoints: dict[str, int]) -> dict[str, int]:
        for key, limit in endpoints.items():
            method, _, path = key.partition(" ")
            if method not in _METHODS or not path.startswith("/") or " " in path.strip():
                raise ValueError(
                    f'{key!r}: an endpoint is "METHOD /path", e.g. "POST /orders" '
                    f"(METHOD one of {', '.join(sorted(_METHODS))})"
                )
            if limit < 1:
                raise ValueError(f"{key!r}: the limit must be at least 1, not {limit}")
        return endpoints


class DialectSettings(_Section):
    """The seeds' APIs, each answered at its own paths beside `/api/v1` (see
    docs/dialects.md). Each can be switched off."""

    workers: bool = Field(default=True, description="`/api/workers`: the worker manager API")
    control_panel: bool = Field(
        default=True, description="`/api/system`, `/api/config`, ...: the control-panel API"
    )
    risk_jobs: bool = Field(
        default=True,
        description="`/api/v1/jobs/health`, `/jobs/enqueue`, `/jobs/job/{id}`, ...: the risk, "
        "market-data and jobs API",
    )
    task_queue: bool = Field(
        default=True, description="`/api/v1/tasks`: the task queue API, in its envelope"
    )
    portfolio: bool = Field(
        default=True,
        description="`/strategies`, `/portfolio`, `/orders`, `/performance`, `/catalog` at the "
        "root: the strategies and portfolio API",
    )
    ws_query_token: bool = Field(
        default=False,
        description="accept `?token=` on the seeds' WebSocket paths (tokens in URLs end up in "
        "logs and browser history; off by default)",
    )
    ws_metrics_seconds: float = Field(
        default=5.0, ge=0.1, le=3600, description="how often `/ws/metrics` sends the figures"
    )


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    secret_file: Path | None = Field(
        default=None, description="JWT signing secret (0600); default next to the database"
    )
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=7, ge=1)
    ws_heartbeat_seconds: float = Field(default=15.0, gt=0)
    ws_queue_size: int = Field(default=1000, ge=10)
    ws_ticker_interval_ms: int = Field(
        default=250,
        ge=0,
        le=60_000,
        description="`ticker` sends each client at most one quote per symbol per interval, "
        "the latest (0: once per event-loop turn)",
    )
    ws_auth_timeout_seconds: float = Field(default=5.0, gt=0)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    dialects: DialectSettings = Field(default_factory=DialectSettings)
    web_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="where `tradedeck serve --web` serves the panel in a browser; default: "
        "the API's port + 1",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="browser origins allowed to call the API (`https://dash.example.com`); "
        "none by default; `*` for any",
    )

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, origins: list[str]) -> list[str]:
        return _origins(origins)

    environment: str | None = Field(
        default=None,
        max_length=40,
        description="what `/info` calls this deployment (production, staging...); "
        "default: the engine's mode",
    )


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


def _origins(origins: list[str]) -> list[str]:
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ValueError(
                f"{origin!r} is not an origin: scheme and host (and port), no path, "
                "e.g. https://dash.example.com or http://localhost:3000"
            )
    return origins


class ScheduleConfig(_Section):
    """A default schedule: written to the schedules table at the first start
    only, so what a user changed through the API or the panel stays changed."""

    name: str
    handler: str
    args: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["critical", "high", "normal", "low"] = "normal"
    every_seconds: float | None = Field(default=None, gt=0)
    cron: str | None = None
    enabled: bool = True
    misfire_grace_seconds: int = Field(default=3600, gt=0)


class JobSettings(_Section):
    """The background job queue: runners, leases, retries and retention."""

    runners: int = Field(default=4, ge=1, le=64, description="jobs run at the same time")
    lease_seconds: float = Field(
        default=30.0, gt=0, description="a running job whose lease lapses runs again"
    )
    default_timeout_seconds: float = Field(default=300.0, gt=0)
    default_max_retries: int = Field(default=3, ge=0)
    backoff_initial_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=300.0, gt=0)
    backoff_jitter: float = Field(default=0.25, ge=0, le=1, description="up to +25 % by default")
    result_retention_hours: float = Field(
        default=72.0, gt=0, description="finished jobs are kept this long (dead ones until cleared)"
    )
    schedules: list[ScheduleConfig] = Field(default_factory=list)


class RiskLimitConfig(_Section):
    """A risk limit as the configuration file declares it. It is written to the
    store the first time the engine sees its id; after that the stored limit
    (edited through the API or the panel) wins."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    description: str = ""
    scope: RiskScope
    account_id: str | None = None
    symbol: str | None = None
    kind: RiskLimitKind
    warning: Decimal | None = Field(default=None, gt=0)
    threshold: Decimal = Field(gt=0)
    action: RiskAction = RiskAction.BLOCK
    enabled: bool = True


class RiskConfig(_Section):
    """The `[risk]` section: limits seeded into the store (see RiskLimitConfig)."""

    limits: list[RiskLimitConfig] = Field(default_factory=list)


SeverityName = Literal["low", "medium", "high", "critical"]


class NotifyTarget(_Section):
    """Where alerts can go: an Apprise URL (`tgram://`, `discord://`,
    `slack://`, `mailto://`, `ntfy://`, `json://` for a JSON webhook, ...)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    url: str = Field(min_length=4, description="an Apprise URL; it may hold a token: keep it 0600")

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, url: str) -> str:
        if "://" not in url:
            raise ValueError("an Apprise URL starts with its service, e.g. tgram://, json://")
        return url


class NotifyRule(_Section):
    """Which alerts go to which targets: at or above `min_severity`, of `kinds`
    (all when empty), about `accounts` (all, system-wide ones too, when empty)."""

    targets: list[str] = Field(min_length=1)
    min_severity: SeverityName = "low"
    kinds: list[str] = Field(default_factory=list, examples=[["risk_limit", "worker_error"]])
    accounts: list[str] = Field(default_factory=list)


class NotificationSettings(_Section):
    targets: list[NotifyTarget] = Field(default_factory=list)
    rules: list[NotifyRule] = Field(default_factory=list)
    dedup_seconds: float = Field(
        default=300.0, ge=0, description="the same alert goes to a target at most once per this"
    )
    max_retries: int = Field(default=5, ge=0, le=50, description="before the dead-letter queue")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="per delivery")

    @model_validator(mode="after")
    def _known_targets(self) -> NotificationSettings:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"target name(s) used twice: {', '.join(twice)}")
        for index, rule in enumerate(self.rules):
            unknown = [t for t in rule.targets if t not in names]
            if unknown:
                raise ValueError(
                    f"rules[{index}] sends to unknown target(s) {', '.join(unknown)}; "
                    f"targets are: {', '.join(names) or 'none'}"
                )
        return self


class Settings(_Section):
    engine: EngineSettings = Field(default_factory=EngineSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    instruments: dict[str, InstrumentConfig] = Field(default_factory=dict)
    accounts: list[AccountConfig] = Field(default_factory=list)
    jobs: JobSettings = Field(default_factory=JobSettings)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    # The panel's keys by binding id (`"orders.place" = "n"`, or nested:
    # `[keys.orders] place = "n"`); the panel checks the ids and conflicts.
    keys: dict[str, str] = Field(default_factory=dict)
    # Where each account id was last found in `accounts`: every order looks its
    # account up, so the lookup must not walk 500 accounts.
    _account_at: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("keys", mode="before")
    @classmethod
    def _flat_keys(cls, keys: Any) -> Any:
        """`[keys] orders.place = "n"` is a nested table in TOML: flatten it to ids."""
        if not isinstance(keys, dict):
            return keys
        flat: dict[str, Any] = {}

        def walk(node: dict[str, Any], prefix: str) -> None:
            for name, value in node.items():
                if isinstance(value, dict):
                    walk(value, f"{prefix}{name}.")
                else:
                    flat[f"{prefix}{name}"] = value

        walk(keys, "")
        return flat

    def account(self, account_id: str) -> AccountConfig | None:
        accounts = self.accounts
        # Read through `__pydantic_private__`: `self._account_at` takes pydantic's
        # slow attribute path, 50 times the cost of the lookup itself.
        private = self.__pydantic_private__
        assert private is not None
        at = private["_account_at"].get(account_id)
        if at is not None and at < len(accounts) and accounts[at].id == account_id:
            return accounts[at]
        # New, moved or gone (the list is assigned or edited in place): look again.
        index = private["_account_at"] = {a.id: i for i, a in enumerate(accounts)}
        at = index.get(account_id)
        return None if at is None else accounts[at]

    def default_risk(self) -> RiskSettings:
        return RiskSettings().merged(self.defaults.risk)

    def account_risk(self, account: AccountConfig) -> RiskSettings:
        return self.default_risk().merged(account.risk)

    def strategy_risk(self, account: AccountConfig, strategy: StrategyConfig) -> RiskSettings:
        return self.account_risk(account).merged(strategy.risk)

    def strategy_symbols(self, account: AccountConfig, strategy: StrategyConfig) -> list[str]:
        return list(strategy.symbols) if strategy.symbols else list(account.symbols)

    def strategy_timeframe(self, strategy: StrategyConfig) -> Timeframe:
        return strategy.timeframe or self.defaults.strategy.timeframe

    def strategy_id(self, account: AccountConfig, index: int) -> str:
        strategy = account.strategies[index]
        return strategy.id or f"{account.id}:{strategy.kind}:{index + 1}"
