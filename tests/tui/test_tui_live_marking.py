"""Live money is unmistakable: an account that may trade real money (every
MT5 account, or one given a label in the configuration) carries its label and
colour in the workers pane, on its positions' and orders' account cells and in
the header; live mode says REAL MONEY in the header. Each mark is reverse
video as well as colour, so a monochrome terminal (NO_COLOR) shows it too."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from config.loader import load_settings
from config.models import AccountConfig
from engine.client import EngineClient
from engine.domain import BrokerKind, SystemMode
from engine.engine import Engine
from engine.models import EngineState, SystemEvent, SystemStatus, WorkerInfo
from tests.conftest import FROZEN_START
from tests.tui.helpers import plain, ready, table, until
from tui.app import TradeDeckApp
from tui.state import PanelState
from tui.widgets.header import StatusHeader, render_header
from tui.widgets.workers import worker_rows


@pytest.fixture
async def engine(engine_factory) -> Engine:
    """The demo with account-002 labelled as a real-money account."""
    settings = load_settings(None, env={})
    accounts = [
        a.model_copy(update={"label": "REAL", "colour": "orange1"}) if a.id == "account-002" else a
        for a in settings.accounts
    ]
    engine = await engine_factory(settings.model_copy(update={"accounts": accounts}))
    await engine.clock.advance(30)
    await engine.quiesce()
    return engine


def _cell(app: TradeDeckApp, pane: str, key: str, column: str) -> Text | str:
    return table(app, pane).get_cell(key, column)


async def test_a_labelled_account_is_marked_in_its_rows_and_the_header(
    client: EngineClient, engine: Engine
) -> None:
    app = TradeDeckApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        mark = _cell(app, "workers", "account-002", "money")
        assert isinstance(mark, Text) and mark.plain == " REAL "
        assert "reverse" in str(mark.style) and "orange1" in str(mark.style)
        plain_mark = _cell(app, "workers", "account-001", "money")
        assert isinstance(plain_mark, Text) and plain_mark.plain == "paper"
        assert " REAL x1 " in plain(app.screen.query_one(StatusHeader))

        # Its positions' account cells carry the colour too; others stay plain.
        positions = app.state.positions.values()
        marked = [p for p in positions if p.account_id == "account-002"]
        others = [p for p in positions if p.account_id != "account-002"]
        assert marked and others
        cell = _cell(app, "positions", str(marked[0].ticket), "account")
        assert isinstance(cell, Text) and "reverse orange1" in str(cell.style)
        assert _cell(app, "positions", str(others[0].ticket), "account") == others[0].account_id

        engine.set_mode(SystemMode.LIVE)
        header = app.screen.query_one(StatusHeader)
        await until(pilot, lambda: "LIVE: REAL MONEY" in plain(header))


def test_mt5_accounts_are_marked_live_in_live_mode_and_mt5_in_paper() -> None:
    state = PanelState()
    now = FROZEN_START
    state.update_worker(
        WorkerInfo(account_id="mt5-1", broker=BrokerKind.MT5, created_at=now, status="running")
    )
    state.update_worker(WorkerInfo(account_id="paper-1", created_at=now))
    for mode, label in ((SystemMode.PAPER, " MT5 "), (SystemMode.LIVE, " LIVE ")):
        status = SystemStatus(state=EngineState.RUNNING, mode=mode, time=now, started_at=now)
        state.apply(SystemEvent(time=now, status=status))
        rows = dict(worker_rows(state))
        mark = rows["mt5-1"][1]
        assert isinstance(mark, Text) and mark.plain == label
        assert "reverse" in str(mark.style)
        assert isinstance(rows["paper-1"][1], Text) and rows["paper-1"][1].plain == "paper"


def test_the_marks_stay_legible_without_colour() -> None:
    """NO_COLOR: the labels are text, in reverse video, however the colour goes."""
    state = PanelState()
    now = FROZEN_START
    state.update_worker(WorkerInfo(account_id="mt5-1", broker=BrokerKind.MT5, created_at=now))
    status = SystemStatus(state=EngineState.RUNNING, mode=SystemMode.LIVE, time=now, started_at=now)
    state.apply(SystemEvent(time=now, status=status))
    screen = io.StringIO()
    Console(width=160, no_color=True, force_terminal=True, file=screen).print(
        render_header(state, "local")
    )
    out = screen.getvalue()
    assert "LIVE: REAL MONEY" in out and " LIVE x1 " in out
    assert "\x1b[1;7m" in out  # bold reverse, no colour code
    assert "31m" not in out  # no red: only the reverse video carries it


def test_a_colour_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="'rouge' is not a colour"):
        AccountConfig(id="x", colour="rouge")
