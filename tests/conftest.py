"""Fixtures shared by every test package: a deterministic real engine.

`engine_factory` builds the real `Engine` on a temporary SQLite file with a
virtual clock and the seeded demo market, so tests (the panel's included) see
the same prices, orders and times on every run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from engine.clock import VirtualClock

if TYPE_CHECKING:
    from config.models import Settings
    from engine.engine import Engine

FROZEN_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class EngineFactory(Protocol):
    def __call__(
        self,
        settings: Settings | None = None,
        *,
        db_path: Path | None = None,
        clock: VirtualClock | None = None,
        start: bool = True,
        run_loops: bool = True,
    ) -> Awaitable[Engine]: ...


@pytest.fixture
def demo_settings() -> Settings:
    from config.loader import load_settings

    return load_settings(None, env={})


@pytest.fixture
async def engine_factory(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    from config.loader import load_settings
    from engine.engine import Engine

    engines: list[Engine] = []

    async def make(
        settings: Settings | None = None,
        *,
        db_path: Path | None = None,
        clock: VirtualClock | None = None,
        start: bool = True,
        run_loops: bool = True,
    ) -> Engine:
        engine = await Engine.open(
            settings or load_settings(None, env={}),
            db_path or tmp_path / "engine.db",
            clock or VirtualClock(FROZEN_START),
        )
        engines.append(engine)
        if start:
            await engine.start(run_loops=run_loops)
        return engine

    yield make
    for engine in engines:
        await engine.close()
