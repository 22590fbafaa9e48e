"""One worker up close: its state, strategies, validation, recent orders and
fills, positions and an equity sparkline. Opened with `enter` on a worker."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Label, Static

from config.issues import ValidationReport
from engine.models import (
    EquityPoint,
    PerformanceMetrics,
    StrategyState,
    WorkerDetail,
    WorkerInfo,
)
from tui import formatting as fmt
from tui.host import Panel
from tui.messages import StrategyCommand, WorkerAction, WorkerCommand
from tui.screens.base import PanelScreen
from tui.state import PanelState, Region
from tui.widgets.equity_chart import CHART_RESOLUTIONS, DEFAULT_RANGE, RANGES, EquityChart
from tui.widgets.header import StatusHeader
from tui.widgets.performance import RANGE_RESOLUTIONS, render_performance
from tui.widgets.strategies import StrategiesTable, strategy_rows
from tui.widgets.workers import confirm_flatten

_RECENT = 10
# The equity chart's range keys: key, range name, what it charts.
_RANGE_KEYS = (
    ("h", "1h", "the last hour"),
    ("d", "1d", "the last day"),
    ("w", "1w", "the last week"),
    ("a", "all", "every sample"),
)
# Seconds between refreshes of the equity chart and the performance metrics.
_REFRESH_SECONDS = 15.0

_COLUMNS = {
    "#detail-positions": ("Ticket", "Symbol", "Side", "Lots", "Open", "Price", "P&L"),
    "#detail-orders": ("Ticket", "Symbol", "Side", "Type", "Lots", "Price", "Status"),
    "#detail-fills": ("Ticket", "Order", "Symbol", "Side", "Entry", "Lots", "Price"),
}


class WorkerDetailScreen(PanelScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back", tooltip="Back to the panes"),
        Binding("s", "command('start')", "Start", id="workers.start", tooltip="Start this worker"),
        Binding("x", "command('stop')", "Stop", id="workers.stop", tooltip="Stop this worker"),
        Binding(
            "r",
            "command('restart')",
            "Restart",
            id="workers.restart",
            tooltip="Stop this worker and start it again with a new worker id",
        ),
        Binding(
            "f",
            "flatten",
            "Flatten",
            id="orders.flatten",
            tooltip="Close every open position of this account at market (asks first)",
        ),
        *(
            Binding(
                key,
                f"equity_range('{name}')",
                f"Equity {name}",
                show=False,
                id=f"detail.equity_{name}",
                tooltip=f"Chart {span} of this account's equity",
            )
            for key, name, span in _RANGE_KEYS
        ),
        Binding(
            "p",
            "toggle_strategy",
            "Pause/resume",
            id="strategies.pause",
            tooltip="Pause the strategy under the cursor (it keeps its positions but opens "
            "nothing), or resume it",
        ),
    ]

    def __init__(self, panel: Panel, account_id: str) -> None:
        super().__init__(panel)
        self.account_id = account_id
        self.detail: WorkerDetail | None = None
        self.equity_range = DEFAULT_RANGE
        self.equity_points: list[EquityPoint] = []
        self.performance: PerformanceMetrics | None = None
        self._seen: tuple[object, ...] | None = None
        # Until its widgets exist the screen skips paints; it paints itself once ready.

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with VerticalScroll(id="detail"):
            yield Static(id="detail-summary")
            yield Static(id="detail-validation")
            yield Label("Strategies", classes="detail-heading")
            yield StrategiesTable(id="detail-strategies")
            yield Label(
                "Equity  (keys: h 1h, d 1d, w 1w, a all)",
                classes="detail-heading",
                id="detail-equity-label",
            )
            yield EquityChart(id="detail-equity-chart")
            yield Label("Performance", classes="detail-heading", id="detail-performance-label")
            yield Static(id="detail-performance")
            yield Label("Positions", classes="detail-heading")
            yield DataTable(id="detail-positions", cursor_type="none")
            yield Label("Recent orders", classes="detail-heading")
            yield DataTable(id="detail-orders", cursor_type="none")
            yield Label("Recent fills", classes="detail-heading")
            yield DataTable(id="detail-fills", cursor_type="none")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for selector, labels in _COLUMNS.items():
            table = self.query_one(selector, DataTable)
            for label in labels:
                table.add_column(label, key=label)
        self.query_one("#detail").focus()
        self._ready = True
        self.paint(self.panel.state, {Region.HEADER, Region.WORKERS})
        self.load_equity()
        # Equity is sampled every minute: the chart and the metrics follow it.
        self.set_interval(_REFRESH_SECONDS, self.load_equity, name="detail-equity")

    def paint(self, state: PanelState, dirty: set[Region]) -> None:
        if not self._ready:
            return
        if Region.HEADER in dirty:
            self.show_header(state)
        if Region.STRATEGIES in dirty and self.detail is not None:
            self._show_strategies()
        worker = state.workers.get(self.account_id)
        if Region.WORKERS in dirty and worker is not None:
            # Reload the detail when the worker itself changed (state, new run, error).
            seen = (worker.status, worker.worker_id, worker.error, worker.restarts)
            if seen != self._seen:
                self._seen = seen
                self.load()

    @work(exclusive=True, group="worker-detail")
    async def load(self) -> None:
        detail = await self.panel.attempt(
            f"Could not load {self.account_id}", self.panel.client.worker_detail(self.account_id)
        )
        if detail is not None:
            self.show(detail)

    def show(self, detail: WorkerDetail) -> None:
        self.detail = detail
        digits = self.panel.state.digits
        self.query_one("#detail-summary", Static).update(render_summary(detail))
        self.query_one("#detail-validation", Static).update(render_validation(detail.validation))
        for strategy in detail.strategies:
            self.panel.state.update_strategy(strategy)
        self._show_strategies()
        self._fill(
            "#detail-positions",
            [
                (
                    str(p.ticket),
                    p.symbol,
                    fmt.side(p.side),
                    fmt.right(fmt.volume(p.volume)),
                    fmt.right(fmt.price(p.open_price, digits.get(p.symbol))),
                    fmt.right(fmt.price(p.current_price, digits.get(p.symbol))),
                    fmt.pnl(p.profit),
                )
                for p in detail.positions
            ],
        )
        self._fill(
            "#detail-orders",
            [
                (
                    str(o.ticket),
                    o.symbol,
                    fmt.side(o.side),
                    o.type.value,
                    fmt.right(fmt.volume(o.volume)),
                    fmt.right(
                        fmt.price(
                            o.fill_price if o.fill_price is not None else o.price,
                            digits.get(o.symbol),
                        )
                    ),
                    fmt.order_status(o.status),
                )
                for o in detail.orders[:_RECENT]
            ],
        )
        self._fill(
            "#detail-fills",
            [
                (
                    str(f.ticket),
                    str(f.order_ticket),
                    f.symbol,
                    fmt.side(f.side),
                    f.entry.value,
                    fmt.right(fmt.volume(f.volume)),
                    fmt.right(fmt.price(f.price, digits.get(f.symbol))),
                )
                for f in detail.fills[:_RECENT]
            ],
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command":
            return f"workers.{parameters[0]}" in self.panel.client.permissions or None
        if action == "flatten":
            return "orders.flatten" in self.panel.client.permissions or None
        if action == "toggle_strategy":
            permitted = "strategies.pause" in self.panel.client.permissions
            return (permitted and self._strategies.cursor_key is not None) or None
        return True

    def action_command(self, action: WorkerAction) -> None:
        self.post_message(WorkerCommand(action, self.account_id))

    def action_equity_range(self, name: str) -> None:
        self.equity_range = name
        self.load_equity()

    @work(exclusive=True, group="worker-equity")
    async def load_equity(self) -> None:
        """Chart the range's equity and measure its performance, both from the
        engine (local or remote) at the range's resolutions."""
        name = self.equity_range
        since = self._since(name)
        client = self.panel.client
        points = await self.panel.attempt(
            f"Could not load {self.account_id}'s equity",
            client.equity_history(self.account_id, since, CHART_RESOLUTIONS[name]),
        )
        if points is None or name != self.equity_range:
            return
        self._show_equity(points)
        resolution = RANGE_RESOLUTIONS[name]
        metrics = await self.panel.attempt(
            f"Could not measure {self.account_id}'s performance",
            client.performance(self.account_id, since, resolution),
        )
        if metrics is not None and name == self.equity_range:
            self.performance = metrics
            self.query_one("#detail-performance", Static).update(render_performance(metrics))
            label = (
                "Performance over everything"
                if RANGES[name] is None
                else f"Performance over the last {name}"
            )
            self.query_one("#detail-performance-label", Label).update(
                f"{label}  ({resolution} returns)"
            )

    def _show_equity(self, points: list[EquityPoint]) -> None:
        self.equity_points = points
        self.query_one(EquityChart).show(points, self.equity_range)

    def _since(self, name: str) -> datetime | None:
        span = RANGES[name]
        now = self.panel.state.time
        return None if span is None or now is None else now - span

    def action_flatten(self) -> None:
        confirm_flatten(self, self.panel.state, self.account_id)

    def ticket_defaults(self) -> tuple[str | None, str | None]:
        """The order ticket opened here trades this account."""
        return self.account_id, None

    def action_toggle_strategy(self) -> None:
        strategy_id = self._strategies.cursor_key
        strategy = self.panel.state.strategies.get(strategy_id) if strategy_id else None
        if strategy is not None:
            pause = strategy.state is not StrategyState.PAUSED
            self.post_message(StrategyCommand(strategy.id, pause=pause))

    @property
    def _strategies(self) -> StrategiesTable:
        return self.query_one(StrategiesTable)

    def _show_strategies(self) -> None:
        """The detail's strategies, as the panel last heard of each."""
        assert self.detail is not None
        tables = self.query(StrategiesTable)
        if not tables:
            return  # a paint that raced the screen's removal: nothing left to show
        table = tables.first()
        known = self.panel.state.strategies
        shown = [known.get(s.id, s) for s in self.detail.strategies]
        table.sync(strategy_rows(shown))
        table.display = bool(shown)
        self.refresh_keys()

    def _fill(self, selector: str, rows: list[tuple[str | Text, ...]]) -> None:
        table = self.query_one(selector, DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row)
        table.display = bool(rows)


def render_summary(detail: WorkerDetail) -> Table:
    worker: WorkerInfo = detail.worker
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_column(style="bold")
    grid.add_column()
    account = detail.account
    grid.add_row("Account", worker.account_id, "State", fmt.worker_state(worker.status))
    grid.add_row("Worker id", worker.worker_id or fmt.DASH, "Started", fmt.stamp(worker.started_at))
    grid.add_row("Broker", worker.broker.value, "Restarts", str(worker.restarts))
    if account is not None:
        grid.add_row("Balance", fmt.money(account.balance), "Equity", fmt.money(account.equity))
        grid.add_row(
            "Today", fmt.pnl(account.pnl_today), "Free margin", fmt.money(account.free_margin)
        )
    if worker.error:
        grid.add_row("Error", Text(worker.error, style="bold red"), "", "")
    return grid


def render_validation(report: ValidationReport) -> Group | Text:
    if not report.issues:
        return Text("Validation: no errors, no warnings", style="green")
    lines = [
        Text(
            f"Validation: {len(report.errors)} errors, {len(report.warnings)} warnings",
            style="bold red" if report.errors else "yellow",
        )
    ]
    for issue in report.issues:
        style = "red" if issue in report.errors else "yellow"
        label = (f"  {issue.severity.value:<8}", style)
        lines.append(Text.assemble(label, f"{issue.path}: {issue.message}"))
    return Group(*lines)
