"""The top two lines: engine state, mode, workers, equity, today's P&L, the
engine's clock, where the engine is and whether the link to it is up."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.domain import SystemMode
from engine.models import EngineState
from tui import formatting as fmt
from tui.state import PanelState

# The link to the engine: events flowing, being re-established, or given up
# (the server refused the client; the panel said why).
Link = Literal["connected", "reconnecting", "disconnected"]

_LINK_MARKS: dict[Link, tuple[str, str]] = {
    "connected": ("● ", "green"),
    "reconnecting": ("○ reconnecting ", "bold yellow"),
    "disconnected": ("○ disconnected ", "bold red"),
}

_STATE_STYLES = {
    EngineState.RUNNING: "bold green",
    EngineState.STARTING: "yellow",
    EngineState.STOPPING: "yellow",
    EngineState.STOPPED: "bold red",
}


_MODE_STYLES = {
    # Real money: colour and reverse video, so a monochrome terminal shows it too.
    SystemMode.LIVE: "bold reverse red",
    # The kill switch: loud until an admin clears it.
    SystemMode.HALTED: "bold white on red",
}


def _mode(mode: SystemMode) -> Text:
    if mode is SystemMode.HALTED:
        return Text(" HALTED ", style=_MODE_STYLES[mode])
    if mode is SystemMode.LIVE:
        return Text(" LIVE: REAL MONEY ", style=_MODE_STYLES[mode])
    return Text(mode.value, style=_MODE_STYLES.get(mode, ""))


def _marks(state: PanelState) -> Text:
    """The marked accounts (MT5, or labelled in the configuration), by mark:
    ` MT5 x2 ` in the mark's colour."""
    mode = state.system.mode if state.system else None
    counts: dict[str, tuple[int, Text]] = {}
    for worker in state.workers.values():
        label = fmt.money_label(worker, mode)
        if label is not None:
            count, _ = counts.get(label, (0, Text()))
            counts[label] = (count + 1, fmt.money_mark(worker, mode))
    marks = Text()
    for label, (count, mark) in sorted(counts.items()):
        marks.append("  ")
        marks.append(f" {label} x{count} ", style=mark.style)
    return marks


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader {
        height: 2;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def show(self, state: PanelState, where: str, link: Link = "connected") -> None:
        self.update(render_header(state, where, link))


def render_header(state: PanelState, where: str, link: Link = "connected") -> RenderableType:
    """Two lines: the engine and its workers, then money; time, place and the
    link's state on the right."""
    first = Text.assemble(("tradedeck", "bold"))
    system = state.system
    if system is not None:
        first.append(f"  {system.state.value}", style=_STATE_STYLES[system.state])
        first.append("  ")
        first.append_text(_mode(system.mode))
    first.append_text(_marks(state))
    first.append(f"  workers {state.workers_running}/{len(state.workers)} running")
    accounts = state.accounts.values()
    equity = sum((a.equity for a in accounts), Decimal(0))
    today = sum((a.pnl_today for a in accounts), Decimal(0))
    second = Text(f"equity {fmt.money(equity)}  today ")
    second.append_text(fmt.pnl(today))
    open_alerts = state.open_alerts
    second.append(f"  alerts {open_alerts}", style="bold red" if open_alerts else "dim")
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(first, fmt.clock(state.time))
    grid.add_row(second, Text.assemble(_LINK_MARKS[link], (where, "dim")))
    return grid
