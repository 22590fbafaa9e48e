"""The parent's side of the bridge: spawn the child, call the terminal with a
timeout, one call at a time, and kill the child when it stops answering.

A call that times out cannot be taken back inside the child (the terminal may
still be working on it), so the child is killed: the next call finds the
bridge down and the broker reconnects with a fresh one. A bridge to an
mt5linux server first checks, without blocking the event loop, that the
server accepts a connection, so an unreachable one is named as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import deque
from pathlib import Path
from typing import Any

from engine.errors import Unavailable

BRIDGE_SCRIPT = Path(__file__).with_name("bridge.py")
_READY_TIMEOUT = 30.0
_STDERR_LINES = 20
_LINE_LIMIT = 64 * 1024 * 1024  # a day of deals is a long line


class BridgeDown(Unavailable):
    """The bridge process is gone or cannot be started: a request was not sent."""


class BridgeLost(BridgeDown):
    """The request was sent but its answer never came: it may have been carried out."""


class BridgeTimeout(BridgeLost):
    """The terminal did not answer in time; the bridge was killed."""


class Bridge:
    """One child process speaking to one terminal."""

    def __init__(
        self,
        *,
        mt5linux: str | None = None,
        python: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """`mt5linux` is "host:port" of an mt5linux server (None imports
        MetaTrader5 in the child); `timeout` bounds every call, in seconds."""
        self._argv = [python or sys.executable, str(BRIDGE_SCRIPT)]
        self._mt5linux = mt5linux
        if mt5linux:
            self._argv += ["--mt5linux", mt5linux]
        self.timeout = timeout
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._ids = 0
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> str:
        """Spawn the child; the MetaTrader5 package version it loaded."""
        await self.close()
        self._stderr.clear()
        if self._mt5linux:
            await _reach(self._mt5linux, self.timeout)
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            raise BridgeDown(f"Cannot start the MT5 bridge ({self._argv[0]}): {exc}.") from exc
        self._process = process
        self._stderr_task = asyncio.create_task(self._drain_stderr(process))
        try:
            async with asyncio.timeout(_READY_TIMEOUT):
                line = await process.stdout.readline()  # type: ignore[union-attr]
        except TimeoutError:
            await self.kill()
            raise BridgeDown("The MT5 bridge did not start within 30 s.") from None
        hello = _decode(line)
        if not hello or not hello.get("ready"):
            await self.close()
            reason = (hello or {}).get("error") or self._last_words() or "it exited"
            raise BridgeDown(f"The MT5 bridge could not load the terminal module: {reason}.")
        return str(hello.get("version", ""))

    async def call(
        self, name: str, *args: Any, call_timeout: float | None = None, **kwargs: Any
    ) -> tuple[Any, tuple[int, str] | None]:
        """`MetaTrader5.<name>(*args, **kwargs)` in the child: the result and,
        when the result is None or False, the terminal's `last_error()`.
        `call_timeout` replaces the bridge's timeout for this call."""
        timeout = call_timeout or self.timeout
        async with self._lock:
            process = self._process
            if process is None or process.returncode is not None:
                raise BridgeDown(self._gone_message())
            self._ids += 1
            request = {"id": self._ids, "call": name, "args": list(args), "kwargs": kwargs}
            try:
                async with asyncio.timeout(timeout):
                    process.stdin.write(json.dumps(request).encode() + b"\n")  # type: ignore[union-attr]
                    await process.stdin.drain()  # type: ignore[union-attr]
                    line = await process.stdout.readline()  # type: ignore[union-attr]
            except TimeoutError:
                await self._kill(process)
                raise BridgeTimeout(
                    f"The MT5 terminal did not answer {name} within "
                    f"{timeout:g} s; its bridge was stopped."
                ) from None
            except (ConnectionError, BrokenPipeError) as exc:
                await self._kill(process)
                raise BridgeLost(self._gone_message()) from exc
            response = _decode(line)
            if response is None:
                await self._kill(process)
                raise BridgeLost(self._gone_message())
            if not response.get("ok"):
                raise BridgeLost(f"The MT5 bridge failed in {name}: {response.get('exception')}.")
            error = response.get("last_error")
            return response.get("result"), (int(error[0]), str(error[1])) if error else None

    async def close(self) -> None:
        """Ask the child to leave (EOF on stdin), then make sure it has."""
        process = self._process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await process.wait()
        await self._kill(process)

    async def kill(self) -> None:
        if self._process is not None:
            await self._kill(self._process)

    async def _kill(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._stderr_task
            self._stderr_task = None

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _last_words(self) -> str:
        return " | ".join(line for line in self._stderr if line)[-500:]

    def _gone_message(self) -> str:
        code = self._process.returncode if self._process is not None else None
        words = self._last_words()
        why = f" (exit code {code})" if code is not None else ""
        return f"The MT5 bridge process is not running{why}." + (f" {words}" if words else "")


async def _reach(address: str, timeout: float) -> None:
    """Connect to the mt5linux server at "host:port" and leave; BridgeDown, in
    words that say what to start, when it does not accept within `timeout`."""
    host, _, port = address.rpartition(":")
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host or "localhost", int(port))
    except OSError as exc:  # TimeoutError included
        if isinstance(exc, TimeoutError):
            why = f"no answer within {timeout:g} s"
        else:
            why = exc.strerror or str(exc)
        raise BridgeDown(
            f"The mt5linux server at {address} does not answer ({why}): start it next to "
            "the terminal under Wine (python -m mt5linux ...) before the worker."
        ) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _decode(line: bytes) -> dict[str, Any] | None:
    if not line:
        return None
    try:
        decoded = json.loads(line)
    except json.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None
