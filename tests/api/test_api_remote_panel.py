"""The panel on a remote engine: keys its token's role may not use, the
connection indicator through a server restart, and a stream the server ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from engine.client.remote import RemoteEngineClient
from engine.models import WorkerState
from engine.server.app import create_app
from engine.server.server import ServerHandle
from tests.api.conftest import Api
from tests.tui.helpers import notifications, plain, ready, table, until
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen
from tui.widgets.header import StatusHeader


@asynccontextmanager
async def remote(api: Api, role: str) -> AsyncIterator[RemoteEngineClient]:
    client = RemoteEngineClient(api.url, api.keys[role], reconnect_initial=0.05, reconnect_max=0.2)
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def test_a_viewer_sees_the_keys_it_may_not_use_disabled_and_why(api: Api):
    async with remote(api, "viewer") as client:
        app = TradeDeckApp(client)
        async with app.run_test() as pilot:
            await ready(pilot)
            bindings = app.screen.active_bindings
            for key in ["s", "x", "r", "S", "X"]:
                assert not bindings[key].enabled, key
            assert bindings["enter"].enabled and bindings["slash"].enabled

            await pilot.press("x")
            await until(pilot, lambda: bool(notifications(app)))
            note = notifications(app)[-1]
            assert note.severity == "warning"
            assert note.message == "Stop needs the trader role; this connection may not use it."
            await pilot.press("X")
            await until(pilot, lambda: len(notifications(app)) == 2)
            assert notifications(app)[-1].message.startswith("Stop all needs the trader role")
            assert not isinstance(app.screen, ConfirmScreen)
            assert all(w.status is WorkerState.RUNNING for w in api.engine.workers())


async def test_the_header_shows_the_link_and_a_restart_resyncs_the_panel(api: Api):
    engine = api.engine
    async with remote(api, "trader") as client:
        app = TradeDeckApp(client)
        async with app.run_test() as pilot:
            await ready(pilot)
            header = app.screen.query_one(StatusHeader)
            url, port = api.url, api.handle.port
            await until(pilot, lambda: f"● {url}" in plain(header))

            await api.app.state.hub.close()
            await api.handle.stop()
            await until(pilot, lambda: f"○ reconnecting {url}" in plain(header))
            await engine.stop_worker("account-004")  # unseen: the stream is down

            app_ = create_app(engine, api.security)
            handle = ServerHandle(app_, "127.0.0.1", port)
            await handle.start()
            try:
                await until(pilot, lambda: f"● {url}" in plain(header))
                await until(
                    pilot,
                    lambda: (
                        str(table(app, "workers").get_cell("account-004", "state")) == "stopped"
                    ),
                )
                # Live again: the next change arrives as an event.
                await engine.stop_worker("account-003")
                await until(
                    pilot,
                    lambda: app.state.workers["account-003"].status is WorkerState.STOPPED,
                )
            finally:
                await app_.state.hub.close()
                await handle.stop()


async def test_a_stream_the_server_ends_is_reported(api: Api):
    async with remote(api, "viewer") as client:
        app = TradeDeckApp(client)
        async with app.run_test() as pilot:
            await ready(pilot)
            admin = api.client("admin")
            (connection,) = (await admin.get("/api/v1/connections")).json()["items"]
            await admin.delete(f"/api/v1/connections/{connection['id']}")
            await until(pilot, lambda: bool(notifications(app)))
            note = notifications(app)[-1]
            assert note.severity == "error"
            assert note.message == "Lost the engine's events: Disconnected by an administrator."
            header = app.screen.query_one(StatusHeader)
            await until(pilot, lambda: f"○ disconnected {api.url}" in plain(header))
