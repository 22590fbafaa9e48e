"""The panel's picture of the engine: the newest value of everything, keyed.

Pure data, no Textual: the event feed applies events here as fast as they
come, and the paint timer asks which regions changed since it last looked.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from engine.models import (
    AccountEvent,
    AccountSnapshot,
    Alert,
    AlertEvent,
    AlertStatus,
    Event,
    Job,
    JobEvent,
    JobsOverview,
    JobState,
    JobStats,
    KillSwitchEvent,
    KillSwitchState,
    LogEvent,
    LogRecord,
    Order,
    OrderEvent,
    Position,
    PositionEvent,
    Quote,
    QuoteEvent,
    RiskLimitEvent,
    Schedule,
    ScheduleEvent,
    Severity,
    Snapshot,
    StrategyEvent,
    StrategyInfo,
    SystemEvent,
    SystemStatus,
    WorkerEvent,
    WorkerInfo,
    WorkerState,
)
from tui.formatting import digits_of

# Closed orders kept for the orders pane; open ones are always kept.
RECENT_CLOSED_ORDERS = 200
# Finished jobs kept for the jobs pane; running ones are always kept.
RECENT_FINISHED_JOBS = 20
_WAITING_JOBS = frozenset({JobState.PENDING, JobState.SCHEDULED})
# Alerts this severe also pop up as a notification when they trigger.
NOTIFY_SEVERITIES = frozenset({Severity.HIGH, Severity.CRITICAL})


class Region(StrEnum):
    """A part of the screen that repaints on its own."""

    HEADER = "header"
    WORKERS = "workers"
    POSITIONS = "positions"
    ORDERS = "orders"
    ALERTS = "alerts"
    LOG = "log"
    STRATEGIES = "strategies"
    RISK = "risk"
    JOBS = "jobs"


class PanelState:
    """Everything the main screen shows, updated by snapshots and events."""

    def __init__(self) -> None:
        self.loaded = False
        self.system: SystemStatus | None = None
        self.time: datetime | None = None
        self.workers: dict[str, WorkerInfo] = {}
        self.accounts: dict[str, AccountSnapshot] = {}
        self.positions: dict[int, Position] = {}
        self.orders: dict[int, Order] = {}
        self.alerts: dict[int, Alert] = {}
        self.digits: dict[str, int] = {}
        self.quotes: dict[str, Quote] = {}
        # Strategies as the panel last heard of them (their events, command
        # replies, a worker's detail): the snapshot does not carry them.
        self.strategies: dict[str, StrategyInfo] = {}
        self.kill_switch: KillSwitchState | None = None
        self.last_log: LogRecord | None = None
        # The jobs pane: the queue's counts (re-read from the engine after job
        # events: `jobs_stale`), running and recently finished jobs by id, and
        # the schedules as their events last told them.
        self.job_stats: JobStats | None = None
        self.jobs: dict[int, Job] = {}
        self.jobs_stale = False
        self.schedules: dict[str, Schedule] = {}
        # Severe alerts that triggered since the last paint, to pop up once each.
        self.notices: list[Alert] = []
        self._dirty: set[Region] = set()

    # --- reading ---------------------------------------------------------------

    @property
    def workers_running(self) -> int:
        return sum(1 for w in self.workers.values() if w.status is WorkerState.RUNNING)

    @property
    def workers_active(self) -> int:
        """Workers that are not stopped: what quitting would leave behind."""
        return sum(1 for w in self.workers.values() if w.status is not WorkerState.STOPPED)

    @property
    def open_alerts(self) -> int:
        return sum(1 for a in self.alerts.values() if a.status is AlertStatus.TRIGGERED)

    @property
    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status.is_open]

    @property
    def running_jobs(self) -> list[Job]:
        return sorted(
            (j for j in self.jobs.values() if j.state is JobState.RUNNING), key=lambda j: j.id
        )

    @property
    def finished_jobs(self) -> list[Job]:
        """Completions and failures, latest first."""
        done = (j for j in self.jobs.values() if j.state is not JobState.RUNNING)
        return sorted(done, key=lambda j: (_ended(j), j.id), reverse=True)

    def take_notices(self) -> list[Alert]:
        """The severe alerts triggered since the last call (and forget them)."""
        notices, self.notices = self.notices, []
        return notices

    def take_dirty(self) -> set[Region]:
        """The regions changed since the last call (and forget them)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    # --- writing ---------------------------------------------------------------

    def load(self, snapshot: Snapshot) -> None:
        """Replace everything with a snapshot (at start, and after a resync)."""
        self.loaded = True
        self.system = snapshot.system
        self.time = snapshot.system.time
        self.workers = {w.account_id: w for w in snapshot.workers}
        self.accounts = {a.account_id: a for a in snapshot.accounts}
        self.positions = {p.ticket: p for p in snapshot.positions}
        self.orders = {o.ticket: o for o in snapshot.orders}
        self.alerts = {a.id: a for a in snapshot.alerts if a.id is not None}
        for quote in snapshot.quotes:
            self.digits[quote.symbol] = digits_of(quote.bid)
            self.quotes[quote.symbol] = quote
        self._dirty = set(Region)

    def load_jobs(self, overview: JobsOverview) -> None:
        """Replace the jobs pane's picture with the engine's (at start, after a resync)."""
        self.job_stats = overview.stats
        self.jobs = {j.id: j for j in (*overview.recent, *overview.running)}
        self._trim_jobs()
        self._dirty.add(Region.JOBS)

    def update_job_stats(self, stats: JobStats) -> None:
        self.job_stats = stats
        self._dirty.add(Region.JOBS)

    def load_schedules(self, schedules: list[Schedule]) -> None:
        self.schedules = {s.name: s for s in schedules}
        self._dirty.add(Region.JOBS)

    def apply(self, event: Event) -> None:
        """Fold one event into the state. A `ResyncEvent` is the feed's business
        (it needs a new snapshot), so it changes nothing here."""
        self._tick(event.time)
        if isinstance(event, QuoteEvent):
            quote = event.quote
            if quote.symbol not in self.digits:
                self.digits[quote.symbol] = digits_of(quote.bid)
            # Only the order ticket shows quotes, and it reads them on its own timer.
            self.quotes[quote.symbol] = quote
        elif isinstance(event, AccountEvent):
            self.accounts[event.account.account_id] = event.account
            self._dirty.update((Region.WORKERS, Region.HEADER))
        elif isinstance(event, PositionEvent):
            if event.closed:
                self.positions.pop(event.position.ticket, None)
            else:
                self.positions[event.position.ticket] = event.position
            self._dirty.add(Region.POSITIONS)
        elif isinstance(event, OrderEvent):
            self.update_order(event.order)
        elif isinstance(event, WorkerEvent):
            self.update_worker(event.worker)
        elif isinstance(event, AlertEvent):
            self.update_alert(event.alert)
        elif isinstance(event, SystemEvent):
            before = self.system.mode if self.system else None
            self.system = event.status
            self._dirty.add(Region.HEADER)
            if event.status.mode is not before:
                # Live mode marks the MT5 accounts' rows.
                self._dirty.update((Region.WORKERS, Region.POSITIONS, Region.ORDERS))
        elif isinstance(event, StrategyEvent):
            if event.removed:
                self.strategies.pop(event.strategy.id, None)
                self._dirty.add(Region.STRATEGIES)
            else:
                self.update_strategy(event.strategy)
        elif isinstance(event, KillSwitchEvent):
            self.kill_switch = event.state
            self._dirty.update((Region.HEADER, Region.RISK))
        elif isinstance(event, RiskLimitEvent):
            self._dirty.add(Region.RISK)
        elif isinstance(event, LogEvent):
            self.last_log = event.record
            self._dirty.add(Region.LOG)
        elif isinstance(event, JobEvent):
            self.update_job(event.job)
            self.jobs_stale = True
        elif isinstance(event, ScheduleEvent):
            if event.deleted:
                self.schedules.pop(event.schedule.name, None)
            else:
                self.schedules[event.schedule.name] = event.schedule
            self._dirty.add(Region.JOBS)

    def update_worker(self, worker: WorkerInfo) -> None:
        """A worker's newest info (from an event, or a command's reply)."""
        self.workers[worker.account_id] = worker
        self._dirty.update((Region.WORKERS, Region.HEADER))

    def update_alert(self, alert: Alert) -> None:
        if alert.id is None:
            return
        before = self.alerts.get(alert.id)
        self.alerts[alert.id] = alert
        self._dirty.update((Region.ALERTS, Region.HEADER, Region.RISK))
        newly = alert.status is AlertStatus.TRIGGERED and (
            before is None or before.status is not AlertStatus.TRIGGERED
        )
        if newly and alert.severity in NOTIFY_SEVERITIES:
            self.notices.append(alert)

    def update_strategy(self, strategy: StrategyInfo) -> None:
        """A strategy's newest info (from an event, a command's reply or a detail)."""
        self.strategies[strategy.id] = strategy
        self._dirty.add(Region.STRATEGIES)

    def update_order(self, order: Order) -> None:
        self.orders[order.ticket] = order
        if len(self.orders) > RECENT_CLOSED_ORDERS * 2:
            self._trim_orders()
        self._dirty.add(Region.ORDERS)

    def update_job(self, job: Job) -> None:
        """A job's newest state (from an event or a command's reply). The pane
        shows running and finished jobs; one waiting to run (again) leaves it."""
        known = self.jobs.get(job.id)
        if (
            known is not None
            and not known.state.is_active
            and job.state is JobState.RUNNING
            and job.attempts == known.attempts
        ):
            # A command's reply that a newer event overtook (the job ended since).
            return
        if job.state in _WAITING_JOBS:
            self.jobs.pop(job.id, None)
        else:
            self.jobs[job.id] = job
            self._trim_jobs()
        self._dirty.add(Region.JOBS)

    def update_schedule(self, schedule: Schedule) -> None:
        self.schedules[schedule.name] = schedule
        self._dirty.add(Region.JOBS)

    def _tick(self, when: datetime) -> None:
        # Only a new second repaints the header's clock.
        if self.time is None or when.replace(microsecond=0) > self.time.replace(microsecond=0):
            self._dirty.add(Region.HEADER)
        if self.time is None or when > self.time:
            self.time = when

    def _trim_jobs(self) -> None:
        for job in self.finished_jobs[RECENT_FINISHED_JOBS:]:
            del self.jobs[job.id]

    def _trim_orders(self) -> None:
        closed = sorted(t for t, o in self.orders.items() if not o.status.is_open)
        for ticket in closed[: len(closed) - RECENT_CLOSED_ORDERS]:
            del self.orders[ticket]


def _ended(job: Job) -> datetime:
    """When a job last stopped running: a failed attempt has no `finished_at`."""
    return job.finished_at or job.started_at or job.created_at
