"""The built-in job handlers, each doing real work on the engine."""

from __future__ import annotations

from engine.jobs.handlers import optimize, purge, reconcile, report, snapshot
from engine.jobs.registry import HandlerRegistry

BUILTIN = (
    reconcile.HANDLER,
    snapshot.HANDLER,
    report.HANDLER,
    purge.HANDLER,
    optimize.HANDLER,
)


def builtin_handlers() -> HandlerRegistry:
    """A registry with the built-in handlers; more can be registered on it."""
    registry = HandlerRegistry()
    for handler in BUILTIN:
        registry.register(handler)
    return registry
