"""`--read-only`: the panel over either client with every action off. The
keys show disabled and say why, the header says so, and a mutating call that
gets past the panel is refused before it reaches the engine."""

from __future__ import annotations

import pytest

from engine.client import EngineClient
from engine.client.readonly import MUTATING, ReadOnly, ReadOnlyClient
from engine.engine import Engine
from engine.models import OrderRequest, Side, WorkerState
from tests.tui.helpers import notifications, plain, ready
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen
from tui.widgets.header import StatusHeader


async def test_a_read_only_panel_looks_and_never_touches(
    client: EngineClient, engine: Engine
) -> None:
    app = TradeDeckApp(ReadOnlyClient(client))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert "read-only" in plain(app.screen.query_one(StatusHeader))
        bindings = app.screen.active_bindings
        for key in ["s", "x", "r", "S", "X", "o", "K"]:
            assert not bindings[key].enabled, key
        assert bindings["enter"].enabled  # looking is allowed
        await pilot.press("x", "X", "S")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        said = [n.message for n in notifications(app)]
        assert any("read-only (--read-only)" in m for m in said), said
        assert engine.worker("account-001").status is WorkerState.RUNNING
        await pilot.press("enter")  # the detail still opens
        await pilot.pause()
        assert app.screen.__class__.__name__ == "WorkerDetailScreen"


async def test_mutating_calls_are_refused_before_the_engine(
    client: EngineClient, engine: Engine
) -> None:
    read_only = ReadOnlyClient(client)
    assert read_only.permissions == frozenset()
    orders = len(await engine.store.ledger.orders("account-001", limit=1000))
    request = OrderRequest(
        account_id="account-001", symbol="EURUSD", side=Side.BUY, volume="0.10",
        client_order_id="read-only",
    )  # fmt: skip
    with pytest.raises(ReadOnly, match="read-only"):
        await read_only.place_order(request)
    with pytest.raises(ReadOnly):
        await read_only.stop_worker("account-001")
    assert len(await engine.store.ledger.orders("account-001", limit=1000)) == orders
    assert engine.worker("account-001").status is WorkerState.RUNNING
    snapshot = await read_only.snapshot()  # reads pass through
    assert {w.account_id for w in snapshot.workers} >= {"account-001"}
    # Every mutating method of the protocol is covered.
    assert {"place_order", "stop_all", "engage_kill_switch", "set_mode"} <= MUTATING
