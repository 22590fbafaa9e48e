"""The one interface the panel talks to.

`EngineClient` has two implementations: `LocalEngineClient` (below) calls an
in-process `Engine`; the remote one (issue 3) speaks REST + WebSocket. Every
screen works with both, so nothing here may assume the engine is local.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from config.issues import ValidationReport
from engine.models import Alert, Event, Snapshot, WorkerDetail, WorkerInfo

# Actions a client may be allowed to take; the remote client narrows them to
# what its token's role permits, and the panel disables the keys for the rest.
ACTIONS = frozenset(
    {
        "workers.start",
        "workers.stop",
        "workers.restart",
        "workers.start_all",
        "workers.stop_all",
        "alerts.acknowledge",
    }
)


class EventStream(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class EngineClient(Protocol):
    @property
    def description(self) -> str:
        """Where the engine is, for the header: 'local' or a URL."""
        ...

    @property
    def permissions(self) -> frozenset[str]:
        """The subset of `ACTIONS` this client may perform."""
        ...

    async def snapshot(self) -> Snapshot: ...

    def subscribe(self) -> EventStream:
        """A stream of every event from now on; a `ResyncEvent` in it means
        events were lost and the caller should take a new snapshot."""
        ...

    async def start_worker(self, account_id: str) -> WorkerInfo: ...

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo: ...

    async def restart_worker(self, account_id: str) -> WorkerInfo: ...

    async def start_all(self) -> list[WorkerInfo]: ...

    async def stop_all(self) -> int: ...

    async def validate_worker(self, account_id: str) -> ValidationReport: ...

    async def worker_detail(self, account_id: str) -> WorkerDetail: ...

    async def acknowledge_alert(self, alert_id: int) -> Alert: ...

    async def close(self) -> None: ...
