"""The `K` modal: says exactly what the kill switch will do, with a switch to
also close every position, before the trader engages it."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, Switch


@dataclass(frozen=True)
class KillSwitchChoice:
    """What the trader confirmed."""

    flatten: bool
    reason: str


class KillSwitchScreen(ModalScreen[KillSwitchChoice | None]):
    """Dismisses with the trader's choice, or None when cancelled."""

    BINDINGS = [
        Binding(
            "y", "engage", "Engage", id="kill_switch.confirm", tooltip="Engage it as described"
        ),
        Binding(
            "f",
            "toggle_flatten",
            "Flatten on/off",
            id="kill_switch.flatten",
            tooltip="Choose whether engaging also closes every open position",
        ),
        Binding("escape", "cancel", "Cancel", id="kill_switch.cancel", tooltip="Do nothing"),
    ]

    def __init__(self, *, pending_orders: int, positions: int, accounts: int) -> None:
        super().__init__()
        self.pending_orders = pending_orders
        self.positions = positions
        self.accounts = accounts

    def compose(self) -> ComposeResult:
        with Vertical(id="kill-dialog"):
            yield Label("Kill switch", id="kill-title")
            yield Static(id="kill-effects")
            with Horizontal(id="kill-flatten-row"):
                yield Switch(value=False, id="kill-flatten")
                yield Label(
                    f"Also close all {_plural(self.positions, 'open position')} at market",
                    id="kill-flatten-label",
                )
            yield Input(placeholder="reason (optional, kept with the alert)", id="kill-reason")
            with Horizontal(id="kill-buttons"):
                yield Button("Engage kill switch", variant="error", id="kill-engage")
                yield Button("Cancel", variant="primary", id="kill-cancel")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = not self.app.is_headless
        self._describe()
        # A stray enter cancels: the default button is Cancel.
        self.query_one("#kill-cancel", Button).focus()

    @property
    def flatten(self) -> bool:
        return self.query_one("#kill-flatten", Switch).value

    @property
    def effects(self) -> str:
        """What engaging will do, in the words the dialog shows."""
        lines = [
            f"Engaging halts trading on all {_plural(self.accounts, 'account')} "
            "until an admin clears it:",
            "  - every new order is refused (closing a position stays possible)",
            "  - every strategy is paused",
            f"  - {_plural(self.pending_orders, 'pending order')} cancelled",
        ]
        if self.flatten:
            lines.append(f"  - {_plural(self.positions, 'open position')} closed at market")
        else:
            lines.append(f"  - {_plural(self.positions, 'open position')} kept (flatten is off)")
        return "\n".join(lines)

    @on(Switch.Changed, "#kill-flatten")
    def _flatten_changed(self) -> None:
        self._describe()

    @on(Input.Submitted, "#kill-reason")
    def _reason_submitted(self) -> None:
        self.query_one("#kill-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "kill-engage":
            self.action_engage()
        else:
            self.action_cancel()

    def action_engage(self) -> None:
        reason = self.query_one("#kill-reason", Input).value.strip()
        self.dismiss(KillSwitchChoice(flatten=self.flatten, reason=reason))

    def action_toggle_flatten(self) -> None:
        self.query_one("#kill-flatten", Switch).toggle()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _describe(self) -> None:
        self.query_one("#kill-effects", Static).update(self.effects)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
