"""Loading files: TOML, environment overrides, type errors with paths, the
built-in demo and the example, and reports that never raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.issues import IssueSeverity, ValidationReport
from config.loader import ConfigError, check_file, load_settings, password_env_var
from config.strategies import STRATEGY_PARAMS

EXAMPLE = Path(__file__).parents[2] / "config" / "example.toml"

VALID = """\
[engine]
seed = 1

[defaults.risk]
risk_percent = 1.0

[instruments.EURUSD]
digits = 5
point = "0.00001"
start_price = "1.10000"

[instruments.GBPUSD]
digits = 5
point = "0.00001"
start_price = "1.27000"

[[accounts]]
id = "account-001"
symbols = ["EURUSD", "GBPUSD"]

[[accounts.strategies]]
kind = "ma_crossover"
params = { fast = 3, slow = 8 }

[[accounts]]
id = "account-002"
symbols = ["EURUSD"]

[[accounts.strategies]]
kind = "donchian_breakout"
"""


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    return write(tmp_path, VALID)


def write(tmp_path: Path, text: str, name: str = "tradedeck.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issue_paths(report: ValidationReport) -> list[str]:
    return [i.path for i in report.issues]


# --- the shipped files -----------------------------------------------------------------


def test_the_demo_loads_with_no_issues() -> None:
    assert check_file(None, env={}).issues == []
    demo = load_settings(None, env={})
    assert len(demo.accounts) >= 4
    assert {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US500", "BTCUSD"} <= set(demo.instruments)
    assert demo.instruments["USDJPY"].profit_currency == "JPY"
    assert {s.kind for a in demo.accounts for s in a.strategies} == set(STRATEGY_PARAMS)
    assert {a.margin_mode.value for a in demo.accounts} == {"hedging", "netting"}
    assert any(a.commission_per_lot > 0 for a in demo.accounts)
    assert all(a.broker.value == "paper" and a.enabled for a in demo.accounts)
    timeframes = {demo.strategy_timeframe(s).seconds for a in demo.accounts for s in a.strategies}
    assert max(timeframes) <= 15
    assert demo.storage.path is None and demo.defaults.risk is not None


def test_the_example_loads_with_no_issues() -> None:
    assert check_file(EXAMPLE, env={}).issues == []
    example = load_settings(EXAMPLE, env={})
    assert example.account("account-003") is not None


def test_a_valid_file_loads(valid_file: Path) -> None:
    settings = load_settings(valid_file, env={})
    assert [a.id for a in settings.accounts] == ["account-001", "account-002"]
    assert settings.engine.seed == 1


# --- environment overrides -------------------------------------------------------------


def test_the_environment_wins_over_the_file(valid_file: Path) -> None:
    settings = load_settings(
        valid_file,
        env={
            "TRADEDECK_ENGINE__SEED": "7",
            "TRADEDECK_STORAGE__PATH": "/x.db",
            "TRADEDECK_SERVER__PORT": "9000",
            "TRADEDECK_DEFAULTS__RISK__RISK_PERCENT": "2",
            "TRADEDECK_DEFAULTS__RISK__STOP_LOSS_PIPS": "15",
        },
    )
    assert settings.engine.seed == 7
    assert settings.storage.path == Path("/x.db")
    assert settings.server.port == 9000
    resolved = settings.account_risk(settings.accounts[0])
    assert (resolved.risk_percent, resolved.stop_loss_pips) == (2.0, 15.0)


def test_accounts_and_instruments_are_addressed_by_index_id_or_symbol(valid_file: Path) -> None:
    settings = load_settings(
        valid_file,
        env={
            "TRADEDECK_ACCOUNTS__0__ENABLED": "false",
            "TRADEDECK_ACCOUNTS__ACCOUNT_002__SYMBOLS": '["GBPUSD"]',
            "TRADEDECK_INSTRUMENTS__EURUSD__SPREAD_POINTS": "8",
        },
    )
    assert settings.accounts[0].enabled is False
    assert settings.accounts[1].symbols == ["GBPUSD"]
    assert settings.instruments["EURUSD"].spread_points == 8


def test_variables_that_are_not_settings_are_left_alone(valid_file: Path) -> None:
    env = {"TRADEDECK_TOKEN": "abc", password_env_var("account-001"): "secret", "HOME": "/"}
    assert load_settings(valid_file, env=env).engine.seed == 1


def test_the_process_environment_is_the_default(
    valid_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEDECK_ENGINE__SEED", "99")
    assert load_settings(valid_file).engine.seed == 99


def test_a_bad_override_names_its_variable(valid_file: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(valid_file, env={"TRADEDECK_SERVER__PORT": "lots"})
    (issue,) = raised.value.report.issues
    assert issue.path == "server.port"
    assert "TRADEDECK_SERVER__PORT" in issue.message


def test_an_override_that_addresses_nothing_is_an_error(valid_file: Path) -> None:
    report = check_file(
        valid_file,
        env={
            "TRADEDECK_ACCOUNTS__5__ENABLED": "false",
            "TRADEDECK_ACCOUNTS__NOBODY__ENABLED": "false",
            "TRADEDECK_ENGINE__SEED__X": "1",
            "TRADEDECK_ENGINE__SEEDS": "1",
        },
    )
    assert issue_paths(report) == ["accounts", "accounts", "engine.seed", "engine.seeds"]
    assert "TRADEDECK_ACCOUNTS__5__ENABLED" in report.issues[0].message
    assert "TRADEDECK_ENGINE__SEEDS" in report.issues[3].message


def test_an_unknown_section_is_named_with_its_variable(valid_file: Path) -> None:
    report = check_file(valid_file, env={"TRADEDECK_ENGNE__SEED": "7"})
    assert issue_paths(report) == ["engne"]
    assert report.issues[0].message == "TRADEDECK_ENGNE__SEED: there is no section [engne]"


def test_malformed_json_names_its_variable_and_keeps_the_file(valid_file: Path) -> None:
    report = check_file(valid_file, env={"TRADEDECK_RISK__LIMITS": '[{"id": "x",'})
    assert issue_paths(report) == ["risk.limits"]
    message = report.issues[0].message
    assert message.startswith("TRADEDECK_RISK__LIMITS: the value is not valid JSON")


def test_variable_names_are_case_insensitive_and_json_objects_merge(valid_file: Path) -> None:
    settings = load_settings(
        valid_file,
        env={
            "tradedeck_engine__seed": "5",
            "TRADEDECK_DEFAULTS__RISK": '{"risk_percent": 3}',
            "TRADEDECK_ACCOUNTS__ACCOUNT_001__RISK__MAX_POSITIONS": "2",
        },
    )
    assert settings.engine.seed == 5
    resolved = settings.account_risk(settings.accounts[0])
    assert resolved.risk_percent == 3.0
    plain = load_settings(valid_file)
    assert resolved.stop_loss_pips == plain.account_risk(plain.accounts[0]).stop_loss_pips
    assert settings.accounts[0].risk.max_positions == 2


def test_password_env_var_names() -> None:
    assert password_env_var("account-001") == "TRADEDECK_MT5_PASSWORD_ACCOUNT_001"


# --- file and parse errors -------------------------------------------------------------


def test_a_toml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nseed = 1\nmode = "paper\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    (issue,) = raised.value.report.errors
    assert "line 3" in issue.message and issue.message.startswith("TOML syntax error")
    assert str(path) in str(raised.value)


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as raised:
        load_settings(missing, env={})
    assert str(missing) in str(raised.value)
    assert "does not exist" in str(raised.value)
    assert raised.value.report.subject == "nowhere.toml"


def test_a_directory_is_not_a_configuration(tmp_path: Path) -> None:
    report = check_file(tmp_path, env={})
    assert not report.valid and "directory" in report.errors[0].message


def test_type_errors_come_with_field_paths_all_at_once(tmp_path: Path) -> None:
    text = VALID.replace('digits = 5\npoint = "0.00001"\nstart_price = "1.27000"', "digits = 5")
    text = text.replace('id = "account-002"', 'id = "account-002"\nleverage = "high"')
    text += '\n[accounts.risk]\nrisk_percent = "lots"\n'
    report = check_file(write(tmp_path, text), env={})
    assert set(issue_paths(report)) == {
        "instruments.GBPUSD.point",
        "instruments.GBPUSD.start_price",
        "accounts[1].leverage",
        "accounts[1].risk.risk_percent",
    }
    assert all(i.severity is IssueSeverity.ERROR for i in report.issues)
    messages = {i.path: i.message for i in report.issues}
    assert messages["instruments.GBPUSD.point"] == "Field required"
    assert "valid number" in messages["accounts[1].risk.risk_percent"]


def test_a_password_in_the_file_is_an_error_pointing_to_the_environment(tmp_path: Path) -> None:
    text = VALID.replace('id = "account-001"', 'id = "account-001"\npassword = "hunter2"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    (issue,) = raised.value.report.issues
    assert issue.path == "accounts[0].password"
    assert "TRADEDECK_MT5_PASSWORD_ACCOUNT_001" in issue.message
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in raised.value.report.model_dump_json()


def test_check_file_returns_every_issue_of_a_broken_file_without_raising(tmp_path: Path) -> None:
    text = VALID.replace("seed = 1", 'seed = 1\nturbo = true\nstop_timeout_seconds = "soon"')
    text = text.replace('symbols = ["EURUSD"]', 'symbols = "EURUSD"')
    report = check_file(write(tmp_path, text, "broken.toml"), env={})
    assert report.subject == "broken.toml"
    assert set(issue_paths(report)) == {
        "engine.turbo",
        "engine.stop_timeout_seconds",
        "accounts[1].symbols",
    }


def test_check_file_reports_rule_errors_and_warnings_together(tmp_path: Path) -> None:
    text = VALID.replace('symbols = ["EURUSD"]', 'symbols = ["EURUSD", "EURUSD", "XAUUSD"]')
    text = text.replace("risk_percent = 1.0", "risk_percent = 11")
    report = check_file(write(tmp_path, text), env={})
    assert issue_paths(report) == [
        "defaults.risk.risk_percent",
        "accounts[1].symbols[1]",
        "accounts[1].symbols[2]",
    ]
    assert [i.severity for i in report.issues] == [
        IssueSeverity.WARNING,
        IssueSeverity.ERROR,
        IssueSeverity.ERROR,
    ]


def test_rule_errors_raise_and_the_message_names_the_file_and_first_error(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path, VALID.replace('kind = "donchian_breakout"', 'kind = "grid"'), "Grid.toml"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    message = str(raised.value)
    assert str(path) in message
    assert "1 error" in message and "accounts[1].strategies[0].kind" in message


def test_warnings_alone_do_not_raise(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("risk_percent = 1.0", "risk_percent = 11"))
    settings = load_settings(path, env={})
    assert settings.default_risk().risk_percent == 11
