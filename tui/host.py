"""What the panel's screens and widgets use of the app, as a protocol: the
engine client, the panel's state, and the one handler that turns an engine
refusal into words. Screens receive it when they are made (`PanelScreen`);
widgets reach it through their screen. Nothing here imports the app."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from textual.screen import Screen

from engine.client import EngineClient
from tui.state import PanelState
from tui.widgets.header import Link

T = TypeVar("T")


class Panel(Protocol):
    client: EngineClient
    state: PanelState
    clock_tick: bool  # paint on timers (the live panel) or only when asked (tests)

    @property
    def link(self) -> Link: ...

    async def attempt(self, failure: str, call: Awaitable[T]) -> T | None: ...

    def paint(self) -> None: ...


class PanelApp(Panel, Protocol):
    """The panel as its commands see it: also the screen shown and notices."""

    @property
    def screen(self) -> Screen[Any]: ...

    def notify(self, message: str, *, title: str = "", severity: Any = "information") -> None: ...
