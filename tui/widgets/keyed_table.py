"""A DataTable that is kept in step with live data by key.

`sync` diffs the wanted rows against what is shown: rows are added and removed
by key, cells are rewritten only where their value changed, and the cursor
stays on the same row key however rows move around it (dolphie's process list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

from tui.host import Panel
from tui.screens.base import PanelScreen
from tui.state import PanelState

Cell = str | Text
Row = tuple[str, tuple[Cell, ...]]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    numeric: bool = False


class KeyedTable(DataTable[Cell]):
    """A table of fixed-width columns whose rows are identified by a string key.

    The first column always shows the row key itself: sorting relies on it.
    """

    COLUMNS: tuple[Column, ...] = ()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._rank: dict[str, int] = {}
        for column in self.COLUMNS:
            label = Text(column.label, justify="right" if column.numeric else "left")
            self.add_column(label, width=column.width, key=column.key)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None on an empty table."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def permitted(self, permission: str) -> bool:
        """Whether the engine client lets the trader do this (see `engine.client.ACTIONS`)."""
        return permission in self.panel.client.permissions

    @property
    def panel(self) -> Panel:
        """The panel this table's screen was given."""
        screen = self.screen
        if not isinstance(screen, PanelScreen):
            raise TypeError(
                f"{type(self).__name__} sits on {type(screen).__name__}, not a panel screen"
            )
        return screen.panel

    @property
    def panel_state(self) -> PanelState:
        """The panel's picture of the engine, to act on the row under the cursor."""
        return self.panel.state

    def sync(self, rows: Sequence[Row]) -> None:
        """Show exactly `rows`, in their order, touching only what changed."""
        keep = self.cursor_key
        wanted = dict(rows)
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
        columns = [c.key for c in self.COLUMNS]
        for key, cells in rows:
            shown = self._shown.get(key)
            if shown is None:
                self.add_row(*cells, key=key)
            elif shown != cells:
                for column, old, new in zip(columns, shown, cells, strict=True):
                    if old != new:
                        self.update_cell(key, column, new)
            self._shown[key] = cells
        self._reorder([key for key, _ in rows])
        if keep is not None and keep in wanted:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _reorder(self, order: list[str]) -> None:
        if [row.key.value for row in self.ordered_rows] == order:
            return
        self._rank = {key: index for index, key in enumerate(order)}
        self.sort(self.COLUMNS[0].key, key=self._sort_key)

    def _sort_key(self, cell: Cell) -> int:
        return self._rank[str(cell)]
