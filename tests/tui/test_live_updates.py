"""The panel follows the engine live: rows arrive and change by key, the cursor
never jumps, the clock is the engine's, and a resync takes a new snapshot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import App, ComposeResult

from engine.client import EngineClient, EventStream, LocalEngineClient
from engine.engine import Engine
from engine.models import Snapshot, WorkerState
from tests.tui.helpers import plain, ready, row_keys, table, until
from tui.app import TradeDeckApp
from tui.widgets.event_line import EventLine
from tui.widgets.header import StatusHeader
from tui.widgets.keyed_table import Column, KeyedTable


async def test_cursor_keeps_its_order_while_new_orders_arrive_above_it(
    client: EngineClient, engine: Engine, trade: Callable[[float], Awaitable[None]]
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(80, 40)) as pilot:
        await ready(pilot)
        await pilot.press("3", "down", "down", "down")
        orders = table(app, "orders")
        chosen, index = orders.cursor_key, orders.cursor_row
        assert chosen is not None and index == 3
        newest = max(app.state.orders)

        await trade(60)
        await until(pilot, lambda: int(row_keys(app, "orders")[0]) > newest)

        keys = row_keys(app, "orders")
        assert keys == sorted(keys, key=int, reverse=True)
        assert orders.cursor_key == chosen
        assert orders.cursor_row == keys.index(chosen) > index


async def test_the_header_shows_the_engines_clock_and_money(
    client: EngineClient, engine: Engine, trade: Callable[[float], Awaitable[None]]
):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        header = app.screen.query_one(StatusHeader)
        text = plain(header)
        assert "2026-01-05 09:02:00 UTC" in text
        assert "workers 4/4 running" in text and client.description in text
        equity = sum(a.equity for a in engine.snapshot().accounts)
        assert f"equity {equity:,.2f}" in text

        await trade(30)
        await until(pilot, lambda: "2026-01-05 09:02:30 UTC" in plain(header))


async def test_the_event_line_shows_the_latest_engine_message(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await engine.stop_worker("account-003")
        line = app.screen.query_one(EventLine)
        await until(pilot, lambda: "account-003: worker stopped" in plain(line))


class SlowLinkClient(LocalEngineClient):
    """The local client with a tiny event queue, so a burst overflows it as it
    would a slow remote link: the bus drops the backlog and sends a resync."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.engine = engine
        self.snapshots = 0

    def subscribe(self) -> EventStream:
        return self.engine.subscribe(maxsize=4)

    async def snapshot(self) -> Snapshot:
        self.snapshots += 1
        return await super().snapshot()


async def test_a_resync_takes_a_fresh_snapshot(engine: Engine):
    client = SlowLinkClient(engine)
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        assert client.snapshots == 1
        await engine.stop_worker("account-004")
        engine.mark()  # a burst of account and position events: more than 4 at once
        await until(pilot, lambda: client.snapshots == 2)
        await until(pilot, lambda: app.state.workers["account-004"].status is WorkerState.STOPPED)
        assert str(table(app, "workers").get_cell("account-004", "state")) == "stopped"


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield NumbersTable()


class NumbersTable(KeyedTable):
    COLUMNS = (Column("key", "Key", 4), Column("value", "Value", 6))


async def test_keyed_table_diffs_rows_and_keeps_the_cursor_on_its_key():
    app = TableApp()
    async with app.run_test() as pilot:
        numbers = app.query_one(NumbersTable)
        numbers.sync([("a", ("a", "1")), ("b", ("b", "2")), ("c", ("c", "3")), ("d", ("d", "4"))])
        numbers.move_cursor(row=2)
        await pilot.pause()
        assert numbers.cursor_key == "c"

        # "a" leaves, "z" arrives on top, "d" moves up, "c" changes its value
        numbers.sync([("z", ("z", "0")), ("d", ("d", "4")), ("b", ("b", "2")), ("c", ("c", "30"))])
        await pilot.pause()
        assert [r.key.value for r in numbers.ordered_rows] == ["z", "d", "b", "c"]
        assert numbers.cursor_key == "c" and numbers.cursor_row == 3
        assert numbers.get_cell("c", "value") == "30"

        numbers.sync([("c", ("c", "30"))])
        await pilot.pause()
        assert numbers.cursor_key == "c" and numbers.cursor_row == 0
        numbers.sync([])
        assert numbers.cursor_key is None
