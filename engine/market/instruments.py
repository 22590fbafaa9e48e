"""Instruments added, changed and deleted while the engine runs.

Edits are stored as overrides of the configuration file's `[instruments]` and
applied over it at every start (for an edited symbol, the stored definition
wins over the file's; a deleted one stays deleted). An edit changes the
engine's instrument table in place, so orders, the pre-trade gate and the
brokers see it at once; the simulated market reads its parameters (price,
spread, volatility, ticks) when it starts, so it follows them from the next
start: a symbol added now is quoted from the next start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from config.models import InstrumentConfig, Settings
from config.validation import field_path, path_under, validate_settings
from engine.clock import Clock
from engine.errors import Conflict, NotFound, ValidationFailed
from storage.store import Store

log = logging.getLogger("tradedeck.engine")

SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._#-]{0,31}$")

# What a position or an order in the symbol is valued with: not changed under them.
VALUATION_FIELDS = ("digits", "point", "contract_size", "profit_currency")
# What only the simulated market reads, when it starts.
MARKET_FIELDS = ("start_price", "spread_points", "volatility", "ticks_per_second")


class InstrumentNotFound(NotFound):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"No instrument {symbol!r} is configured.", symbol=symbol)


class InstrumentService:
    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock

    async def load(self) -> None:
        """Apply the stored edits to the settings, before anything reads them. A
        deletion is skipped while an account still trades the symbol."""
        instruments = self._settings.instruments
        for symbol, config in (await self._store.instruments.overrides()).items():
            if config is not None:
                instruments[symbol] = config
                continue
            users = [a.id for a in self._settings.accounts if symbol in a.symbols]
            if users:
                log.warning(
                    "instrument %s was deleted but %s trade it again: kept",
                    symbol,
                    ", ".join(users),
                )
            else:
                instruments.pop(symbol, None)

    def get(self, symbol: str) -> InstrumentConfig:
        config = self._settings.instruments.get(symbol)
        if config is None:
            raise InstrumentNotFound(symbol)
        return config

    async def add(self, symbol: str, config: InstrumentConfig) -> InstrumentConfig:
        if not SYMBOL.match(symbol):
            raise ValidationFailed(
                f"symbol: {symbol!r} is not a symbol (letters, digits and . _ # -, "
                "at most 32 characters).",
                [_issue("symbol", "letters, digits and . _ # - only, at most 32 characters")],
            )
        if symbol in self._settings.instruments:
            raise Conflict(
                f"Instrument {symbol} exists already; change it with PUT.", symbol=symbol
            )
        self._check(symbol, config)
        await self._store.instruments.set(symbol, config, self._clock.now())
        self._settings.instruments[symbol] = config
        return config

    async def update(
        self, symbol: str, config: InstrumentConfig, holders: Iterable[str]
    ) -> InstrumentConfig:
        """Replace `symbol`'s definition. `holders` are the accounts with open
        positions or orders in it, whose valuation must not change under them."""
        current = self.get(symbol)
        self._check(symbol, config)
        changed = [f for f in VALUATION_FIELDS if getattr(current, f) != getattr(config, f)]
        accounts = sorted(set(holders))
        if changed and accounts:
            raise Conflict(
                f"{', '.join(changed)} of {symbol} cannot change while {', '.join(accounts)} "
                "hold positions or orders in it: close them first.",
                symbol=symbol,
                fields=changed,
                accounts=accounts,
            )
        await self._store.instruments.set(symbol, config, self._clock.now())
        self._settings.instruments[symbol] = config
        return config

    async def remove(self, symbol: str, users: dict[str, list[str]]) -> InstrumentConfig:
        """Delete `symbol`; refused while anything in `users` (what uses it, by
        kind: accounts, strategies, price alerts) does."""
        config = self.get(symbol)
        used = {kind: names for kind, names in users.items() if names}
        if used:
            what = "; ".join(f"{kind} {', '.join(names)}" for kind, names in used.items())
            raise Conflict(
                f"Instrument {symbol} is in use ({what}): remove it from them first.",
                symbol=symbol,
                used_by=used,
            )
        await self._store.instruments.set(symbol, None, self._clock.now())
        del self._settings.instruments[symbol]
        return config

    def _check(self, symbol: str, config: InstrumentConfig) -> None:
        """The configuration rules for one instrument, each problem at its field."""
        issues = []
        prefix = field_path("instruments", symbol)
        proposed = self._settings.model_copy(
            update={"instruments": {**self._settings.instruments, symbol: config}, "accounts": []}
        )
        for issue in validate_settings(proposed).errors:
            if path_under(issue.path, prefix):
                field = issue.path[len(prefix) :].lstrip(".")
                issues.append(_issue(field, issue.message))
        units = config.point.scaleb(config.digits)
        if units != units.to_integral_value() or units < 1:
            issues.append(
                _issue("point", f"point {config.point} is not a multiple of 10^-{config.digits}")
            )
        if issues:
            first = issues[0]
            raise ValidationFailed(
                f"Invalid instrument {symbol}: {first['path']}: {first['message']}.", issues
            )


def _issue(field: str, message: str) -> dict[str, Any]:
    parts: list[str | int] = [
        int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", field) if p
    ]
    return {"path": field, "loc": parts, "message": message}
