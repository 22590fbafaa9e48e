"""Which strategies each account runs, and in what state a person left them.

The configuration file names some strategies; people add, remove, pause and
resume strategies while the engine runs. This service merges the two into one
list of `StrategyDefinition`s that workers build their strategies from, and
stores every run-time change so that a restart keeps it: an added strategy is
still there, a paused one still paused, a removed one still gone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from config.models import AccountConfig, RiskOverrides, Settings
from config.strategies import STRATEGY_PARAMS
from config.validation import field_path, pydantic_message
from engine.clock import Clock
from engine.domain import Timeframe
from engine.errors import Conflict, NotFound, ValidationFailed, WorkerNotFound
from engine.models import StrategyDefinition, StrategyOrigin
from storage.store import Store
from storage.strategies import StoredState

log = logging.getLogger("tradedeck.engine")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class StrategyNotFound(NotFound):
    def __init__(self, strategy_id: str) -> None:
        super().__init__(f"No strategy with id {strategy_id!r}.", strategy_id=strategy_id)


class StrategyService:
    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._added: dict[str, StrategyDefinition] = {}  # in the order they were added
        self._states: dict[str, StoredState] = {}
        self._deployed: dict[str, dict[str, Any]] = {}  # parameters deployed at run time
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read what was changed at run time; strategies whose account or symbols
        the configuration no longer has are left stored but not run."""
        self._states = await self._store.strategies.states()
        self._deployed = await self._store.strategies.deployed_params()
        self._added = {}
        for definition in await self._store.strategies.added():
            problem = self._unusable(definition)
            if problem is None:
                self._added[definition.id] = definition
            else:
                log.warning("strategy %s is stored but not run: %s", definition.id, problem)
        # Deployed parameters the strategy's kind no longer takes (the file changed
        # it) are set aside, so the strategy runs on its own.
        kinds = {d.id: d.kind for d in self._all()}
        for strategy_id, params in list(self._deployed.items()):
            kind = kinds.get(strategy_id)
            try:
                if kind is not None:
                    _validated_params(kind, params)
            except ValidationFailed as error:
                log.warning("deployed parameters of %s are not used: %s", strategy_id, error)
                del self._deployed[strategy_id]
        for strategy_id, definition in self._added.items():
            if strategy_id in self._deployed:
                params = self._deployed[strategy_id]
                self._added[strategy_id] = definition.model_copy(update={"params": params})

    # --- reading -----------------------------------------------------------------

    def definitions(self, account_id: str | None = None) -> list[StrategyDefinition]:
        """The strategies `account_id` runs (every account's when None): the
        file's first, in its order, then those added, oldest first."""
        return [d for d in self._all() if account_id is None or d.account_id == account_id]

    def get(self, strategy_id: str) -> StrategyDefinition:
        for definition in self._all():
            if definition.id == strategy_id:
                return definition
        raise StrategyNotFound(strategy_id)

    # --- changing ----------------------------------------------------------------

    async def add(
        self,
        account_id: str,
        kind: str,
        params: dict[str, Any],
        symbols: list[str] | None = None,
        timeframe: Timeframe | None = None,
        *,
        risk: RiskOverrides | None = None,
        strategy_id: str | None = None,
        paused: bool = False,
    ) -> StrategyDefinition:
        """Validate and store a new strategy; it is part of `definitions` once
        committed. Raises `WorkerNotFound`, `ValidationFailed` naming each bad
        field (`kind`, `params.fast`, `symbols[1]`, `id`) or `Conflict` for an id
        already used."""
        account = self._settings.account(account_id)
        if account is None:
            raise WorkerNotFound(account_id)
        async with self._lock:
            if strategy_id is not None:
                self._check_new_id(strategy_id)
            definition = StrategyDefinition(
                id=strategy_id or self._next_id(account, kind),
                account_id=account_id,
                kind=kind,
                params=_validated_params(kind, params),
                symbols=_validated_symbols(account, symbols),
                timeframe=timeframe or self._settings.defaults.strategy.timeframe,
                risk=_validated_risk(risk),
                origin=StrategyOrigin.RUNTIME,
                paused=paused,
                created_at=self._clock.now(),
            )
            await self._store.strategies.add(definition)
            self._added[definition.id] = definition
        return definition

    async def remove(self, strategy_id: str) -> StrategyDefinition:
        """Stop running a strategy for good. It is recorded as removed rather than
        deleted, so its id never names another strategy (signals and orders keep
        pointing at the one they came from)."""
        definition = self.get(strategy_id)
        self._added.pop(strategy_id, None)
        self._states[strategy_id] = "removed"
        await self._set_state(definition, "removed")
        return definition

    def set_paused(
        self, strategy_id: str, paused: bool
    ) -> tuple[StrategyDefinition, asyncio.Future[None]]:
        """Record at once that the strategy is (not) paused; the future resolves
        once that is stored."""
        definition = self.get(strategy_id)
        if paused:
            self._states[strategy_id] = "paused"
        else:
            self._states.pop(strategy_id, None)
        if definition.origin is StrategyOrigin.RUNTIME:
            self._added[strategy_id] = definition.model_copy(update={"paused": paused})
        return self.get(strategy_id), self._set_state(definition, "paused" if paused else None)

    def set_params(
        self, strategy_id: str, params: dict[str, Any], model_id: int | None = None
    ) -> asyncio.Future[None]:
        """Record parameters deployed to a running strategy, so that it starts
        with them again after a restart; the future resolves once stored."""
        definition = self.get(strategy_id)
        self._deployed[strategy_id] = params
        if definition.origin is StrategyOrigin.RUNTIME:
            self._added[strategy_id] = definition.model_copy(update={"params": params})
        return self._store.strategies.set_params(strategy_id, params, model_id, self._clock.now())

    # --- internals -----------------------------------------------------------------

    def _all(self) -> Iterator[StrategyDefinition]:
        settings = self._settings
        for account in settings.accounts:
            for index, config in enumerate(account.strategies):
                strategy_id = settings.strategy_id(account, index)
                state = self._states.get(strategy_id)
                if not config.enabled or state == "removed":
                    continue
                yield StrategyDefinition(
                    id=strategy_id,
                    account_id=account.id,
                    kind=config.kind,
                    params=self._deployed.get(strategy_id, config.params),
                    symbols=settings.strategy_symbols(account, config),
                    timeframe=settings.strategy_timeframe(config),
                    risk=config.risk,
                    origin=StrategyOrigin.CONFIG,
                    paused=state == "paused",
                )
        yield from self._added.values()

    def _set_state(
        self, definition: StrategyDefinition, state: StoredState | None
    ) -> asyncio.Future[None]:
        return self._store.strategies.set_state(
            definition.id, definition.account_id, state, self._clock.now()
        )

    def _known_ids(self) -> set[str]:
        """Every id in use, removed strategies from the file included: an id
        never names two strategies, even over time."""
        settings = self._settings
        configured = {
            settings.strategy_id(account, index)
            for account in settings.accounts
            for index in range(len(account.strategies))
        }
        return configured | set(self._added) | set(self._states)

    def _next_id(self, account: AccountConfig, kind: str) -> str:
        known = self._known_ids()
        number = sum(1 for d in self._all() if d.account_id == account.id) + 1
        while f"{account.id}:{kind}:{number}" in known:
            number += 1
        return f"{account.id}:{kind}:{number}"

    def _check_new_id(self, strategy_id: str) -> None:
        if not _ID.match(strategy_id):
            raise ValidationFailed(
                f"id: {strategy_id!r} is not a strategy id (letters, digits and _ . : -, "
                "at most 64 characters).",
                [_issue(("id",), "letters, digits and _ . : - only, at most 64 characters")],
            )
        if strategy_id in self._known_ids():
            raise Conflict(f"A strategy with id {strategy_id!r} exists or existed.", id=strategy_id)

    def _unusable(self, definition: StrategyDefinition) -> str | None:
        account = self._settings.account(definition.account_id)
        if account is None:
            return f"there is no account {definition.account_id!r}"
        missing = [s for s in definition.symbols if s not in account.symbols]
        if missing:
            return f"account {account.id!r} does not trade {', '.join(missing)}"
        return None


def _validated_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` checked by the kind's model, with its defaults filled in."""
    model = STRATEGY_PARAMS.get(kind)
    if model is None:
        known = ", ".join(STRATEGY_PARAMS)
        raise ValidationFailed(
            f"kind: unknown strategy kind {kind!r}; known kinds: {known}.",
            [_issue(("kind",), f"unknown strategy kind {kind!r}; known kinds: {known}")],
        )
    try:
        return model.model_validate(params).model_dump(mode="json")
    except ValidationError as error:
        issues = [_issue(("params", *d["loc"]), pydantic_message(d)) for d in error.errors()]
        first = issues[0]
        raise ValidationFailed(
            f"Invalid parameters for {kind}: {first['path']}: {first['message']}.", issues
        ) from None


def _validated_symbols(account: AccountConfig, symbols: list[str] | None) -> list[str]:
    """`symbols` (the account's when None or empty), each one the account trades."""
    if not symbols:
        return list(account.symbols)
    issues = [
        _issue(("symbols", i), f"{s} is not one of account {account.id!r}'s symbols")
        for i, s in enumerate(symbols)
        if s not in account.symbols
    ]
    seen: set[str] = set()
    for i, symbol in enumerate(symbols):
        if symbol in seen:
            issues.append(_issue(("symbols", i), f"{symbol} is listed twice"))
        seen.add(symbol)
    if issues:
        first = issues[0]
        raise ValidationFailed(f"{first['path']}: {first['message']}.", issues)
    return list(symbols)


def _validated_risk(risk: RiskOverrides | None) -> RiskOverrides | None:
    """Each override set must be above zero, as in the configuration file."""
    if risk is None:
        return None
    issues = [
        _issue(("risk", name), f"{name} must be greater than 0, not {value}")
        for name, value in risk.model_dump(exclude_none=True).items()
        if value <= 0
    ]
    if issues:
        first = issues[0]
        raise ValidationFailed(f"{first['path']}: {first['message']}.", issues)
    return risk


def _issue(loc: tuple[str | int, ...], message: str) -> dict[str, Any]:
    """One problem, with its path as text (`params.fast`) and as parts (for the API)."""
    return {"path": field_path(*loc), "loc": list(loc), "message": message}
