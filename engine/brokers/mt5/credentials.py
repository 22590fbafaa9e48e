"""Where an MT5 account's password comes from: a secrets file or an environment
variable, never the configuration file, the database, the API or a log."""

from __future__ import annotations

import os
from collections.abc import Mapping

from config.env import password_env_var
from config.models import AccountConfig
from engine.errors import InvalidRequest


def password_variable(account: AccountConfig) -> str:
    """The variable holding the password: `password_env`, or
    TRADEDECK_MT5_PASSWORD_<ACCOUNT_ID>."""
    return account.password_env or password_env_var(account.id)


def read_password(account: AccountConfig, env: Mapping[str, str] | None = None) -> str:
    """The password, from `password_file` when set, else from the environment."""
    if account.password_file is not None:
        path = account.password_file.expanduser()
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidRequest(
                f"Cannot read the password file of account {account.id} ({path}): "
                f"{exc.strerror or exc}."
            ) from exc
        if not password:
            raise InvalidRequest(f"The password file of account {account.id} ({path}) is empty.")
        return password
    variable = password_variable(account)
    password = (os.environ if env is None else env).get(variable, "")
    if not password:
        raise InvalidRequest(
            f"Account {account.id} has no password: set {variable} in the environment "
            "or name a password_file."
        )
    return password
