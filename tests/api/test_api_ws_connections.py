"""`/api/v1/connections`: who is connected (everyone may look, non-admins at
their own connections only), stats, and the administrator's broadcast and
disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import TypeAdapter

from engine.models import Event, LogEvent
from tests.api.ws_support import connect

EVENT: TypeAdapter[Event] = TypeAdapter(Event)


async def _until_connections(api: Any, count: int) -> list[dict[str, Any]]:
    """The admin's list once it shows `count` connections (a closed socket
    leaves the hub a moment after the client sees the close)."""
    async with asyncio.timeout(5):
        while True:
            body = (await api.client("admin").get("/api/v1/connections")).json()
            if body["total"] == count:
                return list(body["items"])
            await asyncio.sleep(0.02)


async def test_list_shows_connections_and_their_subscriptions(api: Any) -> None:
    assert (await api.client().get("/api/v1/connections")).status_code == 401
    async with (
        connect(api.url, api.keys["viewer"]) as viewer,
        connect(api.url, api.keys["trader"]) as trader,
    ):
        await viewer.subscribe("orders", accounts=["account-002"])
        await viewer.subscribe("ticker", symbols=["EURUSD"])
        await trader.subscribe("workers")

        items = await _until_connections(api, 2)
        by_role = {item["role"]: item for item in items}
        assert set(by_role) == {"viewer", "trader"}
        seen = by_role["viewer"]
        assert seen["id"] == viewer.seen[0]["data"]["connection_id"]
        assert seen["auth"] == "header"
        assert seen["subscriptions"] == [
            {"channel": "orders", "accounts": ["account-002"], "symbols": None},
            {"channel": "ticker", "accounts": None, "symbols": ["EURUSD"]},
        ]
        assert seen["sent"] >= 5 and seen["dropped"] == 0 and seen["queue_depth"] >= 0
        assert seen["client"].startswith("127.0.0.1:")

        # Filters, and a non-admin sees its own connections only.
        response = await api.client("admin").get(
            "/api/v1/connections", params={"channel": "workers"}
        )
        assert [i["role"] for i in response.json()["items"]] == ["trader"]
        own = (await api.client("viewer").get("/api/v1/connections")).json()
        assert [i["id"] for i in own["items"]] == [seen["id"]]


async def test_stats_count_clients_and_subscriptions(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        await stream.subscribe("orders")
        await stream.subscribe("ticker")
        response = await api.client("viewer").get("/api/v1/connections/stats")
        assert response.status_code == 200
        stats = response.json()
    assert stats["clients"] == 1
    assert stats["clients_by_role"] == {"viewer": 1}
    assert stats["subscriptions"]["orders"] == 1 and stats["subscriptions"]["alerts"] == 0
    assert stats["messages_sent"] >= 5
    assert stats["connections_total"] >= 1


async def test_broadcast_reaches_every_client_as_a_log_event(api: Any) -> None:
    payload = {"message": "Maintenance at 18:00", "level": "warning"}
    for role in ("viewer", "trader"):
        response = await api.client(role).post("/api/v1/connections/broadcast", json=payload)
        assert response.status_code == 403
    admin = api.client("admin")
    for body in ({"message": ""}, {"message": "hi", "extra": 1}, {"message": "x", "level": "loud"}):
        assert (await admin.post("/api/v1/connections/broadcast", json=body)).status_code == 422

    async with (
        connect(api.url, api.keys["viewer"]) as first,
        connect(api.url, api.keys["scoped"]) as second,
    ):
        await first.subscribe("orders")  # subscribed or not, a broadcast reaches everyone
        response = await admin.post("/api/v1/connections/broadcast", json=payload)
        assert response.status_code == 200
        assert response.json() == {"delivered": 2}
        for stream in (first, second):
            message = await stream.expect("event", "logs")
            event = EVENT.validate_python(message["data"])
            assert isinstance(event, LogEvent)
            assert event.record.level == "warning"
            assert "Maintenance at 18:00" in event.record.message


async def test_admin_disconnects_a_connection(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"]) as stream:
        connection_id = stream.seen[0]["data"]["connection_id"]
        path = f"/api/v1/connections/{connection_id}"
        assert (await api.client("trader").delete(path)).status_code == 403
        missing = await api.client("admin").delete("/api/v1/connections/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"

        response = await api.client("admin").delete(path)
        assert response.status_code == 200
        assert response.json()["id"] == connection_id
        code, reason = await stream.closed()
    assert code == 1008
    assert "administrator" in reason
    assert await _until_connections(api, 0) == []
    stats = (await api.client("admin").get("/api/v1/connections/stats")).json()
    assert stats["disconnects"]["admin"] == 1
