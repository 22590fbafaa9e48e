"""How the order ticket and the risk screen look, fixed: the same frozen clock,
seeded market and sizes as the other snapshots (see test_snapshots.py)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from engine.engine import Engine
from tests.tui.helpers import ready, until
from tests.tui.test_snapshots import panel
from tui.screens.order_ticket import OrderTicketScreen
from tui.screens.risk import RiskScreen


def test_order_ticket(engine: Engine, snap_compare: Any):
    async def open_ticket(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await pilot.press("down", "o")  # account-002, its first symbol
        await until(pilot, lambda: isinstance(app.screen, OrderTicketScreen))
        ticket = app.screen
        assert isinstance(ticket, OrderTicketScreen)
        await until(pilot, lambda: ticket.settled)

    assert snap_compare(panel(engine), terminal_size=(100, 36), run_before=open_ticket)


def test_risk_screen(engine: Engine, snap_compare: Any):
    async def open_risk(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, RiskScreen))
        screen = app.screen
        assert isinstance(screen, RiskScreen)
        await until(pilot, lambda: screen.evaluation is not None)

    assert snap_compare(panel(engine), terminal_size=(160, 30), run_before=open_risk)
