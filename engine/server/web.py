"""The panel in a browser (`tradedeck serve --web`): textual-serve runs one
remote panel (`tradedeck connect`) per browser session, on its own port.

Nothing is served before a login: `/` is a sign-in page (an API key, or a
user name and password), checked by the API's own security service; a good
one opens a session (an HttpOnly, SameSite=Strict cookie) and `/panel` the
terminal page, whose WebSocket starts the panel process with the session's
credential in its environment (never on its command line). Each session's
panel is a client of the API under those credentials, so a viewer's panel
can look but every action it tries is refused. A user's session lasts as
long as the access token login gave it (`[server] access_token_minutes`); a
key's, `SESSION_HOURS`. Failed sign-ins are limited per address.
"""

from __future__ import annotations

import html
import logging
import secrets
import shlex
import socket
import ssl
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from engine.security.principal import Principal

log = logging.getLogger("tradedeck.web")

COOKIE = "tradedeck_panel"
SESSION_HOURS = 8
FAILED_LOGINS = 10  # per address per minute


@dataclass
class Session:
    token: str
    principal: Principal
    expires: float  # time.monotonic()


class _PanelProcess(AppService):
    """textual-serve's process manager, with the session's credential in the
    panel's environment."""

    def __init__(self, *args: Any, token: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token = token

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment["TRADEDECK_TOKEN"] = self._token
        return environment


class PanelWeb(Server):
    """textual-serve's server behind a sign-in: its terminal page, statics and
    WebSocket protocol, our sessions and process command."""

    def __init__(
        self,
        security: Any,
        api_url: str,
        sock: socket.socket,
        public_url: str,
        *,
        tls: tuple[Path | None, Path | None] = (None, None),
    ) -> None:
        host, port = sock.getsockname()[:2]
        command = f"{shlex.quote(sys.executable)} -m tui.cli connect {shlex.quote(api_url)}"
        super().__init__(command, host=host, port=port, title="tradedeck", public_url=public_url)
        self.security = security
        self.sock = sock
        self.sessions: dict[str, Session] = {}
        self.panels = 0  # started since the server began
        self._failures: dict[str, deque[float]] = {}
        self._runner: web.AppRunner | None = None
        self._ssl: ssl.SSLContext | None = None
        if tls[0] is not None and tls[1] is not None:  # the API's files, checked at start-up
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ssl.load_cert_chain(tls[0], tls[1])
        self._login_page = (Path(__file__).parent / "web_login.html").read_text(encoding="utf-8")

    async def start(self) -> None:
        app = await self._make_app()
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock, ssl_context=self._ssl).start()
        log.info("panel served on %s", self.public_url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_login_page, name="login"),
                web.post("/login", self.handle_login, name="sign_in"),
                web.post("/logout", self.handle_logout, name="logout"),
                web.get("/panel", self.handle_panel, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        return app

    async def on_startup(self, app: web.Application) -> None:  # textual-serve prints a logo
        return

    # --- sign-in ----------------------------------------------------------------

    def _page(self, message: str = "", status: int = 200) -> web.Response:
        error = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        body = self._login_page.replace("{{ error }}", error)
        return web.Response(text=body, status=status, content_type="text/html")

    async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
        if self._session(request) is not None:
            raise web.HTTPSeeOther("/panel")
        return self._page()

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or "unknown"
        if self._failed_recently(address) >= FAILED_LOGINS:
            return self._page("Too many failed sign-ins; wait a minute.", 429)
        form = await request.post()
        key = str(form.get("key", "")).strip()
        user = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        token, principal, lifetime = await self._check(key, user, password, address)
        if principal is None:
            self._failures.setdefault(address, deque()).append(time.monotonic())
            return self._page("Wrong credentials.", 401)
        session_id = secrets.token_urlsafe(32)
        self.sessions[session_id] = Session(token, principal, time.monotonic() + lifetime)
        response = web.HTTPSeeOther("/panel")
        response.set_cookie(
            COOKIE,
            session_id,
            httponly=True,
            samesite="Strict",
            secure=self.public_url.startswith("https"),
            max_age=int(lifetime),
        )
        raise response

    async def _check(
        self, key: str, user: str, password: str, address: str
    ) -> tuple[str, Principal | None, float]:
        if key:
            return key, await self.security.authenticate(key), SESSION_HOURS * 3600.0
        if not user or not password:
            return "", None, 0.0
        try:
            pair = await self.security.login(user, password, address)
        except Exception:  # wrong password, unknown user, too many tries: all the same here
            return "", None, 0.0
        principal = await self.security.authenticate(pair.access_token)
        return pair.access_token, principal, float(pair.expires_in)

    def _failed_recently(self, address: str) -> int:
        failures = self._failures.get(address)
        if not failures:
            return 0
        while failures and failures[0] < time.monotonic() - 60:
            failures.popleft()
        return len(failures)

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)
        response = web.HTTPSeeOther("/")
        response.del_cookie(COOKIE)
        raise response

    def _session(self, request: web.Request) -> Session | None:
        session_id = request.cookies.get(COOKIE)
        session = self.sessions.get(session_id or "")
        if session is None:
            return None
        if session.expires < time.monotonic():
            del self.sessions[session_id or ""]
            return None
        return session

    # --- the panel --------------------------------------------------------------

    async def handle_panel(self, request: web.Request) -> web.StreamResponse:
        if self._session(request) is None:
            raise web.HTTPSeeOther("/")
        page: web.StreamResponse = await super().handle_index(request)
        return page

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            raise web.HTTPForbidden(text="Sign in first.")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        panel = _PanelProcess(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            token=session.token,
        )
        self.panels += 1
        log.info("panel %s opened for %s", panel.app_service_id, session.principal.name)
        try:
            await panel.start(width, height)
            await self._process_messages(websocket, panel)
        finally:
            await panel.stop()
            log.info("panel %s closed", panel.app_service_id)
        return websocket


def _int(value: str | None, default: int) -> int:
    try:
        return max(10, min(1000, int(value or default)))
    except ValueError:
        return default
