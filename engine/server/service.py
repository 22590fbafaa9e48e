"""The API as one service an owner starts next to an engine: the headless
`tradedeck serve`, or the panel with `--serve`."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import ssl
from pathlib import Path
from typing import Any

from config.models import ServerSettings
from engine.engine import Engine
from engine.errors import EngineError
from engine.security.service import Security
from engine.server.app import create_app
from engine.server.server import ServerHandle

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


def listen(settings: ServerSettings) -> socket.socket:
    """Bind and listen on the configured address now, before anything trades,
    after checking the TLS files load: the socket is handed to uvicorn later.
    A failure is one sentence naming the address or the file."""
    check_tls(settings)
    host, port = settings.host, settings.port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise RefusedToStart(f"cannot listen on {host}:{port}: {error.strerror}") from error
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = (error.strerror or str(error)).lower()
        if error.errno == errno.EADDRINUSE:
            reason = "address already in use"
        raise RefusedToStart(f"cannot listen on {host}:{port}: {reason}") from error
    sock.set_inheritable(True)
    return sock


def check_tls(settings: ServerSettings) -> None:
    """Both TLS files or neither; when given, they must load as a pair."""
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise RefusedToStart("TLS needs both server.tls_cert and server.tls_key.")
    if settings.tls_cert and settings.tls_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
            raise RefusedToStart(
                f"cannot load the TLS certificate {settings.tls_cert} with the key "
                f"{settings.tls_key}: {str(reason).lower()}"
            ) from error


class ApiService:
    """`prepare` checks everything serving needs (the address, TLS, someone to
    let in when off loopback) before the engine starts; `start` serves."""

    def __init__(
        self,
        engine: Engine,
        settings: ServerSettings,
        *,
        secret_path: Path,
        sock: socket.socket | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.secret_path = secret_path
        self.security: Security | None = None
        self.handle: ServerHandle | None = None
        self.app: Any = None
        self._sock = sock

    @property
    def url(self) -> str:
        assert self.handle is not None
        scheme = "https" if self.settings.tls_cert else "http"
        return f"{scheme}://{self.settings.host}:{self.handle.port}"

    async def prepare(self) -> None:
        settings = self.settings
        check_tls(settings)
        security = await Security.open(
            self.engine.store, settings, secret_path=self.secret_path, clock=self.engine.clock
        )
        if not is_loopback(settings.host) and not security.has_credentials:
            await security.close()
            raise RefusedToStart(
                f"Refusing to serve on {settings.host}: no API key or user exists, so anyone "
                "who can reach the port would control the engine. Create one with "
                "'tradedeck keys create --role admin' or bind to 127.0.0.1."
            )
        self.security = security
        if self._sock is None:
            self._sock = listen(settings)

    async def start(self) -> None:
        if self.security is None:
            await self.prepare()
        assert self.security is not None
        settings = self.settings
        options: dict[str, Any] = {}
        if settings.tls_cert and settings.tls_key:
            options = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
        self.app = create_app(self.engine, self.security)
        self.handle = ServerHandle(
            self.app, settings.host, settings.port, sock=self._sock, **options
        )
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
        if self._sock is not None:
            self._sock.close()  # uvicorn closes the servers, not a socket it was given
            self._sock = None
        if self.security is not None:
            await self.security.close()  # the rate-limit counters, saved
            self.security = None
