"""Every validation rule: the issue it raises, at which path, with which severity."""

from __future__ import annotations

from typing import Any

import pytest

from config.issues import IssueSeverity, ValidationIssue, ValidationReport
from config.models import Settings
from config.strategies import STRATEGY_PARAMS
from config.validation import field_path, validate_account, validate_settings

ERROR, WARNING = IssueSeverity.ERROR, IssueSeverity.WARNING


def base() -> dict[str, Any]:
    """A small configuration that passes every rule; tests break one thing each."""
    fx = {"digits": 5, "point": "0.00001", "start_price": "1.10000"}
    return {
        "defaults": {"risk": {"risk_percent": 1.0}},
        "instruments": {"EURUSD": dict(fx), "GBPUSD": dict(fx, start_price="1.27000")},
        "accounts": [
            {
                "id": "account-001",
                "symbols": ["EURUSD", "GBPUSD"],
                "strategies": [
                    {"kind": "ma_crossover", "params": {"fast": 3, "slow": 8}},
                    {"kind": "donchian_breakout", "symbols": ["GBPUSD"]},
                ],
            },
            {
                "id": "account-002",
                "symbols": ["EURUSD"],
                "strategies": [{"kind": "bollinger_reversion"}],
            },
        ],
    }


# Enabled MT5 accounts need their password in the environment; every test
# account's is there unless a test takes it away.
PASSWORDS = {"TRADEDECK_MT5_PASSWORD_ACCOUNT_002": "secret"}


def check(data: dict[str, Any], env: dict[str, str] = PASSWORDS) -> ValidationReport:
    return validate_settings(Settings.model_validate(data), env=env)


def only_issue(report: ValidationReport, path: str) -> ValidationIssue:
    found = [i for i in report.issues if i.path == path]
    assert len(found) == 1, report.issues
    return found[0]


def test_the_base_configuration_has_no_issues() -> None:
    assert check(base()).issues == []


# --- risk ----------------------------------------------------------------------------

RISK_LEVELS = [
    (("defaults", "risk"), "defaults.risk"),
    (("accounts", 1, "risk"), "accounts[1].risk"),
    (("accounts", 0, "strategies", 1, "risk"), "accounts[0].strategies[1].risk"),
]


def set_risk(data: dict[str, Any], where: tuple[str | int, ...], **values: Any) -> None:
    node: Any = data
    for key in where[:-1]:
        node = node[key]
    node.setdefault(where[-1], {}).update(values)


@pytest.mark.parametrize(("where", "path"), RISK_LEVELS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("risk_percent", 0),
        ("max_positions", -1),
        ("portfolio_risk_percent", -5),
        ("take_profit_pips", 0),
    ],
)
def test_risk_values_must_be_positive_at_every_level(
    where: tuple[str | int, ...], path: str, field: str, value: float
) -> None:
    data = base()
    set_risk(data, where, **{field: value})
    issue = only_issue(check(data), f"{path}.{field}")
    assert issue.severity is ERROR
    assert "greater than 0" in issue.message


@pytest.mark.parametrize(("where", "path"), RISK_LEVELS)
def test_risk_percent_above_10_warns(where: tuple[str | int, ...], path: str) -> None:
    data = base()
    set_risk(data, where, risk_percent=12.5)
    issue = only_issue(check(data), f"{path}.risk_percent")
    assert issue.severity is WARNING
    assert "12.5%" in issue.message


def test_risk_percent_of_exactly_10_does_not_warn() -> None:
    data = base()
    set_risk(data, ("defaults", "risk"), risk_percent=10)
    assert check(data).issues == []


@pytest.mark.parametrize(("where", "path"), RISK_LEVELS)
def test_portfolio_risk_percent_above_20_warns(where: tuple[str | int, ...], path: str) -> None:
    data = base()
    set_risk(data, where, portfolio_risk_percent=25)
    issue = only_issue(check(data), f"{path}.portfolio_risk_percent")
    assert issue.severity is WARNING


def test_an_inherited_high_risk_warns_once_where_it_is_set() -> None:
    data = base()
    set_risk(data, ("defaults", "risk"), risk_percent=15)
    report = check(data)
    assert [i.path for i in report.issues] == ["defaults.risk.risk_percent"]


def test_missing_default_risk_warns_that_built_in_values_apply() -> None:
    data = base()
    del data["defaults"]
    issue = only_issue(check(data), "defaults.risk")
    assert issue.severity is WARNING
    assert "built-in" in issue.message and "risk_percent 1.0" in issue.message


# --- accounts ----------------------------------------------------------------------------


def test_an_account_without_symbols_is_an_error() -> None:
    data = base()
    data["accounts"][1]["symbols"] = []
    data["accounts"][1]["strategies"] = []
    data["accounts"][1]["enabled"] = False
    issue = only_issue(check(data), "accounts[1].symbols")
    assert issue.severity is ERROR and "account-002" in issue.message


def test_duplicate_symbols_in_an_account_are_errors() -> None:
    data = base()
    data["accounts"][0]["symbols"] = ["EURUSD", "GBPUSD", "EURUSD"]
    issue = only_issue(check(data), "accounts[0].symbols[2]")
    assert issue.severity is ERROR
    assert "EURUSD" in issue.message and "accounts[0].symbols[0]" in issue.message


def test_a_symbol_not_in_instruments_is_an_error() -> None:
    data = base()
    data["accounts"][1]["symbols"] = ["EURUSD", "XAUUSD"]
    issue = only_issue(check(data), "accounts[1].symbols[1]")
    assert issue.severity is ERROR and "XAUUSD" in issue.message


def test_duplicate_account_ids_are_errors() -> None:
    data = base()
    data["accounts"][1]["id"] = "account-001"
    issue = only_issue(check(data), "accounts[1].id")
    assert issue.severity is ERROR and "accounts[0].id" in issue.message


def test_an_enabled_account_without_strategies_warns() -> None:
    data = base()
    data["accounts"][1]["strategies"] = []
    issue = only_issue(check(data), "accounts[1].strategies")
    assert issue.severity is WARNING


def test_a_disabled_account_without_strategies_is_fine() -> None:
    data = base()
    data["accounts"][1].update(strategies=[], enabled=False)
    assert check(data).issues == []


@pytest.mark.parametrize("missing", ["login", "server"])
def test_mt5_accounts_need_login_and_server(missing: str) -> None:
    data = base()
    account = data["accounts"][1]
    account.update(broker="mt5", login=1234, server="Broker-Demo")
    del account[missing]
    issue = only_issue(check(data), f"accounts[1].{missing}")
    assert issue.severity is ERROR
    assert len(check(data).issues) == 1


def test_an_mt5_account_with_login_and_server_passes() -> None:
    data = base()
    data["accounts"][1].update(broker="mt5", login=1234, server="Broker-Demo")
    assert check(data).issues == []


def test_an_enabled_mt5_account_without_its_password_variable_is_an_error() -> None:
    data = base()
    data["accounts"][1].update(broker="mt5", login=1234, server="Broker-Demo")
    report = check(data, env={})
    assert not report.valid
    assert any("TRADEDECK_MT5_PASSWORD_ACCOUNT_002" in i.message for i in report.errors)


# --- strategies --------------------------------------------------------------------------


def test_an_unknown_strategy_kind_is_an_error_listing_the_known_kinds() -> None:
    data = base()
    data["accounts"][0]["strategies"][1]["kind"] = "martingale"
    issue = only_issue(check(data), "accounts[0].strategies[1].kind")
    assert issue.severity is ERROR
    assert "martingale" in issue.message
    assert all(kind in issue.message for kind in STRATEGY_PARAMS)


@pytest.mark.parametrize(
    ("params", "path", "words"),
    [
        ({"fast": "quick", "slow": 8}, "params.fast", "integer"),
        ({"fast": 3, "slow": 8, "fastest": 1}, "params.fastest", "not permitted"),
        ({"fast": 0, "slow": 8}, "params.fast", "greater than or equal to 1"),
        ({"fast": 9, "slow": 8}, "params", "fast (9) must be smaller than slow (8)"),
    ],
)
def test_bad_strategy_params_are_errors_naming_the_parameter(
    params: dict[str, Any], path: str, words: str
) -> None:
    data = base()
    data["accounts"][0]["strategies"][0]["params"] = params
    issue = only_issue(check(data), f"accounts[0].strategies[0].{path}")
    assert issue.severity is ERROR
    assert words in issue.message


def test_strategy_symbols_must_be_among_the_accounts_symbols() -> None:
    data = base()
    data["accounts"][1]["strategies"][0]["symbols"] = ["GBPUSD"]
    issue = only_issue(check(data), "accounts[1].strategies[0].symbols[0]")
    assert issue.severity is ERROR and "account-002" in issue.message


def test_duplicate_strategy_ids_are_errors() -> None:
    data = base()
    data["accounts"][0]["strategies"][0]["id"] = "trend"
    data["accounts"][1]["strategies"][0]["id"] = "trend"
    issue = only_issue(check(data), "accounts[1].strategies[0].id")
    assert issue.severity is ERROR and "accounts[0].strategies[0].id" in issue.message


# --- instruments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("point", "0"), ("volume_step", "0"), ("start_price", "-1"), ("contract_size", "0")],
)
def test_instrument_amounts_must_be_positive(field: str, value: str) -> None:
    data = base()
    data["instruments"]["EURUSD"][field] = value
    issue = only_issue(check(data), f"instruments.EURUSD.{field}")
    assert issue.severity is ERROR


def test_volume_min_above_volume_max_is_an_error() -> None:
    data = base()
    data["instruments"]["GBPUSD"].update(volume_min="5", volume_max="1")
    issue = only_issue(check(data), "instruments.GBPUSD.volume_min")
    assert issue.severity is ERROR and "volume_max" in issue.message


@pytest.mark.parametrize(
    "hours", ["9:00-17:00", "08:00-25:00", "17:00-08:00", "08:60-09:00", "all day"]
)
def test_trading_hours_must_be_sessions(hours: str) -> None:
    data = base()
    data["instruments"]["EURUSD"]["trading_hours"] = ["00:00-08:00", hours]
    issue = only_issue(check(data), "instruments.EURUSD.trading_hours[1]")
    assert issue.severity is ERROR and hours in issue.message


def test_a_session_may_end_at_midnight() -> None:
    data = base()
    data["instruments"]["EURUSD"]["trading_hours"] = ["08:00-12:00", "13:00-24:00"]
    assert check(data).issues == []


def test_trading_days_are_0_to_6() -> None:
    data = base()
    data["instruments"]["EURUSD"]["trading_days"] = [0, 6, 7]
    issue = only_issue(check(data), "instruments.EURUSD.trading_days[2]")
    assert issue.severity is ERROR


def test_every_problem_is_reported_at_once() -> None:
    data = base()
    data["accounts"][0]["symbols"].append("EURUSD")
    data["accounts"][1]["strategies"][0]["kind"] = "nope"
    data["instruments"]["GBPUSD"]["point"] = "0"
    set_risk(data, ("accounts", 1, "risk"), risk_percent=50)
    report = check(data)
    assert {i.path for i in report.errors} == {
        "accounts[0].symbols[2]",
        "accounts[1].strategies[0].kind",
        "instruments.GBPUSD.point",
    }
    assert [i.path for i in report.warnings] == ["accounts[1].risk.risk_percent"]


# --- one account's slice -------------------------------------------------------------


def test_validate_account_keeps_the_accounts_own_issues_and_its_instruments() -> None:
    data = base()
    data["accounts"][0]["strategies"][0]["kind"] = "nope"
    data["accounts"][1]["strategies"] = []
    data["instruments"]["GBPUSD"]["volume_step"] = "0"  # traded by account-001 only
    set_risk(data, ("defaults", "risk"), risk_percent=11)
    settings = Settings.model_validate(data)

    first = validate_account(settings, "account-001")
    assert first.subject == "account-001"
    assert {i.path for i in first.issues} == {
        "accounts[0].strategies[0].kind",
        "instruments.GBPUSD.volume_step",
        "defaults.risk.risk_percent",
    }
    second = validate_account(settings, "account-002")
    assert {i.path for i in second.issues} == {
        "accounts[1].strategies",
        "defaults.risk.risk_percent",
    }
    assert second.valid and not first.valid


def test_validate_account_on_an_unknown_account_is_one_error() -> None:
    report = validate_account(Settings.model_validate(base()), "account-999")
    assert report.subject == "account-999"
    assert len(report.issues) == 1
    assert report.errors[0].path == "accounts" and "account-999" in report.errors[0].message


def test_field_paths() -> None:
    assert field_path("accounts", 0, "risk", "risk_percent") == "accounts[0].risk.risk_percent"
    assert field_path("instruments", "EURUSD", "volume_step") == "instruments.EURUSD.volume_step"
    assert field_path("instruments", "US500.cash", "point") == 'instruments["US500.cash"].point'


def test_an_unknown_symbol_listed_twice_is_reported_once_as_unknown() -> None:
    data = base()
    data["accounts"][1]["symbols"] = ["XAUUSD", "EURUSD", "XAUUSD"]
    report = check(data)
    assert [i.path for i in report.issues] == ["accounts[1].symbols[2]", "accounts[1].symbols[0]"]
    assert "duplicate" in report.issues[0].message and "XAUUSD" in report.issues[1].message
