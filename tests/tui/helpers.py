"""Small helpers for driving the panel in tests: wait for states, never durations."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets import Static

from engine.client import ACTIONS, EngineClient, EventStream
from tui.app import TradeDeckApp
from tui.widgets.keyed_table import KeyedTable


async def until(pilot: Pilot[Any], condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause(0.01)


async def ready(pilot: Pilot[Any]) -> TradeDeckApp:
    """Wait until the panel has its first snapshot on screen."""
    app = pilot.app
    assert isinstance(app, TradeDeckApp)
    await until(pilot, lambda: app.state.loaded and table(app, "workers").row_count > 0)
    return app


def table(app: TradeDeckApp, pane: str) -> KeyedTable:
    return app.screen.query_one(f"#{pane}-table", KeyedTable)


def row_keys(app: TradeDeckApp, pane: str) -> list[str]:
    return [str(row.key.value) for row in table(app, pane).ordered_rows]


def plain(widget: Static) -> str:
    """A Static's content as plain text, however it was built (Text, Table, Group)."""
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def notifications(app: TradeDeckApp) -> list[Notification]:
    """What the panel told the trader (Textual keeps them even with toasts off)."""
    return list(app._notifications)


class RestrictedClient:
    """An `EngineClient` narrowed to some actions, as a remote viewer's token is."""

    def __init__(self, inner: EngineClient, permissions: frozenset[str]) -> None:
        assert permissions <= ACTIONS
        self._inner = inner
        self._permissions = permissions

    @property
    def description(self) -> str:
        return self._inner.description

    @property
    def permissions(self) -> frozenset[str]:
        return self._permissions

    def subscribe(self) -> EventStream:
        return self._inner.subscribe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
