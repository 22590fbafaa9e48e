"""The WebSocket stream's wire format (SPEC 7): what clients may send, and the
server's messages as frames serialised once and stamped with a per-connection
`seq` by plain string building.

Server message: `{"type": T, "channel": C, "seq": N, "ts": "...", "data": {...}}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.models import Event

MessageType = Literal["ack", "snapshot", "event", "heartbeat", "resync", "error"]

# Error codes a client can see in an `error` message.
INVALID_JSON = "INVALID_JSON"
INVALID_REQUEST = "INVALID_REQUEST"
UNKNOWN_ACTION = "UNKNOWN_ACTION"
UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
FORBIDDEN = "FORBIDDEN"
INTERNAL_ERROR = "INTERNAL_ERROR"

# Close codes (RFC 6455 and the IANA registry).
CLOSE_GOING_AWAY = 1001  # the server shuts down
CLOSE_POLICY = 1008  # failed authentication, abuse, an administrator's disconnect
CLOSE_TOO_BIG = 1009  # a frame over ws_max_size (uvicorn sends it itself)
CLOSE_TRY_LATER = 1013  # the client fell behind for good; it may reconnect and resync


class Frame:
    """One server message without its `seq`. Events are serialised lazily, on
    the first client that sends them, and that text is reused for every other
    client; a conflated quote that no client ever sent is never serialised."""

    __slots__ = ("_data", "_event", "_head", "_shaped", "_tail", "_ts", "channel", "type")

    def __init__(
        self,
        type_: MessageType,
        channel: str | None,
        time: datetime,
        data: Any = None,
        *,
        event: Event | None = None,
    ) -> None:
        self.type = type_
        self.channel = channel
        self._head = f'{{"type":"{type_}","channel":{json.dumps(channel)},"seq":'
        self._ts = time
        self._data = data
        self._event = event
        self._tail: str | None = None
        self._shaped: dict[str, str | None] | None = None

    @classmethod
    def for_event(cls, channel: str, event: Event) -> Frame:
        return cls("event", channel, event.time, event=event)

    def render(self, seq: int) -> str:
        tail = self._tail
        if tail is None:
            tail = self._tail = self._build_tail()
        return self._head + str(seq) + tail

    def _build_tail(self) -> str:
        if self._event is not None:
            data = self._event.model_dump_json()
        else:
            data = pydantic_core.to_json(self._data if self._data is not None else {}).decode()
        ts = pydantic_core.to_json(self._ts).decode()
        return f',"ts":{ts},"data":{data}}}'

    @property
    def time(self) -> datetime:
        return self._ts

    @property
    def event(self) -> Event | None:
        return self._event

    @property
    def data(self) -> Any:
        return self._data

    def shaped(self, framing: Framing) -> str | None:
        """The frame in another API's words (`framing.shape`), serialised once
        per framing however many clients speak it; None: not sent to them."""
        shaped = self._shaped
        if shaped is None:
            shaped = self._shaped = {}
        try:
            return shaped[framing.name]
        except KeyError:
            message = framing.shape(self)
            text = None if message is None else pydantic_core.to_json(message).decode()
            shaped[framing.name] = text
            return text


class Framing:
    """A seed's wire format for the same frames: `shape` maps a frame to the
    message that API's clients expect (None to leave it out). Its messages
    carry no `seq`."""

    def __init__(self, name: str, shape: Callable[[Frame], dict[str, Any] | None]) -> None:
        self.name = name
        self.shape = shape


# --- client messages ------------------------------------------------------------


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=128, description="echoed in the ack")


class Auth(_Action):
    action: Literal["auth"]
    token: str = Field(min_length=1, max_length=4096)


class Subscribe(_Action):
    action: Literal["subscribe", "unsubscribe", "snapshot"]
    channel: str = Field(min_length=1, max_length=64)
    accounts: list[str] | None = Field(default=None, max_length=1000)
    symbols: list[str] | None = Field(default=None, max_length=1000)


class Ping(_Action):
    action: Literal["ping"]


ClientMessage = Auth | Subscribe | Ping

_MODELS: dict[str, type[Auth] | type[Subscribe] | type[Ping]] = {
    "auth": Auth,
    "subscribe": Subscribe,
    "unsubscribe": Subscribe,
    "snapshot": Subscribe,
    "ping": Ping,
}
ACTIONS = tuple(_MODELS)


class ProtocolError(Exception):
    """A message the server cannot act on; it answers with an `error` message."""

    def __init__(
        self, code: str, message: str, *, channel: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.channel = channel
        self.id = id

    def data(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "id": self.id}


def parse(text: str) -> ClientMessage:
    """A client's text frame as one of the actions, or `ProtocolError` naming the problem."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(INVALID_JSON, f"The message is not valid JSON: {exc}.") from None
    if not isinstance(raw, dict):
        raise ProtocolError(INVALID_REQUEST, "A message must be a JSON object.")
    ident = raw.get("id") if isinstance(raw.get("id"), str) else None
    action = raw.get("action")
    if action is None:
        raise ProtocolError(INVALID_REQUEST, "The message has no 'action'.", id=ident)
    model = _MODELS.get(action) if isinstance(action, str) else None
    if model is None:
        raise ProtocolError(
            UNKNOWN_ACTION,
            f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}.",
            id=ident,
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise ProtocolError(
            INVALID_REQUEST,
            f"{path}: {first['msg']}" if path else first["msg"],
            channel=raw.get("channel") if isinstance(raw.get("channel"), str) else None,
            id=ident,
        ) from None
