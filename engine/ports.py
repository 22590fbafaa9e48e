"""The ports many services share, as small protocols: the workers by account,
the event log, and the alert sink. A service declares any other port it needs
beside itself; the kernel (`engine.kernel`) hands each service its ports, and
no service sees the kernel or the facade.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from engine.models import Alert, Severity
from engine.workers.worker import Worker

LogLevel = Literal["debug", "info", "warning", "error"]


class WorkerDirectory(Protocol):
    """Every account's worker (`engine.workers.manager.WorkerManager`)."""

    @property
    def workers(self) -> Mapping[str, Worker]: ...

    def get(self, account_id: str) -> Worker: ...


class LogSink(Protocol):
    """A line in the event log and on the panel's log line (`Runtime.log`)."""

    def __call__(
        self, message: str, *, level: LogLevel = "info", account_id: str | None = None
    ) -> None: ...


class AlertSink(Protocol):
    """Raise and resolve alerts (`engine.alerts.AlertCenter`)."""

    def raise_alert(
        self,
        kind: str,
        severity: Severity,
        message: str,
        *,
        account_id: str | None = None,
        dedup_key: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Alert | None: ...

    def resolve_key(self, dedup_key: str) -> None: ...
