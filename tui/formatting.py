"""How numbers, times and states look in the panel: one place, so every pane
formats a price or a P&L the same way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.text import Text

from engine.models import AlertStatus, OrderStatus, Severity, Side, WorkerState

MONEY_PLACES = 2
DASH = "-"

_WORKER_STYLES = {
    WorkerState.RUNNING: "bold green",
    WorkerState.STARTING: "yellow",
    WorkerState.STOPPING: "yellow",
    WorkerState.RECONNECTING: "yellow",
    WorkerState.STOPPED: "dim",
    WorkerState.ERROR: "bold red",
}
_SEVERITY_STYLES = {
    Severity.LOW: "dim",
    Severity.MEDIUM: "yellow",
    Severity.HIGH: "bold red",
    Severity.CRITICAL: "bold white on red",
}
_ORDER_STYLES = {
    OrderStatus.FILLED: "green",
    OrderStatus.REJECTED: "red",
    OrderStatus.CANCELLED: "dim",
}
# Short enough for the orders pane's fixed Status column.
_ORDER_LABELS = {OrderStatus.PARTIALLY_FILLED: "partial", OrderStatus.CANCELLED: "canceled"}


def money(value: Decimal | None, places: int = MONEY_PLACES) -> str:
    """An amount of account currency with thousands separators."""
    if value is None:
        return DASH
    return f"{value:,.{places}f}"


def pnl(value: Decimal | None, places: int = MONEY_PLACES) -> Text:
    """A profit or loss, signed and coloured: green above zero, red below."""
    if value is None:
        return Text(DASH, justify="right")
    style = "green" if value > 0 else "red" if value < 0 else "dim"
    return Text(f"{value:+,.{places}f}", style=style, justify="right")


def price(value: Decimal | None, digits: int | None = None) -> str:
    """A price at the instrument's digits (or the precision it already carries)."""
    if value is None:
        return DASH
    if digits is None:
        return str(value)
    return f"{value:.{digits}f}"


def volume(value: Decimal) -> str:
    """Lots, at the usual step of 0.01."""
    return f"{value:.2f}"


def digits_of(value: Decimal) -> int:
    """How many decimal places a price carries (the engine rounds prices to the
    instrument's digits, so a quote tells the panel the instrument's precision)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def right(text: str, style: str = "") -> Text:
    """Right-aligned cell text, for numbers."""
    return Text(text, style=style, justify="right")


def clock(when: datetime | None) -> str:
    """The header's clock: the engine's time, not the terminal's."""
    if when is None:
        return "--:--:--"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def hms(when: datetime | None) -> str:
    return DASH if when is None else when.strftime("%H:%M:%S")


def stamp(when: datetime | None) -> str:
    return DASH if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def worker_state(state: WorkerState) -> Text:
    return Text(state.value, style=_WORKER_STYLES[state])


def severity(value: Severity) -> Text:
    return Text(value.value, style=_SEVERITY_STYLES[value])


def alert_status(value: AlertStatus) -> Text:
    return Text(value.value, style="bold" if value is AlertStatus.TRIGGERED else "dim")


def order_status(value: OrderStatus) -> Text:
    return Text(_ORDER_LABELS.get(value, value.value), style=_ORDER_STYLES.get(value, ""))


def side(value: Side) -> Text:
    return Text(value.value, style="cyan" if value is Side.BUY else "magenta")
