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
            self.system = event.status
            self._dirty.add(Region.HEADER)
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

    def _tick(self, when: datetime) -> None:
        # Only a new second repaints the header's clock.
        if self.time is None or when.replace(microsecond=0) > self.time.replace(microsecond=0):
            self._dirty.add(Region.HEADER)
        if self.time is None or when > self.time:
            self.time = when

    def _trim_orders(self) -> None:
        closed = sorted(t for t, o in self.orders.items() if not o.status.is_open)
        for ticket in closed[: len(closed) - RECENT_CLOSED_ORDERS]:
            del self.orders[ticket]
