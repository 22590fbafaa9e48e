"""The names tradedeck reads from the environment."""

from __future__ import annotations

import re

ENV_PREFIX = "TRADEDECK_"


def env_name(identifier: str) -> str:
    """`account-001` -> `ACCOUNT_001`: an identifier as part of a variable name."""
    return re.sub(r"[^A-Z0-9]", "_", identifier.upper())


def password_env_var(account_id: str) -> str:
    """Where an mt5 account's password comes from: `account-001` ->
    `TRADEDECK_MT5_PASSWORD_ACCOUNT_001`."""
    return f"{ENV_PREFIX}MT5_PASSWORD_{env_name(account_id)}"
