"""`RemoteEngineClient` against a real server: the same snapshot as the engine,
commands by role, the event stream, reconnecting after a server restart, and
a key limited to one account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from engine.client import ACTION_ROLES, SYSTEM_ACTIONS
from engine.client.remote import RemoteEngineClient, RemoteError
from engine.clock import VirtualClock
from engine.errors import Conflict, EngineError, NotFound, Unavailable
from engine.models import (
    AccountEvent,
    AlertStatus,
    Event,
    ResyncEvent,
    Severity,
    WorkerEvent,
    WorkerState,
)
from engine.server.app import create_app
from engine.server.server import ServerHandle
from engine.server.ws_channels import event_keys
from tests.api.conftest import SCOPED_ACCOUNT, Api

WAIT = 10.0  # seconds of real time an expected event may take
TRADER_ACTIONS = frozenset(a for a, role in ACTION_ROLES.items() if role == "trader")


@asynccontextmanager
async def remote(api: Api, role: str, **options: float) -> AsyncIterator[RemoteEngineClient]:
    client = RemoteEngineClient(api.url, api.keys[role], **options)
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def next_event(
    events: AsyncIterator[Event], match: Callable[[Event], bool], seen: list[Event] | None = None
) -> Event:
    """The first event that matches, reading past (and keeping in `seen`) the rest."""
    async with asyncio.timeout(WAIT):
        async for event in events:
            if seen is not None:
                seen.append(event)
            if match(event):
                return event
    raise AssertionError("the stream ended")


def stopped(account_id: str) -> Callable[[Event], bool]:
    return lambda e: (
        isinstance(e, WorkerEvent)
        and e.worker.account_id == account_id
        and e.worker.status is WorkerState.STOPPED
    )


async def advance(api: Api, seconds: float) -> None:
    clock = api.engine.clock
    assert isinstance(clock, VirtualClock)
    await clock.advance(seconds)
    await api.engine.quiesce()


async def test_the_snapshot_is_the_engines_own(api: Api):
    await advance(api, 60)  # some trading: positions, orders, moved equity
    async with remote(api, "trader") as client:
        mine = await client.snapshot()
    theirs = api.engine.snapshot()
    assert mine.workers == theirs.workers
    assert mine.accounts == theirs.accounts
    assert mine.positions == theirs.positions and mine.positions
    assert mine.orders == theirs.orders
    assert mine.system == theirs.system


async def test_connect_learns_the_role_and_permissions(api: Api):
    async with remote(api, "admin") as admin:
        assert admin.permissions == frozenset(ACTION_ROLES)
    async with remote(api, "trader") as trader, remote(api, "viewer") as viewer:
        assert trader.role == "trader" and trader.permissions == TRADER_ACTIONS
        assert "kill_switch.clear" not in trader.permissions, "clearing is for admins"
        assert viewer.role == "viewer" and viewer.permissions == frozenset()
        assert trader.connected and trader.description == api.url


async def test_a_refused_token_and_an_unreachable_server_say_so(api: Api):
    client = RemoteEngineClient(api.url, "tdk_nope_nope")
    with pytest.raises(RemoteError) as refused:
        await client.connect()
    assert refused.value.code == "UNAUTHORIZED" and refused.value.status == 401
    assert refused.value.message
    await client.close()

    port = api.handle.port
    await api.close()
    client = RemoteEngineClient(f"http://127.0.0.1:{port}", api.keys["trader"])
    with pytest.raises(Unavailable, match=f"Cannot reach http://127.0.0.1:{port}"):
        await client.connect()
    assert not client.connected
    await client.close()


async def test_a_trader_commands_the_workers(api: Api):
    engine = api.engine
    async with remote(api, "trader") as client:
        info = await client.stop_worker("account-002")
        assert info.status is WorkerState.STOPPED
        assert engine.worker("account-002").status is WorkerState.STOPPED

        info = await client.start_worker("account-002")
        assert info.status is WorkerState.RUNNING
        assert engine.worker("account-002").status is WorkerState.RUNNING

        before = engine.worker("account-001").worker_id
        info = await client.restart_worker("account-001")
        assert info.worker_id == engine.worker("account-001").worker_id != before

        assert await client.stop_all() == 4
        assert all(w.status is WorkerState.STOPPED for w in engine.workers())
        started = await client.start_all()
        assert sorted(w.account_id for w in started) == [w.account_id for w in engine.workers()]
        assert all(w.status is WorkerState.RUNNING for w in engine.workers())

        alert = engine.alerts.raise_alert(
            "risk_limit", Severity.HIGH, "Daily loss at 80%", account_id="account-003"
        )
        assert alert is not None and alert.id is not None
        acknowledged = await client.acknowledge_alert(alert.id)
        assert acknowledged.status is AlertStatus.ACKNOWLEDGED
        assert {a.id: a for a in engine.alerts.recent()}[alert.id].status is (
            AlertStatus.ACKNOWLEDGED
        )

        detail = await client.worker_detail("account-003")
        assert detail == await engine.worker_detail("account-003")
        assert (await client.validate_worker("account-003")).valid


async def test_the_servers_refusals_arrive_as_engine_errors(api: Api):
    async with remote(api, "trader") as client:
        with pytest.raises(Conflict, match=r"^Worker account-001 is already running\.$"):
            await client.start_worker("account-001")
        with pytest.raises(NotFound, match="account-999"):
            await client.stop_worker("account-999")


async def test_a_viewer_is_refused_every_command_in_the_servers_words(api: Api):
    engine = api.engine
    alert = engine.alerts.raise_alert("risk_limit", Severity.HIGH, "Exposure high")
    assert alert is not None and alert.id is not None
    sentence = "This needs the trader role; your token has viewer."
    async with remote(api, "viewer") as client:
        commands = [
            client.stop_worker("account-001"),
            client.start_worker("account-001"),
            client.restart_worker("account-001"),
            client.stop_all(),
            client.start_all(),
            client.acknowledge_alert(alert.id),
        ]
        for command in commands:
            with pytest.raises(EngineError) as refused:
                await command
            assert isinstance(refused.value, RemoteError)
            assert refused.value.code == "FORBIDDEN"
            assert refused.value.message == sentence
        # What a viewer may do, it can.
        assert len((await client.snapshot()).workers) == 4
    assert all(w.status is WorkerState.RUNNING for w in engine.workers())
    assert {a.id: a for a in engine.alerts.recent()}[alert.id].status is AlertStatus.TRIGGERED


async def test_the_stream_delivers_the_engines_events(api: Api):
    async with remote(api, "viewer") as client:
        stream = client.subscribe()
        events = aiter(stream)
        await client.snapshot()  # returns once the stream is live: nothing falls between
        await api.engine.stop_worker("account-002")
        event = await next_event(events, stopped("account-002"))
        assert event.time == api.engine.clock.now()

        await advance(api, 5)
        account = await next_event(events, lambda e: isinstance(e, AccountEvent))
        assert isinstance(account, AccountEvent)
        assert account.time > event.time
        await stream.close()


async def test_a_server_restart_reconnects_the_stream_with_a_resync(api: Api):
    engine = api.engine
    async with remote(api, "trader", reconnect_initial=0.05, reconnect_max=0.2) as client:
        stream = client.subscribe()
        events = aiter(stream)
        await client.snapshot()
        assert client.connected

        port = api.handle.port
        await api.app.state.hub.close()
        await api.handle.stop()
        await until(lambda: not client.connected)
        # Missed while the server is away: only a new snapshot shows it.
        await engine.stop_worker("account-004")

        app = create_app(engine, api.security)
        handle = ServerHandle(app, "127.0.0.1", port)
        await handle.start()
        try:
            seen: list[Event] = []
            await next_event(events, lambda e: isinstance(e, ResyncEvent), seen)
            assert client.connected
            assert not any(stopped("account-004")(e) for e in seen), "it happened offline"
            snapshot = await client.snapshot()
            workers = {w.account_id: w.status for w in snapshot.workers}
            assert workers["account-004"] is WorkerState.STOPPED

            await engine.stop_worker("account-003")
            await next_event(events, stopped("account-003"))
            await stream.close()
        finally:
            await app.state.hub.close()
            await handle.stop()


async def test_an_administrators_disconnect_ends_the_stream_with_the_reason(api: Api):
    async with remote(api, "viewer") as client:
        stream = client.subscribe()
        await client.snapshot()
        admin = api.client("admin")
        (connection,) = (await admin.get("/api/v1/connections")).json()["items"]
        response = await admin.delete(f"/api/v1/connections/{connection['id']}")
        assert response.status_code == 200
        with pytest.raises(RemoteError, match="Disconnected by an administrator"):
            async with asyncio.timeout(WAIT):
                async for _ in stream:
                    pass
        assert not client.connected


async def test_a_scoped_key_sees_only_its_account(api: Api):
    engine = api.engine
    await advance(api, 60)
    async with remote(api, "scoped") as client:
        # A key limited to some accounts may not act on the whole system.
        assert client.permissions == TRADER_ACTIONS - SYSTEM_ACTIONS
        snapshot = await client.snapshot()
        assert [w.account_id for w in snapshot.workers] == [SCOPED_ACCOUNT]
        assert [a.account_id for a in snapshot.accounts] == [SCOPED_ACCOUNT]
        assert snapshot.positions and {p.account_id for p in snapshot.positions} == {SCOPED_ACCOUNT}
        assert {o.account_id for o in snapshot.orders} == {SCOPED_ACCOUNT}
        (account,) = snapshot.accounts
        assert snapshot.system.workers_total == 1
        assert snapshot.system.total_equity == account.equity

        with pytest.raises(NotFound):
            await client.worker_detail("account-002")
        with pytest.raises(NotFound):
            await client.stop_worker("account-002")
        assert engine.worker("account-002").status is WorkerState.RUNNING

        stream = client.subscribe()
        events = aiter(stream)
        await client.snapshot()
        await engine.stop_worker("account-002")
        await engine.stop_worker(SCOPED_ACCOUNT)
        seen: list[Event] = []
        await next_event(events, stopped(SCOPED_ACCOUNT), seen)
        assert {event_keys(e)[0] for e in seen} - {None} == {SCOPED_ACCOUNT}
        await stream.close()


async def until(condition: Callable[[], bool], step: float = 0.01) -> None:
    """Poll `condition` (a client's state, which has no event to wait on)."""
    for _ in range(int(WAIT / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError("the condition never held")
