"""Orders over REST: place (idempotent), list, read, modify, cancel, flatten,
and closing a position; with validation, roles, scoped keys and the audit log."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from tests.api.conftest import SCOPED_ACCOUNT, Api

ORDERS = "/api/v1/orders"
MARKET = {"account_id": SCOPED_ACCOUNT, "symbol": "EURUSD", "side": "buy", "volume": "0.10"}


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["path"] for f in response.json()["error"]["details"]["fields"]]


async def audit_actions(api: Api) -> list[tuple[str, str]]:
    entries = (await api.client("admin").get("/api/v1/audit", params={"limit": 500})).json()
    return [(e["action"], e["outcome"]) for e in entries["items"]]


def ask(api: Api) -> Decimal:
    quote = api.engine.quote("EURUSD")
    assert quote is not None
    return quote.ask


async def test_a_trader_places_an_order_and_the_same_id_returns_it(api: Api) -> None:
    trader = api.client("trader")
    body = {**MARKET, "client_order_id": "api-once"}
    responses = await asyncio.gather(*(trader.post(ORDERS, json=body) for _ in range(5)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["ticket"] for r in responses}) == 1
    order = responses[0].json()
    assert (order["status"], order["source"], order["volume"]) == ("filled", "manual", "0.10")

    read = await api.client("viewer").get(f"{ORDERS}/{order['ticket']}")
    assert read.status_code == 200 and read.json() == order
    listed = await api.client("viewer").get(ORDERS, params={"symbol": "EURUSD", "source": "manual"})
    assert [o["client_order_id"] for o in listed.json()["items"]] == ["api-once"]
    assert ("order.place", "ok") in await audit_actions(api)


async def test_a_refused_order_is_stored_rejected_with_its_reason(api: Api) -> None:
    body = {**MARKET, "volume": "500", "client_order_id": "api-too-big"}
    response = await api.client("trader").post(ORDERS, json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "rejected"
    assert order["retcode"] in (10014, 10019) and order["reason"]


async def test_bad_orders_are_422_with_field_paths(api: Api) -> None:
    trader = api.client("trader")
    assert fields(await trader.post(ORDERS, json={**MARKET, "volume": "-1"})) == [
        "body.volume",
        "body.client_order_id",
    ]
    extra = {**MARKET, "client_order_id": "x", "leverage": 500}
    assert fields(await trader.post(ORDERS, json=extra)) == ["body.leverage"]


async def test_a_pending_order_is_modified_and_cancelled(api: Api) -> None:
    trader = api.client("trader")
    price = ask(api) - Decimal("0.00500")
    body = {**MARKET, "type": "limit", "price": str(price), "client_order_id": "api-limit"}
    placed = (await trader.post(ORDERS, json=body)).json()
    assert placed["status"] == "placed"
    ticket = placed["ticket"]

    lower = price - Decimal("0.00100")
    modified = await trader.put(f"{ORDERS}/{ticket}", json={"price": str(lower)})
    assert modified.status_code == 200, modified.text
    assert Decimal(modified.json()["price"]) == lower

    wrong = await trader.put(f"{ORDERS}/{ticket}", json={"price": str(ask(api) + 1)})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"]["retcode"] == 10015

    cancelled = await trader.delete(f"{ORDERS}/{ticket}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await trader.delete(f"{ORDERS}/{ticket}")).status_code == 404
    assert (await trader.delete(f"{ORDERS}/999999999")).status_code == 404


async def test_closing_part_of_a_position_then_flattening(api: Api) -> None:
    trader = api.client("trader")
    body = {**MARKET, "volume": "0.30", "client_order_id": "api-close"}
    order = (await trader.post(ORDERS, json=body)).json()
    ticket = order["position_ticket"] or next(
        p.ticket for p in api.engine.snapshot().positions if p.account_id == SCOPED_ACCOUNT
    )
    closed = await trader.post(
        f"/api/v1/portfolio/positions/{ticket}/close", json={"volume": "0.10"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["position_ticket"] == ticket
    flattened = await trader.post(f"{ORDERS}/flatten", json={"account_id": SCOPED_ACCOUNT})
    assert flattened.status_code == 200 and flattened.json()["failed"] == 0
    assert not [p for p in api.engine.snapshot().positions if p.account_id == SCOPED_ACCOUNT]
    gone = await trader.post(f"/api/v1/portfolio/positions/{ticket}/close")
    assert gone.status_code == 404


async def test_roles_and_scoped_keys(api: Api) -> None:
    body: dict[str, Any] = {**MARKET, "client_order_id": "api-roles"}
    assert (await api.client().post(ORDERS, json=body)).status_code == 401
    assert (await api.client("viewer").post(ORDERS, json=body)).status_code == 403
    other = {**body, "account_id": "account-002", "symbol": "XAUUSD"}
    assert (await api.client("scoped").post(ORDERS, json=other)).status_code == 404
    placed = (await api.client("trader").post(ORDERS, json=other)).json()
    assert (await api.client("scoped").get(f"{ORDERS}/{placed['ticket']}")).status_code == 404
    listed = (await api.client("scoped").get(ORDERS)).json()["items"]
    assert all(o["account_id"] == SCOPED_ACCOUNT for o in listed)
    # Flattening every account at once is an admin's call.
    assert (await api.client("trader").post(f"{ORDERS}/flatten", json={})).status_code == 403
    everything = await api.client("admin").post(f"{ORDERS}/flatten", json={})
    assert everything.status_code == 200 and everything.json()["failed"] == 0
