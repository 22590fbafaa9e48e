"""The risk alerts pane: newest first, keyed by alert id."""

from __future__ import annotations

from textual.binding import Binding

from engine.models import AlertStatus
from tui import formatting as fmt
from tui.messages import AcknowledgeAlert
from tui.state import PanelState
from tui.widgets.keyed_table import Column, KeyedTable, Row


class AlertsTable(KeyedTable):
    COLUMNS = (
        Column("id", "ID", 4),
        Column("time", "Time", 8),
        Column("severity", "Severity", 8),
        Column("status", "Status", 12),
        Column("message", "Message", 56),
        Column("account", "Account", 11),
    )

    BINDINGS = [
        Binding(
            "a",
            "acknowledge",
            "Acknowledge",
            id="alerts.acknowledge",
            tooltip="Acknowledge the alert under the cursor: seen, being handled",
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "acknowledge":
            permitted = self.permitted("alerts.acknowledge")
            return (permitted and self.cursor_key is not None) or None
        return True

    def action_acknowledge(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(AcknowledgeAlert(int(key)))


def alert_rows(state: PanelState) -> list[Row]:
    rows: list[Row] = []
    for alert_id in sorted(state.alerts, reverse=True):
        a = state.alerts[alert_id]
        if a.status is AlertStatus.RESOLVED:
            continue
        rows.append(
            (
                str(alert_id),
                (
                    str(alert_id),
                    fmt.hms(a.created_at),
                    fmt.severity(a.severity),
                    fmt.alert_status(a.status),
                    a.message,
                    a.account_id or fmt.DASH,
                ),
            )
        )
    return rows
