"""A started demo engine with its job queue, on a virtual clock, with the
test's own handlers registered and, unless asked, no default schedules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from engine.clock import VirtualClock
from engine.engine import Engine
from engine.jobs import Handler
from tests.conftest import EngineFactory

JobsEngine = Callable[..., Awaitable[Engine]]


@pytest.fixture
def jobs_engine(engine_factory: EngineFactory, demo_settings: Any) -> JobsEngine:
    async def make(
        *handlers: Handler,
        settings: Any = None,
        db_path: Path | None = None,
        clock: VirtualClock | None = None,
        keep_schedules: bool = False,
        **jobs: Any,
    ) -> Engine:
        settings = (settings or demo_settings).model_copy(deep=True)
        if not keep_schedules:
            jobs["schedules"] = []
        settings.jobs = settings.jobs.model_copy(update=jobs)
        engine = await engine_factory(settings, db_path=db_path, clock=clock, start=False)
        for handler in handlers:
            engine.jobs.registry.register(handler)
        await engine.start(run_loops=False)
        return engine

    return make
