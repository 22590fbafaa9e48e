"""The `?` screen: every key of the panel, where it applies and what it does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

HelpSection = tuple[str, Sequence[Binding]]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding(
            "escape,question_mark,q",
            "dismiss",
            "Close",
            id="help.close",
            tooltip="Close the help and return to the panel",
        ),
    ]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Label("Keys", id="help-title")
            yield DataTable(id="help-keys", cursor_type="none", zebra_stripes=True)
            yield Label("escape closes this help; ctrl+p lists every command", id="help-hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Where", width=14)
        table.add_column("Key", width=10)
        table.add_column("Action", width=14)
        table.add_column("What it does", width=58)
        for where, bindings in self.sections:
            for binding in bindings:
                table.add_row(
                    where,
                    Text(self._keys(binding), style="bold"),
                    binding.description,
                    binding.tooltip,
                )
        table.focus()

    def _keys(self, binding: Binding) -> str:
        if binding.key_display:
            return binding.key_display
        keys = binding.key.split(",")
        return ", ".join(self.app.get_key_display(replace(binding, key=k.strip())) for k in keys)
