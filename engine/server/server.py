"""uvicorn inside the engine's event loop, polite to the terminal it shares.

`uvicorn.Server` normally installs its own signal handlers and logs to the
console; under the panel both would break the screen. `ApiServer` leaves the
process's signals alone and is stopped with `should_exit`.

WebSocket compression (permessage-deflate) is off: it compresses every
message once per client, undoing "serialised once for all clients", and
roughly doubles the cost of each send for small JSON messages. A deployment
that wants it passes `ws_per_message_deflate=True`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn


class ApiServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return


class ServerHandle:
    """Start the API as a task of the current loop; stop it gracefully."""

    def __init__(
        self, app: Any, host: str, port: int, *, sock: socket.socket | None = None, **options: Any
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws_max_size=64 * 1024,
            timeout_graceful_shutdown=5,
            **{"ws_per_message_deflate": False, **options},
        )
        self.server = ApiServer(config)
        # A socket bound before the engine started (see `engine.server.service.listen`).
        self._sockets = None if sock is None else [sock]
        self._task: asyncio.Task[None] | None = None
        self._bound: int | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(
            self.server.serve(sockets=self._sockets), name="api:uvicorn"
        )
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.01)
        self._bound = _bound_port(self.server)

    @property
    def port(self) -> int:
        """The port the server is (or, after `stop`, was) bound to: with port
        0 that is the one the system chose, which a restart on the same port
        needs after the sockets are gone."""
        if self._bound is None:
            raise RuntimeError("the API server has not started, so it has no port yet")
        return self._bound

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


def _bound_port(server: uvicorn.Server) -> int:
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    # Started on a socket uvicorn did not open itself: the configured port.
    return int(server.config.port)
