"""The positions pane: open positions keyed by ticket."""

from __future__ import annotations

from textual.binding import Binding

from engine.models import Position
from tui import formatting as fmt
from tui.messages import ClosePosition
from tui.screens.confirm import ConfirmScreen
from tui.state import PanelState
from tui.widgets.keyed_table import Column, KeyedTable, Row


class PositionsTable(KeyedTable):
    COLUMNS = (
        Column("ticket", "Ticket", 6),
        Column("account", "Account", 11),
        Column("symbol", "Symbol", 6),
        Column("side", "Side", 4),
        Column("volume", "Lots", 5, numeric=True),
        Column("open", "Open", 9, numeric=True),
        Column("price", "Price", 9, numeric=True),
        Column("profit", "P&L", 10, numeric=True),
    )

    BINDINGS = [
        Binding(
            "f",
            "close_position",
            "Close position",
            id="positions.close",
            tooltip="Close the position under the cursor at market (asks first)",
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_position":
            return (self.permitted("positions.close") and self._position() is not None) or None
        return True

    def action_close_position(self) -> None:
        position = self._position()
        if position is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(ClosePosition(position.account_id, position.ticket))

        digits = self.panel_state.digits.get(position.symbol)
        self.app.push_screen(
            ConfirmScreen(close_question(position, digits), confirm_label="Close position"),
            answered,
        )

    def _position(self) -> Position | None:
        key = self.cursor_key
        return self.panel_state.positions.get(int(key)) if key is not None else None


def close_question(position: Position, digits: int | None) -> str:
    """What closing a position will do, in words."""
    closing = position.side.opposite.value
    now = fmt.price(position.current_price, digits)
    return (
        f"Close position {position.ticket} on {position.account_id}? "
        f"A {closing} {fmt.volume(position.volume)} {position.symbol} order closes it at market "
        f"(now {now}), realising {position.profit:+,.2f}."
    )


def position_rows(state: PanelState) -> list[Row]:
    rows: list[Row] = []
    mode = state.system.mode if state.system else None
    for ticket in sorted(state.positions):
        p = state.positions[ticket]
        digits = state.digits.get(p.symbol)
        rows.append(
            (
                str(ticket),
                (
                    str(ticket),
                    fmt.marked_account(p.account_id, state.workers.get(p.account_id), mode),
                    p.symbol,
                    fmt.side(p.side),
                    fmt.right(fmt.volume(p.volume)),
                    fmt.right(fmt.price(p.open_price, digits)),
                    fmt.right(fmt.price(p.current_price, digits)),
                    fmt.pnl(p.profit),
                ),
            )
        )
    return rows
