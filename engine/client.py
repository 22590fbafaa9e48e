"""The one interface the panel talks to.

`EngineClient` has two implementations: `LocalEngineClient` (below) calls an
in-process `Engine`; the remote one (issue 3) speaks REST + WebSocket. Every
screen works with both, so nothing here may assume the engine is local.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from config.issues import ValidationReport
from engine.models import Alert, Event, Snapshot, WorkerDetail, WorkerInfo

if TYPE_CHECKING:
    from engine.engine import Engine

# Actions a client may be allowed to take, each with the least API role that
# may take it; the remote client narrows them to what its token's role
# permits, and the panel disables the keys for the rest, naming the role.
ACTION_ROLES: dict[str, str] = {
    "workers.start": "trader",
    "workers.stop": "trader",
    "workers.restart": "trader",
    "workers.start_all": "trader",
    "workers.stop_all": "trader",
    "alerts.acknowledge": "trader",
}
ACTIONS = frozenset(ACTION_ROLES)


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

    @property
    def connected(self) -> bool:
        """Whether events are flowing; False while a remote link reconnects."""
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


class LocalEngineClient:
    """The panel's view of an engine in the same process: direct calls, and the
    bus for events. The local panel is the owner at the terminal: every action
    is permitted."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def description(self) -> str:
        return "local"

    @property
    def permissions(self) -> frozenset[str]:
        return ACTIONS

    @property
    def connected(self) -> bool:
        return True

    async def snapshot(self) -> Snapshot:
        return self._engine.snapshot()

    def subscribe(self) -> EventStream:
        return self._engine.subscribe()

    async def start_worker(self, account_id: str) -> WorkerInfo:
        return await self._engine.start_worker(account_id)

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        return await self._engine.stop_worker(account_id, timeout)

    async def restart_worker(self, account_id: str) -> WorkerInfo:
        return await self._engine.restart_worker(account_id)

    async def start_all(self) -> list[WorkerInfo]:
        return await self._engine.start_all()

    async def stop_all(self) -> int:
        return await self._engine.stop_all()

    async def validate_worker(self, account_id: str) -> ValidationReport:
        return self._engine.validate_worker(account_id)

    async def worker_detail(self, account_id: str) -> WorkerDetail:
        return await self._engine.worker_detail(account_id)

    async def acknowledge_alert(self, alert_id: int) -> Alert:
        return await self._engine.acknowledge_alert(alert_id)

    async def close(self) -> None:
        """The engine's owner (the CLI) closes the engine; the client holds nothing."""
