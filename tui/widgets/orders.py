"""The orders pane: open orders and the recent closed ones, newest first,
keyed by ticket."""

from __future__ import annotations

from textual.binding import Binding

from engine.models import Order
from tui import formatting as fmt
from tui.messages import CancelOrder
from tui.state import PanelState
from tui.widgets.keyed_table import Column, KeyedTable, Row


class OrdersTable(KeyedTable):
    COLUMNS = (
        Column("ticket", "Ticket", 6),
        Column("account", "Account", 11),
        Column("symbol", "Symbol", 6),
        Column("side", "Side", 4),
        Column("type", "Type", 6),
        Column("volume", "Lots", 5, numeric=True),
        Column("price", "Price", 9, numeric=True),
        Column("status", "Status", 8),
        Column("time", "Time", 8),
    )

    BINDINGS = [
        Binding(
            "c",
            "cancel_order",
            "Cancel order",
            id="orders.cancel",
            tooltip="Cancel the pending order under the cursor",
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_order":
            return (self.permitted("orders.cancel") and self._pending() is not None) or None
        return True

    def action_cancel_order(self) -> None:
        if (order := self._pending()) is not None:
            self.post_message(CancelOrder(order.account_id, order.ticket))

    def _pending(self) -> Order | None:
        """The order under the cursor, if it can still be cancelled."""
        key = self.cursor_key
        order = self.panel_state.orders.get(int(key)) if key is not None else None
        return order if order is not None and order.status.is_open else None


def order_rows(state: PanelState) -> list[Row]:
    rows: list[Row] = []
    mode = state.system.mode if state.system else None
    for ticket in sorted(state.orders, reverse=True):
        o = state.orders[ticket]
        shown_price = o.fill_price if o.fill_price is not None else o.price
        rows.append(
            (
                str(ticket),
                (
                    str(ticket),
                    fmt.marked_account(o.account_id, state.workers.get(o.account_id), mode),
                    o.symbol,
                    fmt.side(o.side),
                    o.type.value,
                    fmt.right(fmt.volume(o.volume)),
                    fmt.right(fmt.price(shown_price, state.digits.get(o.symbol))),
                    fmt.order_status(o.status),
                    fmt.hms(o.updated_at),
                ),
            )
        )
    return rows
