"""A read-only panel (`--read-only`): any client with every mutating action
off. Its permissions are empty, so the panel shows every action key disabled
and says why when one is pressed; a mutating call that gets here anyway is
refused before it reaches the engine. The description carries the mark the
header shows. Over a viewer's key the server refuses them as well."""

from __future__ import annotations

from typing import Any

from engine.client.base import EngineClient
from engine.errors import EngineError

# The client's calls that change something (their actions are ACTION_ROLES').
MUTATING = frozenset(
    {
        "start_worker",
        "stop_worker",
        "restart_worker",
        "start_all",
        "stop_all",
        "acknowledge_alert",
        "place_order",
        "cancel_order",
        "close_position",
        "flatten",
        "pause_strategy",
        "resume_strategy",
        "engage_kill_switch",
        "clear_kill_switch",
        "set_mode",
        "retry_job",
        "cancel_job",
        "run_schedule",
        "enable_schedule",
        "disable_schedule",
        "deploy_model",
    }
)


class ReadOnly(EngineError):
    code = "FORBIDDEN"


class ReadOnlyClient:
    read_only = True

    def __init__(self, inner: EngineClient) -> None:
        self._inner = inner

    @property
    def inner(self) -> EngineClient:
        return self._inner

    @property
    def description(self) -> str:
        return f"{self._inner.description}  read-only"

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset()

    def __getattr__(self, name: str) -> Any:
        if name in MUTATING:
            return _refuse(name)
        return getattr(self._inner, name)


def _refuse(name: str) -> Any:
    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise ReadOnly(f"This panel is read-only (--read-only): {name.replace('_', ' ')} is off.")

    return refused
