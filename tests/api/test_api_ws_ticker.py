"""The `ticker` channel's pacing: each client gets at most one quote per symbol
per `server.ws_ticker_interval_ms`, and always the latest one in the end."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from config.models import ServerSettings
from engine.engine import Engine
from engine.models import Quote
from tests.api.ws_support import Message, Stream, connect

SYMBOL = "EURUSD"


def _quotes(engine: Engine, count: int) -> list[Quote]:
    """`count` quotes of SYMBOL a point apart, each newer than the last."""
    last = engine.quote(SYMBOL)
    assert last is not None
    point = engine.settings.instruments[SYMBOL].point
    spread = last.ask - last.bid
    quotes = []
    for n in range(1, count + 1):
        bid = last.bid + n * point
        quotes.append(
            Quote(
                symbol=SYMBOL,
                bid=bid,
                ask=bid + spread,
                time=engine.clock.now(),
                mid=float(bid + spread / 2),
            )
        )
    return quotes


async def _ticker_until_ack(stream: Stream) -> list[Message]:
    """The ticker events the server sends before answering a ping sent now."""
    await stream.send(action="ping", id="marker")
    events: list[Message] = []
    while True:
        message = await stream.recv()
        if message["type"] == "ack" and message["data"]["id"] == "marker":
            return events
        if message["type"] == "event" and message["channel"] == "ticker":
            events.append(message)


def _bid(message: Message) -> Decimal:
    return Decimal(message["data"]["quote"]["bid"])


async def test_quotes_within_the_interval_wait_and_only_the_latest_is_sent(
    api_factory: Any,
) -> None:
    # Long enough that the held-back quotes cannot be due before the ping's answer.
    api = await api_factory(ws_ticker_interval_ms=2_000)
    engine: Engine = api.engine
    first, held, latest = _quotes(engine, 3)
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("ticker", symbols=[SYMBOL])

        engine.process_quotes([first])
        assert _bid(await stream.expect("event", "ticker")) == first.bid  # no wait for the first

        engine.process_quotes([held])
        engine.process_quotes([latest])
        assert await _ticker_until_ack(stream) == []  # held back: inside the interval

        assert _bid(await stream.expect("event", "ticker")) == latest.bid  # when it is up
        assert await _ticker_until_ack(stream) == []

    ticker = [m for m in stream.seen if m["type"] == "event" and m["channel"] == "ticker"]
    assert [_bid(m) for m in ticker] == [first.bid, latest.bid]
    seqs = [m["seq"] for m in stream.seen]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_without_an_interval_each_loop_turn_sends_its_latest_quote(
    api_factory: Any,
) -> None:
    api = await api_factory(ws_ticker_interval_ms=0)
    engine: Engine = api.engine
    older, newer, next_turn = _quotes(engine, 3)
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("ticker", symbols=[SYMBOL])

        engine.process_quotes([older, newer])  # one market step: conflated
        assert _bid(await stream.expect("event", "ticker")) == newer.bid
        engine.process_quotes([next_turn])
        assert _bid(await stream.expect("event", "ticker")) == next_turn.bid
        assert await _ticker_until_ack(stream) == []


async def test_several_clients_and_filters_share_one_hand_out(api_factory: Any) -> None:
    api = await api_factory(ws_ticker_interval_ms=0)
    engine: Engine = api.engine
    (quote,) = _quotes(engine, 1)
    async with (
        connect(api.url, api.keys["viewer"]) as everything,
        connect(api.url, api.keys["viewer"]) as eurusd,
        connect(api.url, api.keys["viewer"]) as gold,
    ):
        await everything.subscribe("ticker")
        await eurusd.subscribe("ticker", symbols=[SYMBOL])
        await gold.subscribe("ticker", symbols=["XAUUSD"])

        engine.process_quotes([quote])

        for stream in (everything, eurusd):
            event = await stream.expect("event", "ticker")
            assert event["data"]["quote"]["symbol"] == SYMBOL
            assert _bid(event) == quote.bid
        assert await _ticker_until_ack(gold) == []


def test_a_negative_interval_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="ws_ticker_interval_ms"):
        ServerSettings(ws_ticker_interval_ms=-1)
