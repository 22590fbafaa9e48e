"""The stream's protocol (SPEC 7): snapshot then events, `seq` without gaps,
account and symbol filters, account scoping, heartbeats, and `error` messages
for what the server cannot act on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter

from engine.models import Event, OrderEvent, QuoteEvent
from tests.api.ws_support import Message, Stream, connect

EVENT: TypeAdapter[Event] = TypeAdapter(Event)


async def _events_until(
    api: Any, stream: Stream, done: Any, *, step: float = 30.0, limit: int = 40
) -> list[Message]:
    """Run the market `step` virtual seconds at a time until `done(events)`;
    the events received on the way."""
    events: list[Message] = []
    for _ in range(limit):
        await api.engine.clock.advance(step)
        marker = f"mark-{len(stream.seen)}"
        await stream.send(action="ping", id=marker)
        while True:
            message = await stream.recv()
            if message["type"] == "ack" and message["data"]["id"] == marker:
                break
            if message["type"] == "event":
                events.append(message)
        if done(events):
            return events
    raise AssertionError(f"condition not met after {limit} steps; got {len(events)} events")


def _kinds(events: list[Message], channel: str) -> list[Message]:
    return [e for e in events if e["channel"] == channel]


async def test_snapshot_then_events_with_gapless_seq(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        orders = await stream.subscribe("orders")
        ticker = await stream.subscribe("ticker")
        assert isinstance(orders["data"]["orders"], list)
        symbols = {q["symbol"] for q in ticker["data"]["quotes"]}
        assert {"EURUSD", "BTCUSD"} <= symbols

        events = await _events_until(api, stream, lambda ev: len(_kinds(ev, "orders")) >= 3)

        seqs = [m["seq"] for m in stream.seen]
        assert seqs == list(range(1, len(seqs) + 1))
        # Every event parses as the engine's own model and sits on its channel.
        for message in events:
            event = EVENT.validate_python(message["data"])
            expected = OrderEvent if message["channel"] == "orders" else QuoteEvent
            assert isinstance(event, expected)
            assert message["ts"] == message["data"]["time"]
        assert _kinds(events, "ticker")
        first_order = stream.seen.index(_kinds(events, "orders")[0])
        assert stream.seen.index(orders) < first_order


async def test_account_and_symbol_filters(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        snapshot = await stream.subscribe("positions", accounts=["account-002"])
        assert all(p["account_id"] == "account-002" for p in snapshot["data"]["positions"])
        ticker = await stream.subscribe("ticker", symbols=["EURUSD", "XAUUSD"])
        assert {q["symbol"] for q in ticker["data"]["quotes"]} == {"EURUSD", "XAUUSD"}

        events = await _events_until(api, stream, lambda ev: len(_kinds(ev, "positions")) >= 2)

    positions = [e["data"]["position"] for e in _kinds(events, "positions")]
    assert {p["account_id"] for p in positions} == {"account-002"}
    assert {e["data"]["quote"]["symbol"] for e in _kinds(events, "ticker")} == {
        "EURUSD",
        "XAUUSD",
    }


async def test_a_scoped_key_sees_only_its_accounts(api: Any) -> None:
    async with connect(api.url, api.keys["scoped"]) as stream:
        await stream.send(action="subscribe", channel="orders", accounts=["account-002"], id="x")
        error = await stream.expect("error")
        assert error["channel"] == "orders"
        assert error["data"]["code"] == "FORBIDDEN" and error["data"]["id"] == "x"

        await stream.send(action="subscribe", channel="portfolio")
        ack = await stream.expect("ack", "portfolio")
        assert ack["data"]["accounts"] == ["account-001"]
        snapshot = await stream.expect("snapshot", "portfolio")
        assert [a["account_id"] for a in snapshot["data"]["accounts"]] == ["account-001"]
        workers = await stream.subscribe("workers")
        assert [w["account_id"] for w in workers["data"]["workers"]] == ["account-001"]

        events = await _events_until(api, stream, lambda ev: len(_kinds(ev, "portfolio")) >= 3)
    accounts = {e["data"]["account"]["account_id"] for e in _kinds(events, "portfolio")}
    assert accounts == {"account-001"}


async def test_a_scoped_key_gets_system_totals_of_its_accounts_only(api: Any) -> None:
    """The `system` channel's snapshot and events sum over the key's accounts:
    every total equals what its own portfolio shows at that moment."""
    async with (
        connect(api.url, api.keys["scoped"]) as scoped,
        connect(api.url, api.keys["viewer"]) as viewer,
    ):
        portfolio = await scoped.subscribe("portfolio")
        system = await scoped.subscribe("system")
        (own,) = portfolio["data"]["accounts"]
        status = system["data"]["status"]
        assert (status["workers_total"], status["total_equity"]) == (1, own["equity"])
        everything = (await viewer.subscribe("system"))["data"]["status"]
        assert everything["workers_total"] == 4
        assert Decimal(everything["total_balance"]) > Decimal(status["total_balance"])

        events = await _events_until(api, scoped, lambda ev: len(_kinds(ev, "system")) >= 3)
        seen_by_all = await viewer.expect("event", "system")
    account = own
    for event in events:
        if event["channel"] == "portfolio":
            account = event["data"]["account"]
        else:
            status = event["data"]["status"]
            totals = (status["total_equity"], status["total_balance"], status["pnl_today"])
            assert status["workers_total"] == 1, status
            assert totals == (account["equity"], account["balance"], account["pnl_today"])
    assert seen_by_all["data"]["status"]["workers_total"] == 4


async def test_unsubscribe_stops_a_channel(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("ticker")
        await stream.subscribe("portfolio")
        await stream.send(action="unsubscribe", channel="ticker", id="bye")
        ack = await stream.expect("ack", "ticker")
        assert ack["data"] == {"action": "unsubscribe", "id": "bye"}
        after = len(stream.seen)
        events = await _events_until(api, stream, lambda ev: len(_kinds(ev, "portfolio")) >= 2)
    assert events
    assert not [m for m in stream.seen[after:] if m["channel"] == "ticker"]


async def test_snapshot_on_request(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.send(action="snapshot", channel="workers")
        snapshot = await stream.expect("snapshot", "workers")
        assert {w["account_id"] for w in snapshot["data"]["workers"]} == {
            "account-001",
            "account-002",
            "account-003",
            "account-004",
        }
        await stream.send(action="snapshot", channel="system")
        system = await stream.expect("snapshot", "system")
        assert system["data"]["status"]["workers_total"] == 4


async def test_bad_messages_get_errors_naming_the_problem(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        cases: list[tuple[str | bytes, str, str]] = [
            ("{not json", "INVALID_JSON", "JSON"),
            ("[1, 2]", "INVALID_REQUEST", "object"),
            ('{"channel": "orders"}', "INVALID_REQUEST", "action"),
            ('{"action": "launch", "id": "l1"}', "UNKNOWN_ACTION", "launch"),
            ('{"action": "subscribe", "channel": "weather"}', "UNKNOWN_CHANNEL", "weather"),
            ('{"action": "subscribe"}', "INVALID_REQUEST", "channel"),
            (
                '{"action": "subscribe", "channel": "orders", "extra": 1}',
                "INVALID_REQUEST",
                "extra",
            ),
            (
                '{"action": "subscribe", "channel": "orders", "accounts": "a"}',
                "INVALID_REQUEST",
                "accounts",
            ),
            (b"\x00\x01", "INVALID_REQUEST", "binary"),
        ]
        for raw, code, word in cases:
            await stream.ws.send(raw)
            error = await stream.expect("error")
            assert error["data"]["code"] == code, (raw, error)
            assert word in error["data"]["message"], (raw, error)
        assert error["channel"] is None
        await stream.send(action="ping", id="still-here")
        pong = await stream.expect("ack")
        assert pong["data"] == {"action": "ping", "id": "still-here"}


async def test_repeated_abuse_closes_with_1008(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        for _ in range(20):
            await stream.ws.send("nonsense")
        code, reason = await stream.closed()
    assert code == 1008
    assert "invalid" in reason
    assert len([m for m in stream.seen if m["type"] == "error"]) >= 19


async def test_an_oversize_frame_closes_with_1009(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"], max_size=None) as stream:
        # Just under the limit is only a bad message...
        await stream.ws.send("x" * (60 * 1024))
        assert (await stream.expect("error"))["data"]["code"] == "INVALID_JSON"
        # ...over it, the connection ends.
        await stream.ws.send("x" * (64 * 1024 + 1))
        code, _ = await stream.closed()
    assert code == 1009


async def test_heartbeats_arrive_on_schedule(api_factory: Any) -> None:
    api = await api_factory(ws_heartbeat_seconds=0.05)
    async with connect(api.url, api.keys["viewer"]) as stream:
        welcome_seq = stream.seen[0]["seq"]
        beats = [await stream.expect("heartbeat") for _ in range(3)]
        assert stream.seen[1:] == beats  # nothing else was due
    assert [b["channel"] for b in beats] == [None, None, None]
    assert [b["seq"] for b in beats] == [welcome_seq + 1, welcome_seq + 2, welcome_seq + 3]
