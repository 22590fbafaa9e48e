"""The bottom line above the footer: the engine's latest log message."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.models import LogRecord
from tui import formatting as fmt

_LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


class EventLine(Static):
    DEFAULT_CSS = """
    EventLine {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def show(self, record: LogRecord | None) -> None:
        self.update(render_record(record))


def render_record(record: LogRecord | None) -> Text:
    if record is None:
        return Text("no engine messages yet", style="dim")
    text = Text(fmt.hms(record.time) + " ", style="dim")
    if record.account_id:
        text.append(f"{record.account_id}: ", style="bold")
    text.append(record.message, style=_LEVEL_STYLES[record.level])
    return text
