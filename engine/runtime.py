"""The services every part of a running engine shares, passed as one object
instead of a dozen arguments."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from config.models import InstrumentConfig, Settings
from engine.alerts import AlertCenter
from engine.bus import EventBus
from engine.clock import Clock
from engine.commit import after_commit
from engine.domain import Timeframe
from engine.ids import IdSequence
from engine.models import Bar, LogEvent, LogRecord, Quote
from engine.orders.gate import OrderGate
from engine.strategies.service import StrategyService
from storage.store import Store

log = logging.getLogger("tradedeck.engine")


class MarketData(Protocol):
    def quote(self, symbol: str) -> Quote | None: ...

    def history(
        self, symbol: str, timeframe: Timeframe, count: int, end: datetime
    ) -> list[Bar]: ...


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus
    alerts: AlertCenter
    market: MarketData
    tickets: IdSequence
    signal_ids: IdSequence
    strategy_service: StrategyService  # which strategies each account runs
    gate: OrderGate = field(default_factory=OrderGate)

    @property
    def instruments(self) -> dict[str, InstrumentConfig]:
        return self.settings.instruments

    def log(
        self,
        message: str,
        *,
        level: Literal["debug", "info", "warning", "error"] = "info",
        account_id: str | None = None,
    ) -> None:
        """Write a line to the event log and stream it to the panel's log line."""
        record = LogRecord(
            time=self.clock.now(), level=level, account_id=account_id, message=message
        )
        log.log(logging.getLevelNamesMapping()[level.upper()], "%s %s", account_id or "-", message)
        after_commit(
            self.store.events.add(record),
            lambda: self.bus.publish(LogEvent(time=record.time, record=record)),
        )
