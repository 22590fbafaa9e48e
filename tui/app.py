"""The tradedeck panel: a Textual app over an `EngineClient`.

One background task feeds the engine's events into a `PanelState`; a timer
paints whatever changed under `batch_update`. Commands go to the client and
their outcome, good or bad, comes back as a notification in plain words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from functools import partial
from typing import ClassVar, TypeVar

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from engine.client import ACTION_ROLES, EngineClient
from engine.errors import EngineError
from engine.models import ResyncEvent
from tui.messages import AcknowledgeAlert, FleetCommand, OpenWorker, WorkerCommand
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, HelpSection
from tui.screens.main import MainScreen
from tui.screens.worker_detail import WorkerDetailScreen
from tui.state import PanelState, Region
from tui.widgets.alerts import AlertsTable
from tui.widgets.header import Link
from tui.widgets.pane import Pane
from tui.widgets.workers import WorkersTable

T = TypeVar("T")

# How often the screen catches up with the engine: often enough to feel live,
# rarely enough that a burst of events costs one paint.
PAINT_INTERVAL = 0.1

_DONE = {"start": "Started", "stop": "Stopped", "restart": "Restarted"}

# Textual's own palette entries that the panel replaces (quit must ask first).
_REPLACED_COMMANDS = frozenset({"Quit"})


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
    ]

    def __init__(
        self,
        client: EngineClient,
        *,
        clock_tick: bool = True,
        paint_interval: float = PAINT_INTERVAL,
        title: str = "tradedeck",
    ) -> None:
        """`clock_tick` paints on a timer, as the live panel does; without it the
        panel paints after each snapshot and command and when `paint()` is called,
        which tests use to decide exactly when the screen catches up."""
        super().__init__()
        self.client = client
        self.state = PanelState()
        self.title = title
        self.clock_tick = clock_tick
        self.paint_interval = paint_interval
        self._feed_ended = False
        # The link state the header last showed; a change repaints it.
        self._link_shown: Link | None = None

    def on_mount(self) -> None:
        if self.is_headless:
            # Under test: no animation, so every screenshot is the same.
            self.animation_level = "none"
        self.push_screen(MainScreen())
        self.run_worker(self._feed(), name="engine-feed", group="feed")
        if self.clock_tick:
            self.set_interval(self.paint_interval, self.paint, name="paint")

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
            self.state.load(snapshot)
            self.paint()

    @property
    def link(self) -> Link:
        """The link to the engine, for the header."""
        if self._feed_ended:
            return "disconnected"
        return "connected" if self.client.connected else "reconnecting"

    def paint(self) -> None:
        """Repaint what changed since the last paint, on every screen that shows it."""
        dirty = self.state.take_dirty()
        if self.link != self._link_shown:
            self._link_shown = self.link
            dirty.add(Region.HEADER)
        if not dirty:
            return
        with self.batch_update():
            for screen in self.screen_stack:
                if isinstance(screen, MainScreen | WorkerDetailScreen):
                    screen.paint(self.state, dirty)

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
        self.push_screen(WorkerDetailScreen(message.account_id))

    # --- keys ------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[HelpSection]:
        """Every key, grouped by where it applies, straight from the bindings."""
        return [
            ("everywhere", [*_bindings(self.BINDINGS), _PALETTE]),
            ("main screen", _bindings(MainScreen.BINDINGS)),
            ("any pane", _bindings(Pane.BINDINGS)),
            ("workers pane", _bindings(WorkersTable.BINDINGS)),
            ("alerts pane", _bindings(AlertsTable.BINDINGS)),
            ("worker detail", _bindings(WorkerDetailScreen.BINDINGS)),
        ]

    def on_key(self, event: events.Key) -> None:
        """A key that the client's role may not use is shown disabled; pressed
        anyway, it says which role it needs rather than doing nothing silently."""
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.enabled or active.binding.id is None:
            return
        needed = ACTION_ROLES.get(active.binding.id)
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


_PALETTE = Binding(
    "ctrl+p",
    "command_palette",
    "Commands",
    id="app.commands",
    tooltip="Search every command that applies here",
)


def _bindings(bindings: Iterable[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding)]


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count != 1 else ''}"
