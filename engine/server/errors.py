"""One error envelope for every failure, mapped once from domain errors:

{"error": {"code": "NOT_FOUND", "message": "...", "details": {...}}, "request_id": "..."}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import EngineError

log = logging.getLogger("tradedeck.api")

STATUS_BY_CODE: dict[str, int] = {
    "INVALID_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "ORDER_REJECTED": 422,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}
CODE_BY_STATUS: dict[int, str] = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "INVALID_REQUEST",
    409: "CONFLICT",
    413: "INVALID_REQUEST",
    415: "INVALID_REQUEST",
    422: "INVALID_REQUEST",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(EngineError):
    """An error raised by the API layer itself (auth, rate limits) with its status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.status = status
        self.code = code
        self.headers = headers or {}


def envelope(request: Request, code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": {"code": code, "message": message, "details": details},
        "request_id": getattr(request.state, "request_id", ""),
    }
    # A dialect with the seed's envelope (`status`, `timestamp`) on its errors too.
    state = request.app.state
    path = request.url.path + "/"
    if any(path.startswith(prefix) for prefix in getattr(state, "enveloped", ())):
        body = {"status": "error", **body, "timestamp": state.engine.clock.now().isoformat()}
    return body


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = envelope(request, exc.code, exc.message, exc.details)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError) -> JSONResponse:
        status = STATUS_BY_CODE.get(exc.code, 400)
        code = exc.code if exc.code in STATUS_BY_CODE else "INVALID_REQUEST"
        return JSONResponse(envelope(request, code, exc.message, exc.details), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "path": ".".join(str(part) for part in error["loc"]),
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors()
        ]
        first = fields[0] if fields else {"path": "", "message": "invalid request"}
        message = f"{first['path']}: {first['message']}" if first["path"] else first["message"]
        return JSONResponse(
            envelope(request, "INVALID_REQUEST", message, {"fields": fields}), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_BY_STATUS.get(exc.status_code, "INTERNAL_ERROR")
        return JSONResponse(
            envelope(request, code, str(exc.detail), {}),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return JSONResponse(
            envelope(request, "INTERNAL_ERROR", "An internal error occurred.", {}), status_code=500
        )
