"""Rate limits on the API: per caller, per endpoint group, per endpoint where
one has its own limit, and per hour.

The caller is the API key or user behind the request's token, else the client
address; the group is the first path segment after `/api/v1` (`workers`,
`auth`, ...; a dialect's path shares its v1 twin's, see `paths`). An endpoint
named in `[server.rate_limits] endpoints` (`"POST /orders"`: submitting orders
apart from reading them) is counted against its own limit too, and every
request against the key's hourly allowance. Every limited response carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (the Unix
time the window turns) of the tightest of those; past a limit the answer is
429 `RATE_LIMITED` with `Retry-After` in seconds. Health, docs and metrics are
in no group and never limited.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.security.models import RateDecision
from engine.security.principal import Principal
from engine.security.service import Security


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = scope["app"].state.paths.group(scope["path"]) if scope["type"] == "http" else None
        if group is None:
            await self.app(scope, receive, send)
            return
        security: Security = scope["app"].state.security
        principal = await _caller(scope, security)
        subject = principal.rate_key if principal is not None else f"ip:{_address(scope)}"
        endpoint = (
            scope["app"].state.paths.endpoint(scope["method"], scope["path"])
            if security.settings.rate_limits.endpoints
            else None
        )
        decision: RateDecision = await security.rate_limit(
            subject, group, None if principal is None else principal.role, endpoint
        )
        headers = [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-reset", str(decision.reset).encode()),
        ]
        if not decision.allowed:
            await _refuse(scope, send, decision, headers)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_limits)


async def _caller(scope: Scope, security: Security) -> Principal | None:
    """The authenticated caller, if the token is valid; kept in the request's
    state for the audit log and for the route's role check, which reuses it
    instead of authenticating the token again."""
    headers = dict(scope.get("headers") or [])
    token = _token(headers)
    if token is None:
        return None
    principal = await security.authenticate(token)
    if principal is not None:
        scope.setdefault("state", {})["principal"] = principal
    return principal


def _token(headers: dict[bytes, bytes]) -> str | None:
    """As `deps.bearer_token`: `Authorization: Bearer` first, then `X-API-Key`."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def _per(window: int) -> str:
    return {60: "minute", 3600: "hour"}.get(window, f"{window} s")


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse(
    scope: Scope, send: Send, decision: RateDecision, headers: list[tuple[bytes, bytes]]
) -> None:
    request_id = scope.get("state", {}).get("request_id", "")
    body = json.dumps(
        {
            "error": {
                "code": "RATE_LIMITED",
                "message": f"Too many requests ({decision.limit} per {_per(decision.window)}); "
                f"retry in {decision.retry_after} s.",
                "details": {
                    "limit": decision.limit,
                    "window_seconds": decision.window,
                    "retry_after": decision.retry_after,
                },
            },
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(decision.retry_after).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
