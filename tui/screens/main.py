"""The main screen: header, the panes (tabs when small, tiled when large),
the latest engine message and the footer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.geometry import Size
from textual.reactive import reactive
from textual.widgets import Footer, Tab, Tabs

from engine.models import WorkerState
from tui.messages import FleetAction, FleetCommand
from tui.screens.base import PanelScreen
from tui.screens.confirm import ConfirmScreen
from tui.state import PanelState, Region
from tui.widgets.alerts import AlertsTable, alert_rows
from tui.widgets.event_line import EventLine
from tui.widgets.header import StatusHeader
from tui.widgets.jobs import JobsPane, JobsTable, job_rows
from tui.widgets.keyed_table import KeyedTable, Row
from tui.widgets.orders import OrdersTable, order_rows
from tui.widgets.pane import Pane
from tui.widgets.positions import PositionsTable, position_rows
from tui.widgets.workers import WorkersTable, worker_rows

# From this terminal size up the panes tile in a grid; below it they are tabs.
TILE_WIDTH = 160
TILE_HEIGHT = 48


@dataclass(frozen=True)
class PaneSpec:
    id: str
    title: str
    table: type[KeyedTable]
    rows: Callable[[PanelState], list[Row]]
    region: Region
    pane: type[Pane] = Pane


# In order: tab order, digit keys and grid cells all follow this tuple.
PANES: tuple[PaneSpec, ...] = (
    PaneSpec("workers", "Workers", WorkersTable, worker_rows, Region.WORKERS),
    PaneSpec("positions", "Positions", PositionsTable, position_rows, Region.POSITIONS),
    PaneSpec("orders", "Orders", OrdersTable, order_rows, Region.ORDERS),
    PaneSpec("alerts", "Alerts", AlertsTable, alert_rows, Region.ALERTS),
    PaneSpec("jobs", "Jobs", JobsTable, job_rows, Region.JOBS, JobsPane),
)


def _pane_bindings() -> list[Binding]:
    return [
        Binding(
            str(number),
            f"show_pane('{spec.id}')",
            spec.title,
            show=False,
            id=f"pane.{spec.id}",
            tooltip=f"Jump to the {spec.title.lower()} pane",
        )
        for number, spec in enumerate(PANES, 1)
    ]


class MainScreen(PanelScreen):
    BINDINGS = [
        Binding(
            "tab",
            "cycle_pane(1)",
            "Next pane",
            show=False,
            id="pane.next",
            tooltip="Move to the next pane",
        ),
        Binding(
            "shift+tab",
            "cycle_pane(-1)",
            "Previous pane",
            show=False,
            id="pane.previous",
            tooltip="Move to the previous pane",
        ),
        *_pane_bindings(),
        Binding(
            "S",
            "fleet('start_all')",
            "Start all",
            id="workers.start_all",
            tooltip="Start every stopped worker (asks first)",
        ),
        Binding(
            "X",
            "fleet('stop_all')",
            "Stop all",
            id="workers.stop_all",
            tooltip="Stop every running worker (asks first)",
        ),
    ]

    active_pane: reactive[str] = reactive(PANES[0].id, init=False)

    # Until its widgets exist the screen skips paints; it paints everything once ready.

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield Tabs(
            *(Tab(f"{n} {spec.title}", id=f"tab-{spec.id}") for n, spec in enumerate(PANES, 1)),
            id="pane-tabs",
        )
        with Container(id="panes"):
            for spec in PANES:
                yield spec.pane(spec.table(id=f"{spec.id}-table"), title=spec.title, id=spec.id)
        yield EventLine(id="event-line")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        # Focus belongs to the panes; the tab bar follows them.
        self.query_one(Tabs).can_focus = False
        self._lay_out(self.size)
        self.watch_active_pane(self.active_pane)
        self.pane(self.active_pane).focus_table()
        self._ready = True
        self.paint(self.panel.state, set(Region))

    @property
    def tiled(self) -> bool:
        return self.has_class("-tiled")

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    def paint(self, state: PanelState, dirty: set[Region]) -> None:
        """Repaint the regions that changed since the last paint."""
        # A paint can race the app's shutdown, which removes the widgets first.
        if not self.live:
            return
        if Region.HEADER in dirty:
            self.show_header(state)
        if Region.LOG in dirty:
            self.query_one(EventLine).show(state.last_log)
        for spec in PANES:
            if spec.region in dirty:
                self.pane(spec.id).show_rows(spec.rows(state))
        # Footer keys depend on the rows under the cursor (empty panes have none).
        self.refresh_keys()

    # --- layout ----------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out(event.size)

    def _lay_out(self, size: Size) -> None:
        self.set_class(size.width >= TILE_WIDTH and size.height >= TILE_HEIGHT, "-tiled")

    def watch_active_pane(self, pane_id: str) -> None:
        for pane in self.query(Pane):
            pane.set_class(pane.id == pane_id, "-active")
        self.query_one(Tabs).active = f"tab-{pane_id}"

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        pane = next((n for n in event.widget.ancestors_with_self if isinstance(n, Pane)), None)
        if pane is not None and pane.id is not None:
            self.active_pane = pane.id

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab_clicked(self, event: Tabs.TabActivated) -> None:
        if event.tab.id is not None:
            self.action_show_pane(event.tab.id.removeprefix("tab-"))

    # --- actions ---------------------------------------------------------------

    def action_show_pane(self, pane_id: str) -> None:
        self.active_pane = pane_id
        pane = self.pane(pane_id)
        if not pane.has_focus_within:
            pane.focus_table()

    def action_cycle_pane(self, step: int) -> None:
        ids = [spec.id for spec in PANES]
        self.action_show_pane(ids[(ids.index(self.active_pane) + step) % len(ids)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fleet":
            return f"workers.{parameters[0]}" in self.panel.client.permissions or None
        return True

    def action_fleet(self, action: FleetAction) -> None:
        state = self.panel.state
        if action == "start_all":
            count = sum(1 for w in state.workers.values() if w.status is WorkerState.STOPPED)
            question = f"Start all {count} stopped workers?"
        else:
            count = state.workers_active
            question = f"Stop all {count} running workers? Their strategies stop trading."

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(FleetCommand(action))

        label = "Start all" if action == "start_all" else "Stop all"
        self.app.push_screen(ConfirmScreen(question, confirm_label=label), answered)

    def ticket_defaults(self) -> tuple[str | None, str | None]:
        """The order ticket starts on the account (and symbol) under the active
        pane's cursor."""
        table = self.pane(self.active_pane).table
        key = table.cursor_key
        if key is None:
            return None, None
        state = self.panel.state
        if self.active_pane == "workers":
            return key, None
        if self.active_pane == "positions" and (position := state.positions.get(int(key))):
            return position.account_id, position.symbol
        if self.active_pane == "orders" and (order := state.orders.get(int(key))):
            return order.account_id, order.symbol
        return None, None
