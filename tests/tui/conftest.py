"""The panel under test drives the real engine: the shared `engine_factory`
(virtual clock, seeded market, a temporary SQLite file, the demo accounts),
through each `EngineClient` as `tradedeck` wires it: `LocalEngineClient`
in the same process, and `RemoteEngineClient` over a real API server on
127.0.0.1 serving that same engine. Every test that takes `client` runs
against both."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.client import EngineClient, LocalEngineClient
from engine.client.remote import RemoteEngineClient
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import Alert, Severity
from engine.security.principal import Role
from engine.server.service import ApiService

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


@pytest.fixture(params=["local", "remote"])
async def client(
    request: pytest.FixtureRequest, engine: Engine, tmp_path: Path
) -> AsyncIterator[EngineClient]:
    """The engine as the panel sees it: in process, or over the API with a
    trader's key (everything the panel does is a trader's action)."""
    if request.param == "local":
        yield LocalEngineClient(engine)
        return
    settings = engine.settings.server.model_copy(update={"port": 0})
    service = ApiService(engine, settings, secret_path=tmp_path / "jwt.secret")
    await service.start()
    assert service.security is not None
    _, key = await service.security.create_key(role=Role.TRADER, name="panel-tests")
    remote = RemoteEngineClient(service.url, key)
    try:
        await remote.connect()
        yield remote
    finally:
        await remote.close()
        await service.stop()


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
