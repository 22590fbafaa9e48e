"""Strategies at run time: add, remove, pause and resume, stored (a restart
keeps them) and applied to the running worker at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from config.models import RiskOverrides
from engine.clock import Clock
from engine.commit import after_commit
from engine.domain import Timeframe
from engine.models import Event, StrategyDefinition, StrategyEvent, StrategyInfo
from engine.ports import LogSink, WorkerDirectory
from engine.strategies.service import StrategyService
from engine.workers.worker import Worker


class StrategyControl:
    def __init__(
        self,
        definitions: StrategyService,
        workers: WorkerDirectory,
        *,
        routes_changed: Callable[[Worker], None],
        publish: Callable[[Event], None],
        clock: Clock,
        log: LogSink,
    ) -> None:
        self._definitions = definitions
        self._workers = workers
        self._routes_changed = routes_changed
        self._publish = publish
        self._clock = clock
        self._log = log

    def strategies(self) -> list[StrategyInfo]:
        """Every account's strategies, running or not."""
        return [s for w in self._workers.workers.values() for s in w.strategy_infos()]

    def strategy(self, strategy_id: str) -> StrategyInfo:
        return self._strategy_info(self._definitions.get(strategy_id))

    async def add_strategy(
        self,
        account_id: str,
        kind: str,
        params: dict[str, Any],
        symbols: list[str] | None,
        timeframe: Timeframe | None = None,
        *,
        risk: RiskOverrides | None = None,
        strategy_id: str | None = None,
        paused: bool = False,
    ) -> StrategyInfo:
        """Add a strategy to an account (its symbols when `symbols` is empty) and,
        if the worker runs, run it now, warmed up on recent history."""
        worker = self._workers.get(account_id)
        definition = await self._definitions.add(
            account_id,
            kind,
            params,
            symbols,
            timeframe,
            risk=risk,
            strategy_id=strategy_id,
            paused=paused,
        )
        info = worker.add_strategy(definition)
        self._routes_changed(worker)
        self._strategy_changed(info, f"added ({kind} on {', '.join(definition.symbols)})")
        return info

    async def remove_strategy(self, strategy_id: str) -> StrategyInfo:
        """Stop and forget a strategy; its open positions stay, guarded by their SL/TP."""
        definition = self._definitions.get(strategy_id)
        worker = self._workers.get(definition.account_id)
        worker.remove_strategy(strategy_id)
        self._routes_changed(worker)
        await self._definitions.remove(strategy_id)
        info = worker.strategy_info(definition.model_copy(update={"paused": False}))
        self._strategy_changed(info, "removed", removed=True)
        return info

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo:
        """Pause a strategy: it keeps its positions (their stops stay at the broker)
        but opens and closes nothing until resumed."""
        info, stored = self._set_paused(self._definitions.get(strategy_id), True)
        await stored
        return info

    async def resume_strategy(self, strategy_id: str) -> StrategyInfo:
        info, stored = self._set_paused(self._definitions.get(strategy_id), False)
        await stored
        return info

    def pause_strategies(self, account_id: str | None = None) -> list[StrategyInfo]:
        """Pause every strategy of `account_id` (of every account when None) at once
        and return them all. Synchronous, for the risk engine's actions: the
        strategies stop opening positions before this returns; the stored state
        commits moments later."""
        if account_id is not None:
            self._workers.get(account_id)
        return [self._set_paused(d, True)[0] for d in self._definitions.definitions(account_id)]

    def _strategy_info(self, definition: StrategyDefinition) -> StrategyInfo:
        return self._workers.get(definition.account_id).strategy_info(definition)

    def _set_paused(
        self, definition: StrategyDefinition, paused: bool
    ) -> tuple[StrategyInfo, asyncio.Future[None]]:
        """Pause or resume at once; the future resolves once that is stored (and
        the change published). Nothing is written when nothing changes."""
        if definition.paused is paused:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return self._strategy_info(definition), done
        definition, stored = self._definitions.set_paused(definition.id, paused)
        info = self._workers.get(definition.account_id).set_strategy_paused(definition)
        after_commit(
            stored, lambda: self._strategy_changed(info, "paused" if paused else "resumed")
        )
        return info, stored

    def _strategy_changed(self, info: StrategyInfo, what: str, *, removed: bool = False) -> None:
        self._publish(StrategyEvent(time=self._clock.now(), strategy=info, removed=removed))
        self._log(f"strategy {info.id} {what}", account_id=info.account_id)
