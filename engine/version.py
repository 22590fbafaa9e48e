"""The installed version of tradedeck."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed


def version() -> str:
    try:
        return _installed("tradedeck")
    except PackageNotFoundError:
        return "0.0.0"
