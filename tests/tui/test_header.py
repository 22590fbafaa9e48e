"""The header states the system mode; halted (the kill switch) is loud."""

from __future__ import annotations

from rich.console import Console

from engine.domain import SystemMode
from engine.engine import Engine
from tui.state import PanelState
from tui.widgets.header import render_header


def rendered(state: PanelState) -> tuple[str, set[str]]:
    console = Console(width=100, record=True, color_system="truecolor")
    console.print(render_header(state, "local"))
    text = console.export_text()
    styles = {str(segment.style) for segment in console.render(render_header(state, "local"))}
    return text, styles


async def test_halted_mode_shows_in_white_on_red(engine: Engine) -> None:
    state = PanelState()
    state.load(engine.snapshot())
    assert state.system is not None
    text, styles = rendered(state)
    assert "paper" in text and "HALTED" not in text

    state.system = state.system.model_copy(update={"mode": SystemMode.HALTED})
    text, styles = rendered(state)
    assert " HALTED " in text
    assert "bold white on red" in styles
