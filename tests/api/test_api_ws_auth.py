"""Stream authentication (SPEC 7): the Authorization header, a first `auth`
message, or a single-use ticket; never a long-lived token in the URL; every
failure closes with 1008."""

from __future__ import annotations

from typing import Any

import websockets

from tests.api.ws_support import Stream, connect, ws_url

POLICY = 1008


async def test_header_auth_is_welcomed_with_the_principal(api: Any) -> None:
    async with connect(api.url, api.keys["viewer"], welcome=False) as stream:
        welcome = await stream.recv()
    assert welcome["type"] == "ack" and welcome["seq"] == 1
    data = welcome["data"]
    assert data["action"] == "auth" and data["role"] == "viewer"
    assert data["accounts"] is None
    assert {"orders", "ticker", "workers", "logs"} <= set(data["channels"])
    assert data["connection_id"]


async def test_x_api_key_header_is_accepted_too(api: Any) -> None:
    headers = {"X-API-Key": api.keys["trader"]}
    async with websockets.connect(ws_url(api.url), additional_headers=headers) as ws:
        welcome = await Stream(ws).recv()
    assert welcome["data"]["role"] == "trader"


async def test_first_message_auth(api: Any) -> None:
    async with connect(api.url, welcome=False) as stream:
        await stream.send(action="auth", token=api.keys["scoped"], id="hello")
        welcome = await stream.recv()
        assert welcome["type"] == "ack"
        assert welcome["data"]["id"] == "hello"
        assert welcome["data"]["role"] == "trader"
        assert welcome["data"]["accounts"] == ["account-001"]
        # Authenticated once is enough; a second auth is an error, not a re-login.
        await stream.send(action="auth", token=api.keys["admin"])
        error = await stream.expect("error")
        assert error["data"]["code"] == "INVALID_REQUEST"


async def test_a_ticket_opens_the_stream_once(api: Any) -> None:
    anonymous = await api.client().post("/api/v1/ws/ticket")
    assert anonymous.status_code == 401

    response = await api.client("viewer").post("/api/v1/ws/ticket")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["expires_in"] == 30
    assert body["path"] == f"/api/v1/ws?ticket={body['ticket']}"

    query = f"ticket={body['ticket']}"
    async with connect(api.url, query=query, welcome=False) as stream:
        welcome = await stream.recv()
        assert welcome["data"]["role"] == "viewer"
    async with connect(api.url, query=query, welcome=False) as stream:
        code, reason = await stream.closed()
    assert code == POLICY
    assert "ticket" in reason.lower()


async def test_failed_authentication_closes_with_1008(api: Any) -> None:
    async with connect(api.url, "tdk_nope_nope", welcome=False) as stream:
        assert (await stream.closed())[0] == POLICY

    async with connect(api.url, welcome=False) as stream:
        await stream.send(action="auth", token="tdk_nope_nope")
        assert (await stream.closed())[0] == POLICY

    async with connect(api.url, query="ticket=made-up", welcome=False) as stream:
        assert (await stream.closed())[0] == POLICY

    # Anything but an auth message first is refused before it is read as a request.
    async with connect(api.url, welcome=False) as stream:
        await stream.send(action="subscribe", channel="orders")
        code, reason = await stream.closed()
    assert code == POLICY and "auth" in reason
    assert stream.seen == []


async def test_a_long_lived_token_in_the_url_is_refused(api: Any) -> None:
    for name in ("token", "api_key", "access_token"):
        query = f"{name}={api.keys['admin']}"
        async with connect(api.url, query=query, welcome=False) as stream:
            code, reason = await stream.closed()
        assert code == POLICY
        assert "URL" in reason
        assert stream.seen == []


async def test_no_authentication_in_time_closes_with_1008(api_factory: Any) -> None:
    api = await api_factory(ws_auth_timeout_seconds=0.2)
    async with connect(api.url, welcome=False) as stream:
        code, reason = await stream.closed()
    assert code == POLICY
    assert "time" in reason
    stats = api.app.state.hub.stats()
    assert stats["auth_failures"] == 1 and stats["clients"] == 0
