"""The rules a configuration must follow beyond its types: everything that needs
the whole picture (unknown instruments, duplicates, risky values).

Each rule adds an error or a warning at a field path such as
`accounts[0].risk.risk_percent`; `field_path` is the one place those paths are
spelled, for these rules and for the loader's parse errors alike.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config.env import password_env_var
from config.issues import ValidationReport
from config.models import AccountConfig, InstrumentConfig, RiskOverrides, Settings, StrategyConfig
from config.strategies import STRATEGY_PARAMS
from engine.domain import BrokerKind, RiskAction, RiskLimitKind, RiskScope

RISK_PERCENT_WARNING = 10.0
BRIDGE_PROBE_SECONDS = 0.5
PORTFOLIO_RISK_PERCENT_WARNING = 20.0

_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def field_path(*parts: str | int) -> str:
    """`("accounts", 0, "risk")` -> `accounts[0].risk`. Keys that would make the
    path ambiguous (a symbol with a dot in it) are quoted: `instruments["US500.c"]`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "." in part or "[" in part:
            path += f'["{part}"]'
        else:
            path += f".{part}" if path else part
    return path


def path_under(path: str, prefix: str) -> bool:
    """Whether `path` is `prefix` or a field inside it."""
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def pydantic_message(detail: ErrorDetails) -> str:
    # A validator's ValueError arrives as "Value error, <what it said>".
    return detail["msg"].removeprefix("Value error, ")


def validate_settings(
    settings: Settings, *, env: Mapping[str, str] | None = None, probe_bridges: bool = False
) -> ValidationReport:
    """Every rule, on the whole configuration. `env` (default: the process
    environment) is where enabled MT5 accounts' passwords must be.

    `probe_bridges` also connects to each mt5linux server (up to 0.5 s each):
    only `tradedeck validate` does, because it blocks. Inside the engine the
    worker's own connection names a server that does not answer, without
    stopping the event loop (`engine.brokers.mt5.transport`)."""
    report = ValidationReport()
    if settings.defaults.risk is None:
        report.warning(
            "defaults.risk",
            "no [defaults.risk] section: built-in risk defaults are used "
            f"({_describe(settings.default_risk().model_dump())})",
        )
    else:
        _check_risk(report, settings.defaults.risk, "defaults", "risk")
    for symbol, instrument in settings.instruments.items():
        _check_instrument(report, symbol, instrument)
    _check_unique(
        report,
        "account id",
        [(field_path("accounts", i, "id"), a.id) for i, a in enumerate(settings.accounts)],
    )
    environment = os.environ if env is None else env
    for index, account in enumerate(settings.accounts):
        _check_account(report, settings, index, account, environment)
        if probe_bridges and account.broker is BrokerKind.MT5 and account.enabled:
            _probe_mt5linux(report, account, ("accounts", index))
    _check_unique(
        report,
        "mt5 login",
        [
            (field_path("accounts", i, "login"), f"{a.login} on {a.server}")
            for i, a in enumerate(settings.accounts)
            if a.broker is BrokerKind.MT5 and a.login is not None
        ],
    )
    _check_unique(
        report,
        "strategy id",
        [
            (field_path("accounts", i, "strategies", k, "id"), settings.strategy_id(account, k))
            for i, account in enumerate(settings.accounts)
            for k in range(len(account.strategies))
        ],
    )
    _check_risk_limits(report, settings)
    return report


def validate_account(settings: Settings, account_id: str) -> ValidationReport:
    """One account's slice of the whole report: its own issues, those of the
    instruments it trades and those of the default risk it inherits."""
    index = next((i for i, a in enumerate(settings.accounts) if a.id == account_id), None)
    if index is None:
        report = ValidationReport(subject=account_id)
        report.error("accounts", f"there is no account {account_id!r} in the configuration")
        return report
    account = settings.accounts[index]
    prefixes = [
        field_path("accounts", index),
        "defaults",
        *(field_path("instruments", symbol) for symbol in account.symbols),
    ]
    whole = validate_settings(settings)
    issues = [i for i in whole.issues if any(path_under(i.path, p) for p in prefixes)]
    return ValidationReport(subject=account_id, issues=issues)


# --- accounts and strategies -------------------------------------------------------


def _check_account(
    report: ValidationReport,
    settings: Settings,
    index: int,
    account: AccountConfig,
    env: Mapping[str, str],
) -> None:
    at = ("accounts", index)
    if not account.symbols:
        report.error(field_path(*at, "symbols"), f"account {account.id!r} has no symbols")
    symbols = [(field_path(*at, "symbols", j), s) for j, s in enumerate(account.symbols)]
    _check_unique(report, "symbol", symbols)
    first_paths: dict[str, str] = {}  # an unknown symbol listed twice is reported once
    for path, symbol in symbols:
        first_paths.setdefault(symbol, path)
    for symbol, path in first_paths.items():
        if symbol not in settings.instruments:
            report.error(path, f"{symbol} is not defined under [instruments]")
    if account.broker is BrokerKind.MT5:
        _check_mt5(report, account, at, env)
    _check_risk(report, account.risk, *at, "risk")
    if account.enabled and not account.strategies:
        report.warning(
            field_path(*at, "strategies"),
            f"account {account.id!r} is enabled but has no strategies: it will not trade",
        )
    for position, strategy in enumerate(account.strategies):
        _check_strategy(report, account, strategy, (*at, "strategies", position))


def _check_mt5(
    report: ValidationReport,
    account: AccountConfig,
    at: tuple[str | int, ...],
    env: Mapping[str, str],
) -> None:
    """Login and server; for an enabled account also the password source (a
    disabled account is checked when started)."""
    for name in ("login", "server"):
        if getattr(account, name) is None:
            report.error(field_path(*at, name), f"an mt5 account needs a {name}")
    if not account.enabled:
        return
    if account.password_file is not None:
        path = account.password_file.expanduser()
        if not path.is_file():
            report.error(
                field_path(*at, "password_file"), f"the password file {path} does not exist"
            )
    else:
        variable = account.password_env or password_env_var(account.id)
        if not env.get(variable):
            report.error(
                field_path(*at, "password_env"),
                f"the password variable {variable} is not set in the environment",
            )


def _probe_mt5linux(
    report: ValidationReport, account: AccountConfig, at: tuple[str | int, ...]
) -> None:
    """A warning when the account's mt5linux server does not accept a connection
    (it may be started later). Blocks for up to BRIDGE_PROBE_SECONDS."""
    if not account.mt5linux_host:
        return
    address = (account.mt5linux_host, account.mt5linux_port)
    try:
        socket.create_connection(address, timeout=BRIDGE_PROBE_SECONDS).close()
    except OSError as error:
        report.warning(
            field_path(*at, "mt5linux_host"),
            f"the mt5linux bridge at {address[0]}:{address[1]} does not answer "
            f"({error.strerror or error}); start it before the worker",
        )


def _check_strategy(
    report: ValidationReport,
    account: AccountConfig,
    strategy: StrategyConfig,
    at: tuple[str | int, ...],
) -> None:
    params_model = STRATEGY_PARAMS.get(strategy.kind)
    if params_model is None:
        report.error(
            field_path(*at, "kind"),
            f"unknown strategy kind {strategy.kind!r}; known kinds: {', '.join(STRATEGY_PARAMS)}",
        )
    else:
        try:
            params_model.model_validate(strategy.params)
        except ValidationError as error:
            for detail in error.errors():
                report.error(field_path(*at, "params", *detail["loc"]), pydantic_message(detail))
    for position, symbol in enumerate(strategy.symbols or []):
        if symbol not in account.symbols:
            report.error(
                field_path(*at, "symbols", position),
                f"{symbol} is not one of account {account.id!r}'s symbols",
            )
    _check_risk(report, strategy.risk, *at, "risk")


# --- risk ----------------------------------------------------------------------------


def _check_risk(report: ValidationReport, risk: RiskOverrides | None, *at: str | int) -> None:
    """The checks for one level of the risk cascade (defaults, account or strategy).
    Warnings go where a value is set, so an inherited value warns once, not per heir."""
    if risk is None:
        return
    for name, value in risk.model_dump(exclude_none=True).items():
        if value <= 0:
            report.error(field_path(*at, name), f"{name} must be greater than 0, not {value}")
    if risk.risk_percent is not None and risk.risk_percent > RISK_PERCENT_WARNING:
        report.warning(
            field_path(*at, "risk_percent"),
            f"risk_percent is high ({risk.risk_percent}% per trade), consider reducing",
        )
    portfolio = risk.portfolio_risk_percent
    if portfolio is not None and portfolio > PORTFOLIO_RISK_PERCENT_WARNING:
        report.warning(
            field_path(*at, "portfolio_risk_percent"),
            f"portfolio_risk_percent is high ({portfolio}% of the balance), consider reducing",
        )


class RiskLimitFields(Protocol):
    """What a risk limit's rules read: the file's `RiskLimitConfig` and the
    engine's `RiskLimit` alike."""

    @property
    def scope(self) -> RiskScope: ...
    @property
    def account_id(self) -> str | None: ...
    @property
    def symbol(self) -> str | None: ...
    @property
    def kind(self) -> RiskLimitKind: ...
    @property
    def warning(self) -> Decimal | None: ...
    @property
    def threshold(self) -> Decimal: ...
    @property
    def action(self) -> RiskAction: ...


# Kinds that count things (whole numbers) and kinds measured on equity (no symbol).
_COUNTED = (RiskLimitKind.MAX_OPEN_POSITIONS, RiskLimitKind.MAX_ORDERS_PER_MINUTE)
_EQUITY_KINDS = (RiskLimitKind.MAX_DAILY_LOSS, RiskLimitKind.MAX_DRAWDOWN)


def risk_limit_problems(
    limit: RiskLimitFields, accounts: Collection[str], symbols: Collection[str]
) -> list[tuple[str, str]]:
    """Why a risk limit cannot work, as `(field, sentence)` pairs; empty when it
    can. Shared by the configuration check and the engine's edits at run time."""
    problems: list[tuple[str, str]] = []
    scope, kind = limit.scope, limit.kind
    if scope is RiskScope.ACCOUNT and limit.account_id is None:
        problems.append(("account_id", "an account limit needs an account_id"))
    if scope is RiskScope.SYMBOL and limit.symbol is None:
        problems.append(("symbol", "a symbol limit needs a symbol"))
    if scope is RiskScope.GLOBAL and limit.account_id is not None:
        problems.append(("account_id", "a global limit covers every account: drop account_id"))
    if scope is not RiskScope.SYMBOL and limit.symbol is not None:
        problems.append(("symbol", f"only a symbol limit names a symbol, not a {scope} one"))
    if limit.account_id is not None and limit.account_id not in accounts:
        problems.append(("account_id", f"there is no account {limit.account_id!r}"))
    if limit.symbol is not None and limit.symbol not in symbols:
        problems.append(("symbol", f"{limit.symbol} is not defined under [instruments]"))
    if scope is RiskScope.SYMBOL and kind in _EQUITY_KINDS:
        problems.append(("scope", f"{kind} is measured on equity: use an account or global scope"))
    if scope is RiskScope.SYMBOL and limit.action is RiskAction.FLATTEN:
        problems.append(("action", "flatten closes whole accounts: use block or pause here"))
    if limit.threshold <= 0:
        problems.append(("threshold", f"threshold must be greater than 0, not {limit.threshold}"))
    if kind is RiskLimitKind.MAX_DRAWDOWN and limit.threshold > 100:
        problems.append(("threshold", f"a drawdown is a percentage: {limit.threshold} is over 100"))
    if kind in _COUNTED:
        for name in ("warning", "threshold"):
            value = getattr(limit, name)
            if value is not None and value != value.to_integral_value():
                problems.append((name, f"{kind} counts whole {_unit(kind)}, not {value}"))
    warning = limit.warning
    if warning is not None and warning >= limit.threshold:
        problems.append(
            ("warning", f"warning ({warning}) must be below the threshold ({limit.threshold})")
        )
    return problems


def _unit(kind: RiskLimitKind) -> str:
    return "positions" if kind is RiskLimitKind.MAX_OPEN_POSITIONS else "orders"


def _check_risk_limits(report: ValidationReport, settings: Settings) -> None:
    accounts = {a.id for a in settings.accounts}
    limits = settings.risk.limits
    for index, limit in enumerate(limits):
        for name, message in risk_limit_problems(limit, accounts, settings.instruments):
            report.error(field_path("risk", "limits", index, name), message)
    _check_unique(
        report,
        "risk limit id",
        [(field_path("risk", "limits", i, "id"), limit.id) for i, limit in enumerate(limits)],
    )


# --- instruments ---------------------------------------------------------------------


def _check_instrument(report: ValidationReport, symbol: str, instrument: InstrumentConfig) -> None:
    at = ("instruments", symbol)
    for name in ("point", "contract_size", "volume_min", "volume_step", "start_price"):
        value: Decimal = getattr(instrument, name)
        if value <= 0:
            report.error(field_path(*at, name), f"{name} must be greater than 0, not {value}")
    if instrument.volume_min > instrument.volume_max:
        report.error(
            field_path(*at, "volume_min"),
            f"volume_min ({instrument.volume_min}) is above volume_max ({instrument.volume_max})",
        )
    for position, hours in enumerate(instrument.trading_hours):
        problem = _hours_problem(hours)
        if problem:
            report.error(field_path(*at, "trading_hours", position), problem)
    for position, day in enumerate(instrument.trading_days):
        if not 0 <= day <= 6:
            report.error(
                field_path(*at, "trading_days", position),
                f"{day} is not a weekday number (0 = Monday .. 6 = Sunday)",
            )


def _hours_problem(hours: str) -> str | None:
    """Why `hours` is not a valid "HH:MM-HH:MM" session, or None when it is."""
    match = _HOURS.match(hours)
    if match is None:
        return f"{hours!r} is not a session like 08:00-17:30"
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or start_m > 59 or end_m > 59 or end > 24 * 60:
        return f"{hours!r} is not a time of day (00:00 to 24:00)"
    if start >= end:
        return f"{hours!r} does not end after it starts"
    return None


# --- helpers ---------------------------------------------------------------------------


def _check_unique(report: ValidationReport, what: str, items: Iterable[tuple[str, str]]) -> None:
    """An error at each repeat of a value (items are `(path, value)`), naming
    where the value was first seen."""
    first_seen: dict[str, str] = {}
    for path, value in items:
        if value in first_seen:
            report.error(path, f"duplicate {what} {value!r} (first at {first_seen[value]})")
        else:
            first_seen[value] = path


def _describe(values: dict[str, object]) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items())
