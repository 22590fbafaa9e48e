"""The performance metrics table on a worker's detail: return, risk-adjusted
ratios, drawdown and trade statistics over the equity chart's range."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from engine.models import PerformanceMetrics, Resolution
from tui import formatting as fmt

# The returns each chart range is measured on: enough periods in the range to
# mean something, few enough to read quickly.
RANGE_RESOLUTIONS: dict[str, Resolution] = {"1h": "1m", "1d": "15m", "1w": "1h", "all": "1d"}


def render_performance(metrics: PerformanceMetrics) -> Table:
    """Four columns of name/value pairs; `-` where a metric is undefined."""
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column(style="bold")
        grid.add_column(justify="right")
    m = metrics
    grid.add_row(
        "Return", _percent(m.total_return, signed=True),
        "Volatility", _percent(m.volatility),
        "Max drawdown", _percent(m.max_drawdown, signed=True),
        "Trades", str(m.trades),
    )  # fmt: skip
    grid.add_row(
        "Annualised", _percent(m.annualised_return, signed=True),
        "Sharpe", _ratio(m.sharpe),
        "DD duration", _duration(m.max_drawdown_duration),
        "Win rate", _percent(m.win_rate),
    )  # fmt: skip
    grid.add_row(
        "Expectancy", _money(m.expectancy),
        "Sortino", _ratio(m.sortino),
        "Calmar", _ratio(m.calmar),
        "Profit factor", _ratio(m.profit_factor),
    )  # fmt: skip
    grid.add_row(
        "Avg win", _money(m.avg_win),
        "Avg loss", _money(m.avg_loss),
        "Periods", str(m.periods),
        "", "",
    )  # fmt: skip
    return grid


def _percent(value: float | None, *, signed: bool = False) -> Text:
    if value is None:
        return Text(fmt.DASH, style="dim")
    text = f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"
    style = ("green" if value > 0 else "red" if value < 0 else "") if signed else ""
    return Text(text, style=style)


def _ratio(value: float | None) -> Text:
    return Text(fmt.DASH, style="dim") if value is None else Text(f"{value:.2f}")


def _money(value: float | None) -> Text:
    if value is None:
        return Text(fmt.DASH, style="dim")
    return Text(f"{value:+,.2f}", style="green" if value > 0 else "red" if value < 0 else "")


def _duration(seconds: float | None) -> Text:
    if seconds is None:
        return Text(fmt.DASH, style="dim")
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return Text(f"{days}d {hours}h")
    return Text(f"{hours}h {minutes:02d}m" if hours else f"{minutes}m")
