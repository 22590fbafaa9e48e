"""Validation of MT5 accounts: password source, duplicate logins, an mt5linux
bridge that does not answer; and where the password is read from."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from config.issues import IssueSeverity
from config.loader import check_file
from config.models import AccountConfig, Settings
from config.validation import validate_settings
from engine.brokers.mt5.credentials import read_password
from engine.errors import InvalidRequest

FX = {"digits": 5, "point": "0.00001", "start_price": "1.10000"}


def settings(*accounts: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "defaults": {"risk": {"risk_percent": 1.0}},
            "instruments": {"EURUSD": FX},
            "accounts": [
                {
                    "id": f"mt5-{i}",
                    "broker": "mt5",
                    "login": 1000 + i,
                    "server": "Broker-Demo",
                    "symbols": ["EURUSD"],
                    "strategies": [{"kind": "ma_crossover"}],
                    **a,
                }
                for i, a in enumerate(accounts, start=1)
            ],
        }
    )


def issues(report: Any) -> dict[str, tuple[IssueSeverity, str]]:
    return {i.path: (i.severity, i.message) for i in report.issues}


def test_an_enabled_account_without_its_password_variable_is_an_error() -> None:
    found = issues(validate_settings(settings({}), env={}))
    severity, message = found["accounts[0].password_env"]
    assert severity is IssueSeverity.ERROR
    assert "TRADEDECK_MT5_PASSWORD_MT5_1 is not set" in message
    named = settings({"password_env": "MY_PW"})
    assert (
        "MY_PW is not set"
        in issues(validate_settings(named, env={}))["accounts[0].password_env"][1]
    )
    assert validate_settings(named, env={"MY_PW": "x"}).issues == []


def test_a_disabled_account_is_checked_when_it_starts() -> None:
    assert validate_settings(settings({"enabled": False}), env={}).issues == []


def test_a_missing_password_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    found = issues(validate_settings(settings({"password_file": str(missing)}), env={}))
    assert found["accounts[0].password_file"][0] is IssueSeverity.ERROR
    (tmp_path / "pw").write_text("secret\n")
    ok = settings({"password_file": str(tmp_path / "pw")})
    assert validate_settings(ok, env={}).issues == []
    assert read_password(ok.accounts[0], env={}) == "secret"


def test_the_same_login_twice_on_one_server_is_an_error() -> None:
    env = {"TRADEDECK_MT5_PASSWORD_MT5_1": "a", "TRADEDECK_MT5_PASSWORD_MT5_2": "b"}
    found = issues(validate_settings(settings({"login": 7}, {"login": 7}), env=env))
    severity, message = found["accounts[1].login"]
    assert severity is IssueSeverity.ERROR and "duplicate mt5 login '7 on Broker-Demo'" in message
    other_server = settings({"login": 7}, {"login": 7, "server": "Other"})
    assert validate_settings(other_server, env=env).issues == []


def test_an_mt5linux_bridge_that_does_not_answer_is_a_warning_of_the_cli() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        env = {"TRADEDECK_MT5_PASSWORD_MT5_1": "x"}
        account = settings({"mt5linux_host": "127.0.0.1", "mt5linux_port": port})
        severity, message = issues(validate_settings(account, env=env, probe_bridges=True))[
            "accounts[0].mt5linux_host"
        ]
        # The engine validates on its event loop: no probe there (the worker's
        # connection names an unreachable server instead).
        assert validate_settings(account, env=env).issues == []
    assert severity is IssueSeverity.WARNING and f"127.0.0.1:{port} does not answer" in message
    with socket.create_server(("127.0.0.1", 0)) as server:
        listening = {"mt5linux_host": "127.0.0.1", "mt5linux_port": server.getsockname()[1]}
        assert validate_settings(settings(listening), env=env, probe_bridges=True).issues == []


def test_tradedeck_validate_probes_the_mt5linux_bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        monkeypatch.setenv("TRADEDECK_MT5_PASSWORD_LIVE_1", "x")
        path = tmp_path / "tradedeck.toml"
        path.write_text(
            '[instruments.EURUSD]\ndigits = 5\npoint = "0.00001"\nstart_price = "1.1"\n\n'
            '[[accounts]]\nid = "live-1"\nbroker = "mt5"\nlogin = 7\nserver = "S"\n'
            f'symbols = ["EURUSD"]\nmt5linux_host = "127.0.0.1"\nmt5linux_port = {port}\n'
        )
        found = issues(check_file(path))
    assert "does not answer" in found["accounts[0].mt5linux_host"][1]


def test_the_password_never_comes_from_the_file() -> None:
    with pytest.raises(ValueError, match="password"):
        AccountConfig.model_validate({"id": "x", "broker": "mt5", "password": "hunter2"})
    with pytest.raises(InvalidRequest, match="set TRADEDECK_MT5_PASSWORD_X"):
        read_password(AccountConfig(id="x", broker="mt5"), env={})
