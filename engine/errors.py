"""Domain errors, each with a stable code. The API maps codes to HTTP statuses
and the panel shows `message` as it is, so messages are plain sentences."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    code = "ENGINE_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(EngineError):
    code = "NOT_FOUND"


class WorkerNotFound(NotFound):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"No account named {account_id!r} is configured.", account_id=account_id)


class AlertNotFound(NotFound):
    def __init__(self, alert_id: int) -> None:
        super().__init__(f"No alert with id {alert_id}.", alert_id=alert_id)


class Conflict(EngineError):
    """The request is valid but the current state does not allow it."""

    code = "CONFLICT"


class InvalidRequest(EngineError):
    code = "INVALID_REQUEST"


class ValidationFailed(InvalidRequest):
    def __init__(self, message: str, issues: list[dict[str, Any]]) -> None:
        super().__init__(message, issues=issues)


class OrderRejected(EngineError):
    """An order refused before or by the broker, with MT5's retcode."""

    code = "ORDER_REJECTED"

    def __init__(self, retcode: int, message: str, **details: Any) -> None:
        super().__init__(message, retcode=retcode, **details)
        self.retcode = retcode


class Unavailable(EngineError):
    code = "SERVICE_UNAVAILABLE"
