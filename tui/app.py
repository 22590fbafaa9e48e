"""The tradedeck panel: a Textual app over an `EngineClient`.

One background task feeds the engine's events into a `PanelState`; a timer
paints whatever changed under `batch_update`. Input comes first: from a key
press until the frame that shows its effect, the timer's paint of live data
waits, so a busy market never delays what the trader's key did. Commands go to
the client and their outcome, good or bad, comes back as a notification in
plain words.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Iterable, Mapping
from functools import partial
from typing import ClassVar, TypeVar

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer

from engine.client import ACTION_ROLES, EngineClient
from engine.domain import BrokerKind, SystemMode
from engine.errors import EngineError, OrderRejected
from engine.models import Alert, OrderRequest, OrderStatus, ResyncEvent, Severity
from tui import formatting as fmt
from tui.formatting import describe_order
from tui.job_commands import run_job_command
from tui.keymap import help_sections
from tui.messages import (
    AcknowledgeAlert,
    CancelOrder,
    ClosePosition,
    FlattenAccount,
    FleetCommand,
    JobCommand,
    OpenJobs,
    OpenWorker,
    StrategyCommand,
    WorkerCommand,
)
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, HelpSection
from tui.screens.jobs import JobsScreen
from tui.screens.kill_switch import KillSwitchChoice, KillSwitchScreen
from tui.screens.main import MainScreen
from tui.screens.order_ticket import OrderTicketScreen
from tui.screens.risk import RiskScreen
from tui.screens.worker_detail import WorkerDetailScreen
from tui.state import PanelState, Region
from tui.widgets.header import Link

T = TypeVar("T")

# How often the screen catches up with the engine: often enough to feel live,
# rarely enough that a burst of events costs one paint.
PAINT_INTERVAL = 0.05

_DONE = {"start": "Started", "stop": "Stopped", "restart": "Restarted"}

# Textual's own palette entries that the panel replaces (quit must ask first).
_REPLACED_COMMANDS = frozenset({"Quit"})

# The screens that show live state, repainted by `paint`.
_PAINTED = (MainScreen, WorkerDetailScreen, RiskScreen, JobsScreen)

# After job events, the queue's counts are read again at most this often.
JOB_STATS_DELAY = 0.5

# The longest a key press holds live data back. A key reaches the app once its
# bindings have run, and the hold ends with the frame after that; a key that a
# widget keeps to itself (typing into a filter) never reaches the app, so this
# ends its hold instead.
INPUT_HOLD = 0.05


class TradeDeckApp(App[None]):
    CSS_PATH = "styles/app.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "question_mark",
            "help",
            "Help",
            id="app.help",
            tooltip="List every key and what it does",
        ),
        Binding(
            "q",
            "quit_panel",
            "Quit",
            id="app.quit",
            tooltip="Leave the panel (asks first while workers are running)",
        ),
        Binding(
            "o",
            "new_order",
            "New order",
            id="orders.place",
            tooltip="Open the order ticket: live bid/ask, margin required and the risk "
            "check's verdict before sending",
        ),
        Binding(
            "K",
            "kill_switch",
            "Kill switch",
            id="kill_switch.engage",
            tooltip="Halt all trading: refuse new orders, pause strategies, cancel pending "
            "orders, optionally close every position (asks first)",
        ),
        Binding(
            "ctrl+k",
            "clear_kill_switch",
            "Clear kill switch",
            show=False,
            id="kill_switch.clear",
            tooltip="Admin: let trading resume in the mode it had before the halt (asks first)",
        ),
        Binding(
            "M",
            "switch_mode",
            "Paper/live",
            show=False,
            id="system.mode",
            tooltip="Admin: switch between paper and live trading; live lets MetaTrader 5 "
            "accounts trade real money (asks first)",
        ),
        Binding(
            "L",
            "risk",
            "Risk",
            id="risk.open",
            tooltip="The risk screen: limits against warning and threshold, risk alerts, "
            "the kill switch",
        ),
        Binding(
            "J",
            "jobs",
            "Jobs",
            id="jobs.screen",
            tooltip="The jobs screen: pending, running, done, scheduled and dead jobs, each "
            "job's detail, schedules, optimisation results",
        ),
    ]

    def __init__(
        self,
        client: EngineClient,
        *,
        clock_tick: bool = True,
        paint_interval: float = PAINT_INTERVAL,
        title: str = "tradedeck",
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        """`clock_tick` paints on a timer, as the live panel does; without it the
        panel paints after each snapshot and command and when `paint()` is called,
        which tests use to decide exactly when the screen catches up.

        `keymap` remaps bindings by id (`[keys]`; `tui.keymap.check_keymap` has
        vetted it)."""
        super().__init__()
        self.keymap = dict(keymap or {})
        self.client = client
        self.state = PanelState()
        self.title = title
        self.clock_tick = clock_tick
        self.paint_interval = paint_interval
        self._feed_ended = False
        # The link state the header last showed; a change repaints it.
        self._link_shown: Link | None = None
        self._job_stats_timer: Timer | None = None
        # Keys pressed whose effect is not painted yet, and whether the timer
        # wanted to paint live data meanwhile (it does once they are).
        self._keys_in_flight = 0
        self._paint_held = False
        self._input_timer: Timer | None = None
        self._clashes_told: set[str] = set()

    def on_mount(self) -> None:
        if self.is_headless:
            # Under test: no animation, so every screenshot is the same.
            self.animation_level = "none"
        if self.keymap:
            self.set_keymap(self.keymap)
        self.push_screen(MainScreen(self))
        self.run_worker(self._feed(), name="engine-feed", group="feed")
        if self.clock_tick:
            self.set_interval(self.paint_interval, self.paint_live, name="paint")

    # --- live state ------------------------------------------------------------

    async def _feed(self) -> None:
        """Apply every engine event to the state; a resync takes a new snapshot.
        Subscribing before the snapshot means no event falls in between."""
        stream = self.client.subscribe()
        try:
            await self.reload()
            async for event in stream:
                if isinstance(event, ResyncEvent):
                    await self.reload()
                else:
                    self.state.apply(event)
        except EngineError as error:
            self.notify(f"Lost the engine's events: {error.message}", severity="error")
        else:
            self.notify("The engine's event stream ended.", severity="warning")
        finally:
            self._feed_ended = True
            await stream.close()

    async def reload(self) -> None:
        """Replace the panel's state with a fresh snapshot of the engine."""
        snapshot = await self.attempt("Could not read the engine", self.client.snapshot())
        if snapshot is not None:
            first = not self.state.loaded
            self.state.load(snapshot)
            overview = await self.attempt("Could not read the jobs", self.client.jobs_overview())
            if overview is not None:
                self.state.load_jobs(overview)
            self.paint()
            if first:
                self.call_after_refresh(_settle_memory)

    @property
    def link(self) -> Link:
        """The link to the engine, for the header."""
        if self._feed_ended:
            return "disconnected"
        return "connected" if self.client.connected else "reconnecting"

    # --- input first -----------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._hold_for_input()
        await super().on_event(event)

    def _hold_for_input(self) -> None:
        """A key arrived: live data waits until the frame that shows its effect."""
        self._keys_in_flight += 1
        if self._input_timer is not None:
            self._input_timer.stop()
        self._input_timer = self.set_timer(INPUT_HOLD, self._input_hold_over, name="input-hold")

    def _key_handled(self) -> None:
        """A key's bindings have run: its effect goes out in the next frame, and
        the live data after it."""
        self.call_after_refresh(self._key_shown)

    def _key_shown(self) -> None:
        self._keys_in_flight = max(0, self._keys_in_flight - 1)
        if not self._keys_in_flight:
            self._input_hold_over()

    def _input_hold_over(self) -> None:
        self._keys_in_flight = 0
        if self._input_timer is not None:
            self._input_timer.stop()
            self._input_timer = None
        if self._paint_held:
            self._paint_held = False
            self.paint()

    @property
    def input_pending(self) -> bool:
        """Whether a key's effect is still to be painted (live data waits for it)."""
        return self._keys_in_flight > 0

    def paint_live(self) -> None:
        """The timer's paint of live data: now, or once the keys pressed are shown."""
        if self._keys_in_flight:
            self._paint_held = True
        else:
            self.paint()

    def paint(self) -> None:
        """Repaint what changed since the last paint, on every screen that shows it."""
        for alert in self.state.take_notices():
            self._announce(alert)
        if self.state.jobs_stale and self._job_stats_timer is None:
            self._job_stats_timer = self.set_timer(JOB_STATS_DELAY, self._read_job_stats)
        dirty = self.state.take_dirty()
        if self.link != self._link_shown:
            self._link_shown = self.link
            dirty.add(Region.HEADER)
        if not dirty:
            return
        with self.batch_update():
            for screen in self.screen_stack:
                if isinstance(screen, _PAINTED):
                    screen.paint(self.state, dirty)

    def _read_job_stats(self) -> None:
        """Job events say which jobs changed, not how many wait: read the counts."""
        self._job_stats_timer = None
        self.state.jobs_stale = False
        self.run_worker(self._job_stats(), group="job-stats", exclusive=True)

    async def _job_stats(self) -> None:
        overview = await self.attempt("Could not read the jobs", self.client.jobs_overview())
        if overview is not None:
            self.state.update_job_stats(overview.stats)
            self.paint()

    def _announce(self, alert: Alert) -> None:
        """A high or critical alert pops up as well as joining the alerts pane."""
        where = f"{alert.account_id}: " if alert.account_id else ""
        self.notify(
            f"{where}{alert.message}",
            title=f"{alert.severity.value.capitalize()} alert",
            severity="error" if alert.severity is Severity.CRITICAL else "warning",
            timeout=10 if alert.severity is Severity.CRITICAL else 6,
        )

    # --- commands --------------------------------------------------------------

    async def attempt(self, failure: str, call: Awaitable[T]) -> T | None:
        """Await a client call; if the engine refuses, say why and return None.
        The one place engine errors become words on the screen."""
        try:
            return await call
        except EngineError as error:
            self.notify(f"{failure}: {error.message}", title="Failed", severity="error")
            return None

    @on(WorkerCommand)
    def _worker_command(self, message: WorkerCommand) -> None:
        self.run_worker(self._run_worker_command(message), group="commands")

    async def _run_worker_command(self, message: WorkerCommand) -> None:
        calls = {
            "start": self.client.start_worker,
            "stop": self.client.stop_worker,
            "restart": self.client.restart_worker,
        }
        account_id = message.account_id
        info = await self.attempt(
            f"Could not {message.action} {account_id}", calls[message.action](account_id)
        )
        if info is not None:
            self.state.update_worker(info)
            self.paint()
            self.notify(f"{_DONE[message.action]} {account_id}: {info.status.value}.")

    @on(FleetCommand)
    def _fleet_command(self, message: FleetCommand) -> None:
        self.run_worker(self._run_fleet_command(message), group="commands")

    async def _run_fleet_command(self, message: FleetCommand) -> None:
        if message.action == "start_all":
            infos = await self.attempt("Could not start all workers", self.client.start_all())
            if infos is not None:
                for info in infos:
                    self.state.update_worker(info)
                self.paint()
                self.notify(f"Started {_workers(len(infos))}.")
        else:
            stopped = await self.attempt("Could not stop all workers", self.client.stop_all())
            if stopped is not None:
                self.notify(f"Stopped {_workers(stopped)}.")

    @on(AcknowledgeAlert)
    def _acknowledge(self, message: AcknowledgeAlert) -> None:
        self.run_worker(self._run_acknowledge(message.alert_id), group="commands")

    async def _run_acknowledge(self, alert_id: int) -> None:
        alert = await self.attempt(
            f"Could not acknowledge alert {alert_id}", self.client.acknowledge_alert(alert_id)
        )
        if alert is not None:
            self.state.update_alert(alert)
            self.paint()
            self.notify(f"Acknowledged alert {alert_id}: {alert.message}")

    @on(OpenWorker)
    def _open_worker(self, message: OpenWorker) -> None:
        self.push_screen(WorkerDetailScreen(self, message.account_id))

    # --- trading commands ------------------------------------------------------

    @on(StrategyCommand)
    def _strategy_command(self, message: StrategyCommand) -> None:
        self.run_worker(self._run_strategy_command(message), group="commands")

    async def _run_strategy_command(self, message: StrategyCommand) -> None:
        verb = "pause" if message.pause else "resume"
        call = self.client.pause_strategy if message.pause else self.client.resume_strategy
        info = await self.attempt(
            f"Could not {verb} strategy {message.strategy_id}", call(message.strategy_id)
        )
        if info is not None:
            self.state.update_strategy(info)
            self.paint()
            self.notify(f"Strategy {info.id} on {info.account_id}: {info.state.value}.")

    def action_new_order(self) -> None:
        symbols = {w.account_id: w.symbols for w in self.state.workers.values()}
        if not symbols:
            self.notify("There is no account to trade.", severity="warning")
            return
        defaults = getattr(self.screen, "ticket_defaults", None)
        account_id, symbol = defaults() if defaults is not None else (None, None)

        def answered(request: OrderRequest | None) -> None:
            if request is not None:
                self.run_worker(self._place(request), group="commands")

        self.push_screen(
            OrderTicketScreen(self, symbols, account_id=account_id, symbol=symbol), answered
        )

    async def _place(self, request: OrderRequest) -> None:
        what = f"{request.account_id} {request.side} {fmt.volume(request.volume)} {request.symbol}"
        try:
            order = await self.client.place_order(request)
        except OrderRejected as rejected:
            self._rejected(what, rejected.message)
            return
        except EngineError as error:
            self.notify(f"Could not send {what}: {error.message}", title="Failed", severity="error")
            return
        self.state.update_order(order)
        self.paint()
        if order.status is OrderStatus.REJECTED:
            self._rejected(what, order.reason or "no reason given")
        else:
            self.notify(describe_order(order, self.state.digits.get(order.symbol)), title="Order")

    def _rejected(self, what: str, reason: str) -> None:
        self.notify(f"{what} rejected: {reason}", title="Order rejected", severity="error")

    @on(CancelOrder)
    def _cancel_order(self, message: CancelOrder) -> None:
        self.run_worker(self._run_cancel(message), group="commands")

    async def _run_cancel(self, message: CancelOrder) -> None:
        order = await self.attempt(
            f"Could not cancel order {message.ticket}",
            self.client.cancel_order(message.account_id, message.ticket),
        )
        if order is not None:
            self.state.update_order(order)
            self.paint()
            self.notify(f"Cancelled order {order.ticket} on {order.account_id}.")

    @on(ClosePosition)
    def _close_position(self, message: ClosePosition) -> None:
        self.run_worker(self._run_close(message), group="commands")

    async def _run_close(self, message: ClosePosition) -> None:
        order = await self.attempt(
            f"Could not close position {message.ticket}",
            self.client.close_position(message.account_id, message.ticket),
        )
        if order is not None:
            digits = self.state.digits.get(order.symbol)
            price = fmt.price(order.fill_price, digits)
            self.notify(f"Closed position {message.ticket} on {order.account_id} at {price}.")

    @on(FlattenAccount)
    def _flatten(self, message: FlattenAccount) -> None:
        self.run_worker(self._run_flatten(message.account_id), group="commands")

    async def _run_flatten(self, account_id: str) -> None:
        orders = await self.attempt(
            f"Could not flatten {account_id}", self.client.flatten(account_id)
        )
        if orders is None:
            return
        failed = [o for o in orders if o.status is OrderStatus.REJECTED]
        closed = len(orders) - len(failed)
        text = f"Flattened {account_id}: {closed} position{'s' if closed != 1 else ''} closed."
        if failed:
            reasons = "; ".join(sorted({o.reason or "no reason given" for o in failed}))
            self.notify(
                f"{text} {len(failed)} could not close: {reasons}",
                title="Flatten incomplete",
                severity="error",
            )
        else:
            self.notify(text)

    def action_kill_switch(self) -> None:
        state = self.state

        def answered(choice: KillSwitchChoice | None) -> None:
            if choice is not None:
                self.run_worker(self._engage_kill_switch(choice), group="commands")

        self.push_screen(
            KillSwitchScreen(
                pending_orders=len(state.open_orders),
                positions=len(state.positions),
                accounts=len(state.workers),
            ),
            answered,
        )

    async def _engage_kill_switch(self, choice: KillSwitchChoice) -> None:
        engaged = await self.attempt(
            "Could not engage the kill switch",
            self.client.engage_kill_switch(flatten=choice.flatten, reason=choice.reason),
        )
        if engaged is not None:
            self.notify(
                f"Kill switch engaged: trading is halted. {engaged.paused_strategies} strategies "
                f"paused, {engaged.cancelled_orders} pending orders cancelled, "
                f"{engaged.closed_positions} positions closed.",
                title="Trading halted",
                severity="error",
            )

    def action_clear_kill_switch(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._clear_kill_switch(), group="commands")

        question = (
            "Clear the kill switch? New orders are accepted again in the mode trading had "
            "before the halt; strategies stay paused until you resume them."
        )
        self.push_screen(ConfirmScreen(question, confirm_label="Clear"), answered)

    async def _clear_kill_switch(self) -> None:
        cleared = await self.attempt(
            "Could not clear the kill switch", self.client.clear_kill_switch()
        )
        if cleared is not None:
            self.notify("Kill switch cleared: trading may resume; strategies stay paused.")

    def action_switch_mode(self) -> None:
        system = self.state.system
        if system is None:
            return
        going_live = system.mode is not SystemMode.LIVE
        target = SystemMode.LIVE if going_live else SystemMode.PAPER
        mt5 = sum(1 for w in self.state.workers.values() if w.broker is BrokerKind.MT5)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._switch_mode(target), group="commands")

        if going_live:
            question = (
                f"Switch to LIVE mode? The {mt5} MetaTrader 5 account(s) start trading real "
                "money: their strategies' and your orders reach the broker."
            )
            label = "Go live"
        else:
            question = "Switch to paper mode? MetaTrader 5 accounts stop taking new orders."
            label = "Paper"
        self.push_screen(ConfirmScreen(question, confirm_label=label), answered)

    async def _switch_mode(self, mode: SystemMode) -> None:
        status = await self.attempt("Could not switch the mode", self.client.set_mode(mode))
        if status is not None:
            self.notify(f"Mode is now {status.mode.value}.")

    def action_risk(self) -> None:
        self.push_screen(RiskScreen(self))

    # --- jobs ------------------------------------------------------------------

    def action_jobs(self) -> None:
        self.push_screen(JobsScreen(self))

    @on(OpenJobs)
    def _open_jobs(self, message: OpenJobs) -> None:
        self.push_screen(JobsScreen(self, message.job_id))

    @on(JobCommand)
    def _job_command(self, message: JobCommand) -> None:
        self.run_worker(run_job_command(self, message), group="commands")

    # --- keys ------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[HelpSection]:
        """Every key, grouped by where it applies, straight from the bindings,
        with the user's keymap applied."""
        return help_sections(self.BINDINGS, self.keymap)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: DOMNode) -> None:
        """`tradedeck validate` and the start-up check refuse conflicting keymaps;
        should one get through anyway, say so once rather than guess."""
        ids = ", ".join(sorted(str(b.id) for b in clashed_bindings))
        if ids not in self._clashes_told:
            self._clashes_told.add(ids)
            self.notify(f"These bindings share a key: {ids}", title="Keymap", severity="warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys the client's role may not use are shown disabled (None)."""
        permission = _APP_PERMISSIONS.get(action)
        if permission is not None and permission not in self.client.permissions:
            return None
        if action == "clear_kill_switch":
            return self.halted or None
        if action == "switch_mode":
            # Out of a halt only by clearing the kill switch.
            return not self.halted or None
        if action == "risk":
            return not isinstance(self.screen, RiskScreen)
        if action == "jobs":
            return not isinstance(self.screen, JobsScreen)
        return True

    @property
    def halted(self) -> bool:
        """Whether the kill switch has halted trading."""
        system = self.state.system
        return system is not None and system.mode is SystemMode.HALTED

    def on_key(self, event: events.Key) -> None:
        """A key that the client's role may not use is shown disabled; pressed
        anyway, it says which role it needs rather than doing nothing silently."""
        self._key_handled()
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.enabled or active.binding.id is None:
            return
        needed = ACTION_ROLES.get(active.binding.id)
        if needed is not None and getattr(self.client, "read_only", False):
            self.notify(
                f"{active.binding.description}: this panel is read-only (--read-only).",
                title="Read-only",
                severity="warning",
            )
            return
        if needed is not None and active.binding.id not in self.client.permissions:
            self.notify(
                f"{active.binding.description} needs the {needed} role; "
                f"this connection may not use it.",
                title="Not allowed",
                severity="warning",
            )

    def action_quit_panel(self) -> None:
        active = self.state.workers_active
        if not active:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        question = f"{_workers(active).capitalize()} still running. Quit the panel?"
        self.push_screen(ConfirmScreen(question, confirm_label="Quit"), answered)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers every key that applies where it was opened."""
        for command in super().get_system_commands(screen):
            if command.title not in _REPLACED_COMMANDS:
                yield command
        for active in screen.active_bindings.values():
            binding = active.binding
            if active.enabled and binding.id is not None:
                yield SystemCommand(
                    binding.description,
                    binding.tooltip,
                    partial(self.run_action, binding.action, active.node),
                )


# App actions and the client permission each needs.
_APP_PERMISSIONS = {
    "switch_mode": "system.mode",
    "new_order": "orders.place",
    "kill_switch": "kill_switch.engage",
    "clear_kill_switch": "kill_switch.clear",
}


def _settle_memory() -> None:
    """Once the first screen is up, what exists (the engine, the widgets, the
    snapshot) lives as long as the panel: move it out of the collector's way.

    The collector's full passes walk every object in the process; under a busy
    market they came every second or so and each held the loop for up to 100 ms,
    which a key press waiting for its frame felt. Frozen, a full pass walks only
    what was made since (Python's own advice for long-lived processes)."""
    gc.collect()
    gc.freeze()


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count != 1 else ''}"
