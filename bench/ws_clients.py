"""The fan-out benchmark's clients: `count` real `websockets` clients in a
subprocess of their own, so their CPU is not the server's event loop.

Each client subscribes to the benchmark's channels, then counts the `event`
messages it receives and the delay from each event's `ts` to its arrival.
The parent starts them with `clients()`, which yields once all are
subscribed; closing their stdin stops them and they print their figures as
one JSON line.

    python -m bench.ws_clients '{"url": ..., "key": ..., "count": ..., "channels": [...]}'
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

# Connections opened at once: a burst of 200 handshakes overflows the listen backlog.
_CONNECT_BATCH = 20


@asynccontextmanager
async def clients(
    url: str, key: str | None, count: int, channels: tuple[str, ...]
) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
    """`count` clients connected and subscribed when this yields; the yielded
    function lets the last messages arrive, stops the clients and returns
    their figures."""
    spec = json.dumps({"url": url, "key": key, "count": count, "channels": channels})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ws_clients",
        spec,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    ready = await asyncio.wait_for(stdout.readline(), 120)
    if ready.strip() != b"ready":
        process.kill()
        await process.wait()
        raise RuntimeError(f"the clients did not start: {ready!r}")

    async def stop() -> dict[str, Any]:
        await asyncio.sleep(0.5)  # the last queued messages arrive
        stdin.close()
        line = await asyncio.wait_for(stdout.readline(), 60)
        await process.wait()
        result: dict[str, Any] = json.loads(line)
        return result

    try:
        yield stop
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


class _Tally:
    """What every client saw, in one place (one event loop, no locks)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.events = 0
        self.resyncs = 0
        self.closed = 0
        self.first = 0.0
        self.last = 0.0

    def summary(self, cpu: float) -> dict[str, Any]:
        elapsed = self.last - self.first
        delays = sorted(self.delays)
        return {
            "received": self.events,
            "rate": round(self.events / elapsed) if elapsed > 0 else 0,
            "p50_ms": round(statistics.median(delays) * 1000, 1) if delays else None,
            "p99_ms": round(delays[int(len(delays) * 0.99)] * 1000, 1) if delays else None,
            "resyncs": self.resyncs,
            "closed_early": self.closed,
            "client_cpu": round(cpu, 2),
        }


async def _subscribe(
    url: str, headers: dict[str, str], channels: tuple[str, ...]
) -> ClientConnection:
    ws = await websockets.connect(url, additional_headers=headers, open_timeout=60)
    for channel in channels:
        await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
    snapshots = 0
    while snapshots < len(channels):
        snapshots += '"type":"snapshot"' in str(await ws.recv())
    return ws


async def _consume(ws: ClientConnection, tally: _Tally) -> None:
    delays = tally.delays
    try:
        async for raw in ws:
            text = str(raw)
            if text.startswith('{"type":"event"'):
                now = time.time()
                start = text.index('"ts":"') + 6
                stamp = datetime.fromisoformat(text[start : text.index('"', start)])
                delays.append(now - stamp.timestamp())
                tally.events += 1
                if not tally.first:
                    tally.first = now
                tally.last = now
            elif text.startswith('{"type":"resync"'):
                tally.resyncs += 1
    except websockets.ConnectionClosed:
        tally.closed += 1


async def _main(url: str, key: str | None, count: int, channels: tuple[str, ...]) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    connections: list[ClientConnection] = []
    for n in range(0, count, _CONNECT_BATCH):
        batch = min(_CONNECT_BATCH, count - n)
        connections += await asyncio.gather(
            *(_subscribe(url, headers, channels) for _ in range(batch))
        )
    tally = _Tally()
    tasks = [asyncio.create_task(_consume(ws, tally)) for ws in connections]
    print("ready", flush=True)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # The figures first: closing 200 sockets is not part of them.
    print(json.dumps(tally.summary(cpu / wall)), flush=True)
    await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)


def main() -> None:
    spec = json.loads(sys.argv[1])
    asyncio.run(_main(spec["url"], spec["key"], spec["count"], tuple(spec["channels"])))


if __name__ == "__main__":
    main()
