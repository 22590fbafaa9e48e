"""The panel under test drives the real engine: the shared `engine_factory`
(virtual clock, seeded market, a temporary SQLite file, the demo accounts)
wrapped in `LocalEngineClient`, exactly as `tradedeck` wires it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from engine.client import LocalEngineClient
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import Alert, Severity

if TYPE_CHECKING:
    from tests.conftest import EngineFactory

# Virtual seconds of demo trading before the panel opens: enough for positions,
# filled orders and fills in every pane.
WARM_UP_SECONDS = 120


@pytest.fixture(autouse=True)
def stable_worker_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Worker ids are random per start; screenshots need the same ones every run."""
    rng = random.Random(7)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    yield


@pytest.fixture
async def engine(engine_factory: EngineFactory) -> Engine:
    engine = await engine_factory()
    assert isinstance(engine.clock, VirtualClock)
    await engine.clock.advance(WARM_UP_SECONDS)
    await engine.quiesce()
    # Mark every account at the final quotes: the periodic mark may have run
    # before the last fills were committed, so this makes the picture the same
    # on every run.
    engine.mark()
    await engine.quiesce()
    return engine


@pytest.fixture
def client(engine: Engine) -> LocalEngineClient:
    return LocalEngineClient(engine)


@pytest.fixture
def trade(engine: Engine) -> Callable[[float], Awaitable[None]]:
    """Let the demo trade for some virtual seconds, then settle the store."""

    async def trade_(seconds: float) -> None:
        assert isinstance(engine.clock, VirtualClock)
        await engine.clock.advance(seconds)
        await engine.quiesce()

    return trade_


@pytest.fixture
def raise_alert(engine: Engine) -> Callable[..., Alert]:
    """Raise a real alert through the engine's alert centre (as a breached limit would)."""

    def raise_(message: str, *, account_id: str = "account-001", key: str | None = None) -> Alert:
        alert = engine.alerts.raise_alert(
            "risk_limit", Severity.HIGH, message, account_id=account_id, dedup_key=key
        )
        assert alert is not None
        return alert

    return raise_
