"""The risk screen: the kill switch's state, every limit's value now against its
warning and threshold (as bars), and the risk alerts. Opened with `L`."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Label, Static

from engine.models import KillSwitchState, RiskEvaluation
from tui import formatting as fmt
from tui.host import Panel
from tui.screens.base import PanelScreen
from tui.state import PanelState, Region
from tui.widgets.alerts import AlertsTable, alert_rows
from tui.widgets.header import StatusHeader
from tui.widgets.keyed_table import Row
from tui.widgets.risk_limits import LimitsTable, limit_rows

# The alerts the risk screen lists: limits' and the kill switch's.
RISK_ALERT_KINDS = frozenset({"risk_limit", "kill_switch"})
# Seconds between two evaluations while the screen is open (limits move with equity).
REFRESH_SECONDS = 1.0


class RiskScreen(PanelScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="risk.back", tooltip="Back to the panes"),
        Binding(
            "ctrl+r",
            "refresh",
            "Refresh",
            id="risk.refresh",
            tooltip="Evaluate every risk limit again now",
        ),
    ]

    def __init__(self, panel: Panel) -> None:
        super().__init__(panel)
        self.evaluation: RiskEvaluation | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Vertical(id="risk"):
            yield Static(id="risk-kill-switch")
            yield Label("Limits", classes="detail-heading", id="risk-limits-label")
            yield LimitsTable(id="risk-limits")
            yield Label("Risk alerts", classes="detail-heading")
            yield AlertsTable(id="risk-alerts")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(LimitsTable).focus()
        if self.panel.clock_tick:
            self.set_interval(REFRESH_SECONDS, self.action_refresh, name="risk-refresh")
        self._ready = True
        self.paint(self.panel.state, {Region.HEADER, Region.ALERTS})
        self.action_refresh()

    def paint(self, state: PanelState, dirty: set[Region]) -> None:
        if not self._ready:
            return
        if Region.HEADER in dirty:
            self.show_header(state)
        if Region.ALERTS in dirty:
            self.query_one(AlertsTable).sync(risk_alert_rows(state))
        if Region.RISK in dirty:
            self.action_refresh()
        self.refresh_keys()

    def action_refresh(self) -> None:
        self.load()

    @work(exclusive=True, group="risk-evaluation")
    async def load(self) -> None:
        evaluation = await self.panel.attempt(
            "Could not evaluate the risk limits", self.panel.client.risk_evaluation()
        )
        if evaluation is not None:
            self.show(evaluation)

    def show(self, evaluation: RiskEvaluation) -> None:
        self.evaluation = evaluation
        self.query_one("#risk-kill-switch", Static).update(
            render_kill_switch(evaluation.kill_switch)
        )
        self.query_one(LimitsTable).sync(limit_rows(evaluation.metrics))
        label = (
            f"Limits: {len(evaluation.metrics)} enabled, {len(evaluation.violations)} breached, "
            f"{len(evaluation.warnings)} at warning ({fmt.hms(evaluation.time)})"
        )
        self.query_one("#risk-limits-label", Label).update(label)


def risk_alert_rows(state: PanelState) -> list[Row]:
    """The alerts pane's rows, only limits' and the kill switch's."""
    return [row for row in alert_rows(state) if state.alerts[int(row[0])].kind in RISK_ALERT_KINDS]


def render_kill_switch(state: KillSwitchState) -> Text:
    if not state.engaged:
        text = Text("Kill switch: off", style="bold green")
        if state.cleared_at is not None:
            by = f" by {state.cleared_by}" if state.cleared_by else ""
            text.append(f"  (last cleared {fmt.stamp(state.cleared_at)}{by})", style="dim")
        return text
    text = Text(" KILL SWITCH ENGAGED ", style="bold white on red")
    by = f" by {state.engaged_by}" if state.engaged_by else ""
    text.append(f"  since {fmt.stamp(state.engaged_at)}{by}", style="bold red")
    if state.reason:
        text.append(f": {state.reason}", style="red")
    text.append(
        f"\nNew orders refused everywhere; {state.paused_strategies} strategies paused, "
        f"{state.cancelled_orders} pending orders cancelled, "
        f"{state.closed_positions} positions closed. An admin clears it (ctrl+k)."
    )
    return text
