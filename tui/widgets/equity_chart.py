"""A worker's equity over a chosen range: a sparkline under a line that says
the range, where equity went and its low and high."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from engine.models import EquityPoint, Resolution
from tui import formatting as fmt

# The ranges the chart offers, by name: how far back from the engine's clock.
RANGES: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "all": None,
}
DEFAULT_RANGE = "1d"
# The closes each range is charted at, so `EQUITY_POINTS` cover it (equity is
# sampled every minute by default): every sample for an hour, 5-minute closes
# for a day (288), hourly for a week (168), daily for everything.
CHART_RESOLUTIONS: dict[str, Resolution | None] = {"1h": None, "1d": "5m", "1w": "1h", "all": "1d"}


class EquityChart(Vertical):
    DEFAULT_CSS = """
    EquityChart {
        height: auto;
    }
    EquityChart > Sparkline {
        height: 4;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="equity-summary")
        yield Sparkline([], id="detail-equity")

    def show(self, points: list[EquityPoint], range_name: str) -> None:
        self.query_one(Sparkline).data = [float(p.equity) for p in points]
        self.query_one("#equity-summary", Static).update(summary(points, range_name))


def summary(points: list[EquityPoint], range_name: str) -> Text:
    """`last 1d: 10,000.00 -> 10,082.87 (+82.87)  low .. high ..  143 5m closes`."""
    span = "everything" if RANGES[range_name] is None else f"last {range_name}"
    resolution = CHART_RESOLUTIONS[range_name]
    unit = "samples" if resolution is None else f"{resolution} closes"
    text = Text(f"{span}: ", style="bold")
    if not points:
        text.append("no equity samples in this range yet", style="dim")
        return text
    first, last = points[0].equity, points[-1].equity
    text.append(f"{fmt.money(first)} → {fmt.money(last)} ")
    text.append_text(fmt.pnl(last - first))
    values = [p.equity for p in points]
    text.append(
        f"  low {fmt.money(min(values))}  high {fmt.money(max(values))}  {len(points)} {unit}",
        style="dim",
    )
    return text
