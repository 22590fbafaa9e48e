"""How numbers, times and states look in the panel: one place, so every pane
formats a price or a P&L the same way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.text import Text

from engine.domain import BrokerKind, RiskScope, SystemMode
from engine.models import (
    AlertStatus,
    Order,
    OrderStatus,
    OrderType,
    RiskLevel,
    Severity,
    Side,
    WorkerInfo,
    WorkerState,
)

Cell = str | Text

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
_LEVEL_STYLES = {RiskLevel.OK: "green", RiskLevel.WARNING: "yellow", RiskLevel.BREACH: "bold red"}
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


# Real money is marked in reverse video as well as colour: on a monochrome
# terminal (NO_COLOR) the label still stands out of its row.
LIVE_STYLE = "bold reverse {colour}"
_MARK_COLOURS = {"LIVE": "red", "MT5": "yellow"}


def money_label(worker: WorkerInfo | None, mode: SystemMode | None) -> str | None:
    """The mark of an account that may trade real money: its own label, else
    `LIVE` for an MT5 account in live mode and `MT5` in paper mode; None for a
    paper account without one."""
    if worker is None:
        return None
    if worker.label:
        return worker.label
    if worker.broker is BrokerKind.MT5:
        return "LIVE" if mode is SystemMode.LIVE else "MT5"
    return None


def money_mark(worker: WorkerInfo | None, mode: SystemMode | None) -> Text:
    """The label, in the account's colour and reverse video; `paper`, dim, for a
    paper account."""
    label = money_label(worker, mode)
    if label is None or worker is None:
        return Text("paper", style="dim")
    colour = worker.colour or _MARK_COLOURS.get(label, "red")
    return Text(f" {label} ", style=LIVE_STYLE.format(colour=colour))


def marked_account(account_id: str, worker: WorkerInfo | None, mode: SystemMode | None) -> Cell:
    """An account id in a position's or order's row, in its mark's colour when
    the account is marked (reverse video, so monochrome terminals show it too)."""
    label = money_label(worker, mode)
    if label is None or worker is None:
        return account_id
    colour = worker.colour or _MARK_COLOURS.get(label, "red")
    return Text(account_id, style=LIVE_STYLE.format(colour=colour))


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


def risk_level(value: RiskLevel) -> Text:
    return Text(value.value, style=_LEVEL_STYLES[value])


def risk_scope(scope: RiskScope, account_id: str | None, symbol: str | None) -> str:
    """Whom a limit binds, in a few words: `all accounts`, an account, a symbol."""
    if scope is RiskScope.GLOBAL:
        return "all accounts"
    if scope is RiskScope.ACCOUNT:
        return account_id or "all accounts"
    return f"{symbol} in {account_id or 'all accounts'}"


def limit_bar(
    value: Decimal, warning: Decimal | None, threshold: Decimal, level: RiskLevel, width: int
) -> Text:
    """A bar from zero to the threshold, filled to `value`, with the warning marked
    by a `|`; a value past the threshold fills it and ends in `>`."""
    cells = max(0, min(width, round(float(value / threshold) * width))) if threshold else width
    mark = None
    if warning is not None and threshold and warning < threshold:
        mark = min(width - 1, round(float(warning / threshold) * width))
    style = _LEVEL_STYLES[level]
    bar = Text()
    for i in range(width):
        if i == mark:
            bar.append("|", style="bold" if i < cells else "dim")
        elif i < cells:
            bar.append("█", style=style)
        else:
            bar.append("·", style="dim")
    if value > threshold:
        bar.append(">", style=style)
    return bar


def describe_order(order: Order, digits: int | None = None) -> str:
    """An order's outcome in a sentence: `account-001 bought 0.10 EURUSD at 1.08425
    (order 42).`, `account-001 placed buy limit 0.10 EURUSD at 1.08000 (order 43).`"""
    lots = f"{volume(order.volume)} {order.symbol}"
    if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        verb = "bought" if order.side is Side.BUY else "sold"
        if order.status is OrderStatus.PARTIALLY_FILLED:
            lots = f"{volume(order.filled_volume)} of {lots}"
        what = f"{verb} {lots} at {price(order.fill_price, digits)}"
    elif order.type is OrderType.MARKET:
        what = f"sent {order.side.value} {lots}: {order.status.value}"
    else:
        kind = order.type.value.replace("_", " ")
        what = f"placed {order.side.value} {kind} {lots} at {price(order.price, digits)}"
    return f"{order.account_id} {what} (order {order.ticket})."
