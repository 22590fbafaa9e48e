"""The API as one service an owner starts next to an engine: the headless
`tradedeck serve`, or the panel with `--serve`."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from config.models import ServerSettings
from engine.api.app import create_app
from engine.api.server import ServerHandle
from engine.engine import Engine
from engine.errors import EngineError
from engine.security.service import Security

log = logging.getLogger("tradedeck.api")


class RefusedToStart(EngineError):
    code = "INVALID_REQUEST"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiService:
    def __init__(self, engine: Engine, settings: ServerSettings, *, secret_path: Path) -> None:
        self.engine = engine
        self.settings = settings
        self.secret_path = secret_path
        self.security: Security | None = None
        self.handle: ServerHandle | None = None
        self.app: Any = None

    @property
    def url(self) -> str:
        assert self.handle is not None
        scheme = "https" if self.settings.tls_cert else "http"
        return f"{scheme}://{self.settings.host}:{self.handle.port}"

    async def start(self) -> None:
        settings = self.settings
        self.security = await Security.open(
            self.engine.store, settings, secret_path=self.secret_path, clock=self.engine.clock
        )
        if not is_loopback(settings.host) and not self.security.has_credentials:
            raise RefusedToStart(
                f"Refusing to serve on {settings.host}: no API key or user exists, so anyone "
                "who can reach the port would control the engine. Create one with "
                "'tradedeck keys create --role admin' or bind to 127.0.0.1."
            )
        if bool(settings.tls_cert) != bool(settings.tls_key):
            raise RefusedToStart("TLS needs both server.tls_cert and server.tls_key.")
        options: dict[str, Any] = {}
        if settings.tls_cert and settings.tls_key:
            options = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
        self.app = create_app(self.engine, self.security)
        self.handle = ServerHandle(self.app, settings.host, settings.port, **options)
        await self.handle.start()
        log.info("API serving on %s", self.url)

    async def stop(self) -> None:
        """WebSocket clients first, then the HTTP server."""
        hub = getattr(self.app.state, "hub", None) if self.app is not None else None
        if hub is not None:
            await hub.close()
        if self.handle is not None:
            await self.handle.stop()
            self.handle = None
