"""The workers pane: one row per account, keyed by account id."""

from __future__ import annotations

from decimal import Decimal

from textual.binding import Binding
from textual.widget import Widget

from engine.models import WorkerState
from tui import formatting as fmt
from tui.messages import FlattenAccount, OpenWorker, WorkerAction, WorkerCommand
from tui.screens.confirm import ConfirmScreen
from tui.state import PanelState
from tui.widgets.keyed_table import Column, KeyedTable, Row

_PERMISSION = {
    "start": "workers.start",
    "stop": "workers.stop",
    "restart": "workers.restart",
}


class WorkersTable(KeyedTable):
    COLUMNS = (
        Column("account", "Account", 14),
        Column("money", "Money", 7),
        Column("state", "State", 12),
        Column("equity", "Equity", 12, numeric=True),
        Column("today", "Today", 10, numeric=True),
        Column("positions", "Pos", 3, numeric=True),
        Column("orders", "Ord", 3, numeric=True),
        Column("restarts", "Rst", 3, numeric=True),
    )

    BINDINGS = [
        Binding(
            "enter",
            "open",
            "Detail",
            id="workers.open",
            tooltip="Open the worker's detail: strategies, validation, orders, equity",
        ),
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
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command":
            permitted = self.permitted(_PERMISSION[str(parameters[0])])
            return (permitted and self.cursor_key is not None) or None
        if action == "open":
            return self.cursor_key is not None or None
        if action == "flatten":
            return (self.permitted("orders.flatten") and self.cursor_key is not None) or None
        return True

    def action_flatten(self) -> None:
        if (account_id := self.cursor_key) is not None:
            confirm_flatten(self, self.panel_state, account_id)

    def action_command(self, action: WorkerAction) -> None:
        if (account_id := self.cursor_key) is not None:
            self.post_message(WorkerCommand(action, account_id))

    def action_open(self) -> None:
        if (account_id := self.cursor_key) is not None:
            self.post_message(OpenWorker(account_id))


def confirm_flatten(node: Widget, state: PanelState, account_id: str) -> None:
    """Ask before flattening an account, saying what will close; on yes, `node`
    posts `FlattenAccount`."""

    def answered(yes: bool | None) -> None:
        if yes:
            node.post_message(FlattenAccount(account_id))

    node.app.push_screen(
        ConfirmScreen(flatten_question(state, account_id), confirm_label="Flatten"), answered
    )


def flatten_question(state: PanelState, account_id: str) -> str:
    """What flattening an account will do, in words."""
    positions = [p for p in state.positions.values() if p.account_id == account_id]
    if not positions:
        return f"Flatten {account_id}? It has no open position: nothing will close."
    profit = sum((p.profit for p in positions), Decimal(0))
    symbols = ", ".join(sorted({p.symbol for p in positions}))
    count = f"{len(positions)} open position{'s' if len(positions) != 1 else ''}"
    return (
        f"Flatten {account_id}? Its {count} ({symbols}) close at market, "
        f"realising about {profit:+,.2f}. Pending orders stay; strategies keep running."
    )


def worker_rows(state: PanelState) -> list[Row]:
    rows: list[Row] = []
    mode = state.system.mode if state.system else None
    for account_id in sorted(state.workers):
        worker = state.workers[account_id]
        account = state.accounts.get(account_id)
        status = fmt.worker_state(worker.status)
        if worker.status is WorkerState.ERROR:
            status.append(" !", style="bold red")
        rows.append(
            (
                account_id,
                (
                    account_id,
                    fmt.money_mark(worker, mode),
                    status,
                    fmt.right(fmt.money(account.equity if account else None)),
                    fmt.pnl(account.pnl_today if account else None),
                    fmt.right(str(account.open_positions) if account else fmt.DASH),
                    fmt.right(str(account.pending_orders) if account else fmt.DASH),
                    fmt.right(str(worker.restarts)),
                ),
            )
        )
    return rows
