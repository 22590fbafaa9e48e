"""The client side: the `EngineClient` protocol the panel (and any script)
talks to, with the in-process implementation (`local`) and the REST +
WebSocket one (`remote`). The engine's core imports nothing from here."""

from engine.client.base import (
    ACTION_ROLES,
    ACTIONS,
    EQUITY_POINTS,
    JOBS_PAGE,
    LOCAL_USER,
    RECENT_JOBS,
    SYSTEM_ACTIONS,
    EngineClient,
    EventStream,
)
from engine.client.local import LocalEngineClient

__all__ = [
    "ACTIONS",
    "ACTION_ROLES",
    "EQUITY_POINTS",
    "JOBS_PAGE",
    "LOCAL_USER",
    "RECENT_JOBS",
    "SYSTEM_ACTIONS",
    "EngineClient",
    "EventStream",
    "LocalEngineClient",
]
