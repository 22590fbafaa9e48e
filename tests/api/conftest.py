"""The API under test: the demo engine (virtual clock) served by a real uvicorn
on 127.0.0.1, with an API key for every role and one limited to an account.

Rate limits here are high so that suites making many requests (schemathesis)
are never throttled; the rate-limit tests build their own server with small
limits through `api_factory`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.models import RateLimitSettings, ServerSettings
from engine.engine import Engine
from engine.security.principal import Role
from engine.security.service import Security
from engine.server.app import create_app
from engine.server.server import ServerHandle
from tests.conftest import EngineFactory

GENEROUS = RateLimitSettings(
    default=1_000_000, groups={}, endpoints={}, hourly=None, login_attempts=1_000
)
SCOPED_ACCOUNT = "account-001"


@dataclass
class Api:
    engine: Engine
    security: Security
    app: Any
    handle: ServerHandle
    secret_path: Path
    keys: dict[str, str]
    _clients: list[httpx.AsyncClient] = field(default_factory=list)
    _closed: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.handle.port}"

    def client(self, role: str | None = None, **options: Any) -> httpx.AsyncClient:
        """A client with the key of `role` ("viewer", "trader", "admin", "scoped"),
        or without credentials; closed when the test ends."""
        headers = {"X-API-Key": self.keys[role]} if role is not None else {}
        client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10.0, **options)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        """Clients, stream, server, then the security service (its counters saved)."""
        if self._closed:
            return
        self._closed = True
        for client in self._clients:
            await client.aclose()
        await self.app.state.hub.close()
        await self.handle.stop()
        await self.security.close()


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def api_factory(engine_factory: EngineFactory, tmp_path: Path) -> AsyncIterator[ApiFactory]:
    """Build an `Api` on a started demo engine; `server` replaces `[server]`
    settings (e.g. `rate_limits=...`), `engine` serves an existing engine."""
    served: list[Api] = []

    async def make(engine: Engine | None = None, **server: Any) -> Api:
        engine = engine or await engine_factory()
        settings: ServerSettings = engine.settings.server.model_copy(
            update={"rate_limits": GENEROUS, **server}
        )
        secret_path = tmp_path / "jwt.secret"
        security = await Security.open(
            engine.store, settings, secret_path=secret_path, clock=engine.clock
        )
        keys: dict[str, str] = {}
        for role in Role:
            _, keys[role.value] = await security.create_key(role=role, name=f"test-{role.value}")
        _, keys["scoped"] = await security.create_key(
            role=Role.TRADER, name="test-scoped", accounts=[SCOPED_ACCOUNT]
        )
        app = create_app(engine, security)
        handle = ServerHandle(app, "127.0.0.1", 0)
        await handle.start()
        api = Api(engine, security, app, handle, secret_path, keys)
        served.append(api)
        return api

    yield make
    for api in reversed(served):
        await api.close()


@pytest.fixture
async def api(api_factory: ApiFactory) -> Api:
    return await api_factory()
