"""The rules a configuration must follow beyond its types: everything that needs
the whole picture (unknown instruments, duplicates, risky values).

Each rule adds an error or a warning at a field path such as
`accounts[0].risk.risk_percent`; `field_path` is the one place those paths are
spelled, for these rules and for the loader's parse errors alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config.issues import ValidationReport
from config.models import (
    AccountConfig,
    BrokerKind,
    InstrumentConfig,
    RiskOverrides,
    Settings,
    StrategyConfig,
)
from config.strategies import STRATEGY_PARAMS

RISK_PERCENT_WARNING = 10.0
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


def validate_settings(settings: Settings) -> ValidationReport:
    """Every rule, on the whole configuration."""
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
    for index, account in enumerate(settings.accounts):
        _check_account(report, settings, index, account)
    _check_unique(
        report,
        "strategy id",
        [
            (field_path("accounts", i, "strategies", k, "id"), settings.strategy_id(account, k))
            for i, account in enumerate(settings.accounts)
            for k in range(len(account.strategies))
        ],
    )
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
    report: ValidationReport, settings: Settings, index: int, account: AccountConfig
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
        for name in ("login", "server"):
            if getattr(account, name) is None:
                report.error(field_path(*at, name), f"an mt5 account needs a {name}")
    _check_risk(report, account.risk, *at, "risk")
    if account.enabled and not account.strategies:
        report.warning(
            field_path(*at, "strategies"),
            f"account {account.id!r} is enabled but has no strategies: it will not trade",
        )
    for position, strategy in enumerate(account.strategies):
        _check_strategy(report, account, strategy, (*at, "strategies", position))


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
