"""The positions pane: open positions keyed by ticket."""

from __future__ import annotations

from tui import formatting as fmt
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


def position_rows(state: PanelState) -> list[Row]:
    rows: list[Row] = []
    for ticket in sorted(state.positions):
        p = state.positions[ticket]
        digits = state.digits.get(p.symbol)
        rows.append(
            (
                str(ticket),
                (
                    str(ticket),
                    p.account_id,
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
