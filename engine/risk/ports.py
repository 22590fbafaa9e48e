"""What the risk engine and the kill switch use, and nothing more: the kernel
(`engine.kernel`) fills these in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from config.models import Settings
from engine.brokers.base import TradeResult
from engine.bus import EventBus
from engine.clock import Clock
from engine.models import (
    AccountSnapshot,
    KillSwitchState,
    Quote,
    StrategyDefinition,
    StrategyInfo,
    SystemStatus,
)
from engine.orders.gate import OrderGate
from engine.ports import AlertSink, LogSink, WorkerDirectory
from storage.risk import RiskStore


class Orders(Protocol):
    """`engine.orders.service.OrderService`: the actions limits and the switch take."""

    async def flatten(self, account_id: str | None = None, *, reason: str) -> list[TradeResult]: ...

    async def cancel_all(
        self, account_id: str | None = None, *, reason: str
    ) -> list[TradeResult]: ...


class Strategies(Protocol):
    """`engine.strategies.control.StrategyControl`: pausing, for a limit's action."""

    def pause_strategies(self, account_id: str | None = None) -> list[StrategyInfo]: ...

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo: ...


@dataclass(frozen=True, slots=True)
class RiskPorts:
    settings: Settings
    clock: Clock
    store: RiskStore
    bus: EventBus
    alerts: AlertSink
    gate: OrderGate
    log: LogSink
    workers: WorkerDirectory
    orders: Orders
    strategies: Strategies
    quote: Callable[[str], Quote | None]
    accounts: Callable[[], list[AccountSnapshot]]  # each account's newest snapshot
    definitions: Callable[[str | None], list[StrategyDefinition]]
    kill_switch_state: Callable[[], KillSwitchState]


@dataclass(frozen=True, slots=True)
class KillSwitchPorts:
    settings: Settings
    clock: Clock
    store: RiskStore
    bus: EventBus
    alerts: AlertSink
    gate: OrderGate
    log: LogSink
    orders: Orders
    strategies: Strategies
    status: Callable[[], SystemStatus]
