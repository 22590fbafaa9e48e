"""Every mutation on the API (`/api/v1` and the dialects) reaches the audit log.

Routes that know what they did record it themselves (`deps.audited`, with a
meaningful action and target). For any other non-GET request, including those
refused before a route ran (401, 403, 422), this middleware records the method
and route template with the outcome: `ok` or the error code of the status. It
does so before the response leaves, so a client that got an answer can find
its entry.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.security.service import RequestAudit, Security, current_request
from engine.server.errors import CODE_BY_STATUS
from storage.errors import StorageError

log = logging.getLogger("tradedeck.api")

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in _READS
            or scope["app"].state.paths.group(scope["path"]) is None
        ):
            await self.app(scope, receive, send)
            return
        request = RequestAudit(request_id=scope.setdefault("state", {}).get("request_id"))
        token = current_request.set(request)

        async def send_after_audit(message: Message) -> None:
            if message["type"] == "http.response.start":
                await _record(scope, request, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_after_audit)
        except Exception:
            await _record(scope, request, 500)
            raise
        finally:
            current_request.reset(token)


async def _record(scope: Scope, request: RequestAudit, status: int) -> None:
    """The fallback entry, unless the route wrote its own."""
    if request.recorded:
        return
    security: Security = scope["app"].state.security
    route = _template(scope)
    outcome = "ok" if status < 400 else CODE_BY_STATUS.get(status, "INTERNAL_ERROR")
    try:
        await security.audit(
            scope["state"].get("principal"), f"{scope['method']} {route}", scope["path"], outcome
        )
    except StorageError as error:
        log.error("audit entry for %s %s not written: %s", scope["method"], scope["path"], error)


def _template(scope: Scope) -> str:
    """The route's template with the prefixes it was included under: FastAPI's
    `scope["route"]` carries its path without the application's include prefix
    (`/workers/{account_id}/stop` for `/api/v1/workers/x/stop`)."""
    path: str = scope["path"]
    route = getattr(scope.get("route"), "path", None)
    if not route:
        return path
    missing = path.rstrip("/").count("/") - route.rstrip("/").count("/")
    if missing <= 0:
        return route
    return "/".join(path.split("/")[: missing + 1]) + route
