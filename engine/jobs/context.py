"""What a running job sees: its own record, the few services handlers use
(`JobServices`), a way to report progress, and the checkpoint where a
cancellation request takes effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from config.models import Settings
from engine.bus import EventBus
from engine.clock import Clock
from engine.domain import Timeframe
from engine.models import AccountSnapshot, Bar, Job, StrategyInfo
from engine.ports import AlertSink, LogSink, WorkerDirectory
from engine.strategies.service import StrategyService
from storage.store import Store


@dataclass(frozen=True, slots=True)
class JobServices:
    """The services the queue, its schedules and the handlers use; the kernel
    fills it in."""

    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus
    alerts: AlertSink
    log: LogSink
    workers: WorkerDirectory
    strategy_service: StrategyService  # deployed parameters are stored here
    accounts: Callable[[], list[AccountSnapshot]]  # each account's newest snapshot
    strategies: Callable[[], list[StrategyInfo]]
    history: Callable[[str, Timeframe, int, datetime], list[Bar]]


class JobCancelled(Exception):
    """Raised at a checkpoint of a job whose cancellation was requested."""


class PermanentFailure(Exception):
    """Raised by a handler for a problem no retry can fix (an account that does
    not exist): the job goes to the dead-letter queue at once."""


ProgressReporter = Callable[[float, str], Awaitable[None]]


class JobContext:
    def __init__(
        self, job: Job, services: JobServices, clock: Clock, report: ProgressReporter
    ) -> None:
        self.job = job
        self.services = services
        self.clock = clock
        self._report = report
        self.cancel_requested = job.cancel_requested

    def checkpoint(self) -> None:
        """Stop here if someone asked to cancel the job (cooperative cancellation:
        a handler calls this where stopping leaves nothing half done)."""
        if self.cancel_requested:
            raise JobCancelled(f"job {self.job.id} was cancelled")

    async def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100) with a short message; also a checkpoint."""
        self.checkpoint()
        await self._report(min(100.0, max(0.0, percent)), message)
