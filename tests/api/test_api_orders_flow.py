"""Orders across the engine's doors: one `client_order_id` sent at once from
the API and the panel makes one order; a refusal names its retcode, rule and
problem; what is placed, modified, cancelled and closed is streamed."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from engine.client import LocalEngineClient
from engine.models import OrderRequest, Side
from tests.api.conftest import SCOPED_ACCOUNT, Api
from tests.api.ws_support import Message, Stream, connect

ORDERS = "/api/v1/orders"
MARKET = {"account_id": SCOPED_ACCOUNT, "symbol": "EURUSD", "side": "buy", "volume": "0.10"}


async def test_one_id_sent_at_once_from_the_api_and_the_panel_makes_one_order(api: Api) -> None:
    api.engine.pause_strategies()
    body = {**MARKET, "client_order_id": "both-doors"}
    panel = LocalEngineClient(api.engine)
    request = OrderRequest(
        account_id=SCOPED_ACCOUNT,
        symbol="EURUSD",
        side=Side.BUY,
        volume=Decimal("0.10"),
        client_order_id="both-doors",
    )
    http = api.client("trader")
    sent: list[Any] = []
    for _ in range(10):
        sent += [http.post(ORDERS, json=body), panel.place_order(request)]
    answers = await asyncio.gather(*sent)

    over_http = [a.json() for a in answers[::2]]
    from_panel = answers[1::2]
    assert all(a.status_code == 201 for a in answers[::2])
    tickets = {o["ticket"] for o in over_http} | {o.ticket for o in from_panel}
    assert len(tickets) == 1
    orders = await api.engine.store.ledger.orders(SCOPED_ACCOUNT, limit=1000)
    assert [o.status.value for o in orders if o.client_order_id == "both-doors"] == ["filled"]
    positions = [p for p in api.engine.snapshot().positions if p.account_id == SCOPED_ACCOUNT]
    assert [p.ticket for p in positions] == list(tickets)


async def test_a_refusal_is_an_order_naming_retcode_rule_and_problem(api: Api) -> None:
    trader = api.client("trader")
    body = {**MARKET, "volume": "0.015", "client_order_id": "bad-step"}
    first = await trader.post(ORDERS, json=body)
    assert first.status_code == 201, first.text
    order = first.json()
    assert (order["status"], order["retcode"], order["rule"]) == (
        "rejected",
        10014,
        "validation.volume",
    )
    assert order["reason"] == "Volume 0.015 is not a multiple of the volume step 0.01."
    again = await trader.post(ORDERS, json=body)
    assert again.status_code == 201 and again.json() == order
    rejected = await api.client("viewer").get(
        ORDERS, params={"status": "rejected", "account": SCOPED_ACCOUNT, "limit": 500}
    )
    assert order["ticket"] in [o["ticket"] for o in rejected.json()["items"]]
    check = await api.client("viewer").post(f"{ORDERS}/check", json=body)
    assert check.status_code == 200
    assert (check.json()["passed"], check.json()["rule"]) == (False, "validation.volume")


async def next_event(stream: Stream, channel: str, match: Any) -> Message:
    """The first event on `channel` whose data matches, among those already read
    (channels interleave) or the next ones."""

    def wanted(m: Message) -> bool:
        return m["type"] == "event" and m["channel"] == channel and bool(match(m["data"]))

    seen = next((m for m in stream.seen if wanted(m)), None)
    return seen if seen is not None else await stream.until(wanted)


async def test_placing_modifying_cancelling_and_closing_are_streamed(api: Api) -> None:
    api.engine.pause_strategies()
    trader = api.client("trader")
    quote = api.engine.quote("EURUSD")
    assert quote is not None
    async with connect(api.url, api.keys["scoped"]) as stream:
        for channel in ("orders", "fills", "positions"):
            await stream.subscribe(channel)

        price = quote.ask - Decimal("0.00500")
        limit = {**MARKET, "type": "limit", "price": str(price), "client_order_id": "streamed"}
        ticket = (await trader.post(ORDERS, json=limit)).json()["ticket"]

        def this(data: dict[str, Any]) -> bool:
            return bool(data["order"]["ticket"] == ticket)

        placed = await next_event(
            stream, "orders", lambda d: this(d) and d["order"]["status"] == "placed"
        )
        assert placed["data"]["order"]["price"] == str(price)

        lower = price - Decimal("0.00100")
        assert (await trader.put(f"{ORDERS}/{ticket}", json={"price": str(lower)})).is_success
        modified = await next_event(
            stream, "orders", lambda d: this(d) and Decimal(d["order"]["price"]) == lower
        )
        assert modified["data"]["order"]["status"] == "placed"

        assert (await trader.delete(f"{ORDERS}/{ticket}")).is_success
        cancelled = await next_event(
            stream, "orders", lambda d: this(d) and d["order"]["status"] == "cancelled"
        )
        assert stream.seen.index(modified) < stream.seen.index(cancelled)

        market = {**MARKET, "volume": "0.20", "client_order_id": "streamed-position"}
        assert (await trader.post(ORDERS, json=market)).status_code == 201
        opened = await next_event(stream, "positions", lambda d: not d["closed"])
        position = opened["data"]["position"]["ticket"]
        close = f"/api/v1/portfolio/positions/{position}/close"
        assert (await trader.post(close, json={"volume": "0.05"})).is_success
        partial = await next_event(
            stream,
            "positions",
            lambda d: d["position"]["ticket"] == position and d["position"]["volume"] == "0.15",
        )
        assert partial["data"]["closed"] is False
        fill = await next_event(
            stream,
            "fills",
            lambda d: d["fill"]["position_ticket"] == position and d["fill"]["entry"] == "out",
        )
        assert fill["data"]["fill"]["volume"] == "0.05"
        assert (await trader.post(close)).is_success
        gone = await next_event(
            stream, "positions", lambda d: d["position"]["ticket"] == position and d["closed"]
        )
        assert gone["data"]["position"]["volume"] == "0.15"


async def test_only_traders_close_and_only_their_accounts(api: Api) -> None:
    api.engine.pause_strategies()
    order = await LocalEngineClient(api.engine).place_order(
        OrderRequest(
            account_id="account-004",
            symbol="EURUSD",
            side=Side.SELL,
            volume=Decimal("0.10"),
            client_order_id="elsewhere",
        )
    )
    position = next(
        p.ticket
        for p in api.engine.snapshot().positions
        if p.account_id == "account-004" and p.symbol == "EURUSD" and p.side is Side.SELL
    )
    close = f"/api/v1/portfolio/positions/{position}/close"
    assert (await api.client().post(close)).status_code == 401
    assert (await api.client("viewer").post(close)).status_code == 403
    assert (await api.client("scoped").post(close)).status_code == 404
    scoped_flatten = await api.client("scoped").post(
        f"{ORDERS}/flatten", json={"account_id": "account-004"}
    )
    assert scoped_flatten.status_code == 404
    assert (await api.client("scoped").put(f"{ORDERS}/{order.ticket}", json={})).status_code == 404
    closed = await api.client("trader").post(close)
    assert closed.status_code == 200 and closed.json()["position_ticket"] == position
