"""A titled pane around one keyed table, with its own filter line."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input

from tui.widgets.keyed_table import KeyedTable, Row


class Pane(Vertical):
    """One of the main screen's panes: a border title, a filter line shown by
    `/`, and a table that shows the rows matching the filter."""

    BINDINGS = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="pane.filter",
            tooltip="Type to show only the rows of this pane that contain the text",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            id="pane.clear_filter",
            tooltip="Show every row of this pane again",
        ),
    ]

    filter_text: reactive[str] = reactive("", init=False)

    def __init__(self, table: KeyedTable, *, title: str, id: str) -> None:
        super().__init__(id=id)
        self.table = table
        self.title = title
        self.border_title = title
        self._rows: Sequence[Row] = ()

    def compose(self) -> ComposeResult:
        yield Input(placeholder=f"filter {self.title.lower()}", classes="pane-filter")
        yield self.table

    def on_mount(self) -> None:
        # No blinking cursor: a frozen screen is the same on every snapshot.
        self.filter_input.cursor_blink = not self.app.is_headless
        self.filter_input.display = False

    @property
    def filter_input(self) -> Input:
        return self.query_one(".pane-filter", Input)

    def show_rows(self, rows: Sequence[Row]) -> None:
        """The pane's full set of rows; the table shows those the filter keeps."""
        self._rows = rows
        self._sync()

    def focus_table(self) -> None:
        self.table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return bool(self.filter_text) or self.filter_input.has_focus
        return True

    def action_filter(self) -> None:
        self.filter_input.display = True
        self.filter_input.focus()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""
        self.filter_input.display = False
        self.focus_table()

    @on(Input.Changed, ".pane-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value.strip().lower()

    @on(Input.Submitted, ".pane-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.filter_text:
            self.filter_input.display = False
        self.focus_table()

    def watch_filter_text(self) -> None:
        self.border_subtitle = f"/{self.filter_text}" if self.filter_text else ""
        self._sync()

    def _sync(self) -> None:
        needle = self.filter_text
        if needle:
            rows = [r for r in self._rows if needle in " ".join(map(str, r[1])).lower()]
        else:
            rows = list(self._rows)
        self.table.sync(rows)
