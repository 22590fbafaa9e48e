"""Job handlers by name: what each does, the pydantic model its arguments must
fit, and its defaults. Arguments are validated when a job is enqueued, so an
unknown handler or a bad argument is refused then, never a dead job later."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InvalidRequest, ValidationFailed
from engine.models import JobPriority

if TYPE_CHECKING:
    from engine.jobs.context import JobContext

HandlerFunc = Callable[["JobContext", Any], Awaitable[Any]]


class NoArgs(BaseModel):
    """For handlers that take no arguments."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Handler:
    """A named kind of job. `run(ctx, args)` gets the validated arguments and
    returns a JSON-able result. Delivery is at-least-once: `run` may run again
    for the same job after a crash, so it must be idempotent."""

    name: str
    run: HandlerFunc
    description: str
    args_model: type[BaseModel] = NoArgs
    priority: JobPriority = JobPriority.NORMAL
    timeout_seconds: float | None = None  # None: the queue's default
    max_retries: int | None = None  # None: the queue's default


class HandlerInfo(BaseModel):
    """A handler as `/jobs/handlers` lists it."""

    name: str
    description: str
    priority: JobPriority
    timeout_seconds: float | None
    max_retries: int | None
    args_schema: dict[str, Any] = Field(description="JSON Schema of the arguments")


class HandlerRegistry:
    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})

    def register(self, handler: Handler) -> Handler:
        if handler.name in self._handlers:
            raise ValueError(f"a job handler named {handler.name!r} is already registered")
        self._handlers[handler.name] = handler
        return handler

    def get(self, name: str) -> Handler:
        handler = self._handlers.get(name)
        if handler is None:
            known = ", ".join(sorted(self._handlers)) or "none"
            raise InvalidRequest(
                f"Unknown job handler {name!r}; known handlers: {known}.", handler=name
            )
        return handler

    def validate(self, name: str, args: Mapping[str, Any] | None) -> tuple[Handler, BaseModel]:
        """The handler and its parsed arguments; `ValidationFailed` names each bad one."""
        handler = self.get(name)
        try:
            parsed = handler.args_model.model_validate(dict(args or {}))
        except ValidationError as exc:
            issues = [
                {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
            problems = "; ".join(
                f"{i['path']}: {i['message']}" if i["path"] else i["message"] for i in issues
            )
            raise ValidationFailed(f"Invalid arguments for {name}: {problems}.", issues) from exc
        return handler, parsed

    def infos(self) -> list[HandlerInfo]:
        return [
            HandlerInfo(
                name=h.name,
                description=h.description,
                priority=h.priority,
                timeout_seconds=h.timeout_seconds,
                max_retries=h.max_retries,
                args_schema=h.args_model.model_json_schema(),
            )
            for h in sorted(self._handlers.values(), key=lambda h: h.name)
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[Handler]:
        return iter(self._handlers.values())
